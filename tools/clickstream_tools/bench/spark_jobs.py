"""Spark jobs and stages per pipeline job: a count that does not depend on the machine's speed.

Each pipeline job's Spark work runs under a job group named after it (``job_group``); once the
run is over, ``jobs_by_group`` reads from Spark's status tracker how many jobs each group started
and how many stages those jobs had (skipped stages, whose shuffle output was reused, apart).
Spark keeps the last ``spark.ui.retainedJobs`` jobs (1,000 by default): a run with more than that
is undercounted, so the counts are for runs like the hourly one, not for backfills.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from pyspark.sql import SparkSession


def set_group(spark: SparkSession, group: str | None) -> None:
    """Run the following Spark jobs of this thread under group (None: no group)."""
    sc = spark.sparkContext
    if group is None:
        sc.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
        sc.setLocalProperty("spark.job.description", None)  # type: ignore[arg-type]
    else:
        sc.setJobGroup(group, group)


@contextmanager
def job_group(spark: SparkSession, group: str) -> Iterator[None]:
    """The Spark jobs started inside run under group."""
    set_group(spark, group)
    try:
        yield
    finally:
        set_group(spark, None)


def jobs_by_group(spark: SparkSession, groups: Iterable[str]) -> dict[str, dict[str, int]]:
    """Per group: the Spark jobs it started, their stages, and the stages that ran (not skipped)."""
    tracker = spark.sparkContext.statusTracker()
    found = {}
    for group in groups:
        job_ids = tracker.getJobIdsForGroup(group)
        stage_ids = {
            s for j in job_ids if (info := tracker.getJobInfo(j)) is not None for s in info.stageIds
        }
        ran = 0
        for s in stage_ids:
            stage = tracker.getStageInfo(s)
            if stage is not None and stage.numCompletedTasks > 0:
                ran += 1
        found[group] = {"jobs": len(job_ids), "stages": len(stage_ids), "stages_run": ran}
    return found
