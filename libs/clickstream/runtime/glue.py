"""The AWS Glue adapter: Glue's arguments, GlueContext, job.init and job.commit.

This is the only module that imports awsglue, and only inside its functions: awsglue exists on
Glue alone (its GlueContext needs Glue's JVM jars), so EMR and local runs never load it.

The call sequence of a run:
1. getResolvedOptions(--JOB_NAME, --env [, --conf_overrides]); settings loaded (fail fast);
   Glue's --job-bookmark-option becomes the bookmark_option setting;
2. SparkContext.getOrCreate(), GlueContext, Job(glue_context), job.init(JOB_NAME, args);
3. runner.run_job with GlueInputs: the project's bookmark store under the lake picks the new S3
   objects, exactly as on EMR: the job lists the raw objects once, reads the new ones once with
   the Firehose reader, writes, registers partitions, and records what it processed only after
   the write (titles from JDBC use Glue's JDBC bookmark on titles_jdbc_key, jdbc_frame);
4. job.commit(), only after run_job returned. A failure propagates before it, so Glue marks the
   run failed and nothing is recorded as processed.

Why not Glue's own bookmark: it only learns which objects are new by reading them through a
Glue reader (`from_catalog` with `attachFilename`), so every new object would be read twice, and
the names it reports can only be matched to the job's own listing after the fact: an object
Firehose delivers between the two is either skipped for good by Glue's commit or fails the run.
The project's store keys on the one listing the job processes, so an object that arrives during
a run is simply new for the next run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clickstream.bookmarks import HourWindow
from clickstream.config import ConfigError, Settings, load_settings
from clickstream.dq_rules import DataQualityFailed
from clickstream.pipeline.context import BookmarkInputs, JobContext, JobOutcome, Selection
from clickstream.spark import apply_sql_conf

BOOKMARK_FLAG = "--job-bookmark-option"
OVERRIDES_FLAG = "--conf_overrides"


def transformation_ctx(job: str, source: str) -> str:
    """The stable transformation_ctx of a job's Glue source: Glue keys its bookmark on it."""
    return f"{job}_{source}"


def has_flag(argv: Sequence[str], flag: str) -> bool:
    """Whether argv carries the flag, as `--flag value` or `--flag=value`."""
    return any(arg == flag or arg.startswith(f"{flag}=") for arg in argv)


def parse_overrides(text: str) -> list[str]:
    """--conf_overrides 'k=v;k=v' as a list of KEY=VALUE items (blanks skipped)."""
    return [item.strip() for item in text.split(";") if item.strip()]


def glue_settings(argv: Sequence[str]) -> tuple[dict[str, Any], Settings]:
    """Glue's resolved arguments and the settings they select (conf files from --extra-files).

    --conf_overrides adds KEY=VALUE items; Glue's --job-bookmark-option, when passed, becomes
    bookmark_option (last, so it wins), and the derived jobs' change-set bookmarks follow it.
    """
    from awsglue.utils import getResolvedOptions

    names = ["JOB_NAME", "env"]
    if has_flag(argv, OVERRIDES_FLAG):
        names.append(OVERRIDES_FLAG.removeprefix("--"))
    # getResolvedOptions skips args[0], the script path in sys.argv.
    args = dict(getResolvedOptions(["glue-job-script", *argv], names))
    overrides = parse_overrides(args.get("conf_overrides") or "")
    if has_flag(argv, BOOKMARK_FLAG):
        overrides.append(f"bookmark_option={args['job_bookmark_option']}")
    return args, load_settings(args["env"], overrides)


@dataclass
class GlueInputs:
    """The project's bookmark store for S3 objects (as on EMR); Glue's JDBC bookmark for JDBC."""

    glue_context: Any
    settings: Settings

    def select(
        self, job: str, source: str, candidates: Mapping[str, str] | HourWindow
    ) -> Selection:
        """New or changed candidates per the project's bookmark store under the lake (raw
        objects through an HourWindow: only the hours of the lookback window are listed)."""
        spark = self.glue_context.spark_session
        return BookmarkInputs(spark, self.settings).select(job, source, candidates)

    def jdbc_frame(self, job: str, source: str, settings: Settings) -> Any:
        """Rows Glue's JDBC bookmark on titles_jdbc_key reports as new (titles_source=jdbc);
        the Glue connection titles_jdbc_glue_connection holds the URL and the credentials."""
        if not settings.titles_jdbc_glue_connection:
            raise ConfigError(
                "titles_jdbc_glue_connection is not set: name the Glue connection to the database"
            )
        frame = self.glue_context.create_dynamic_frame.from_options(
            connection_type="postgresql",
            connection_options={
                "useConnectionProperties": "true",
                "connectionName": settings.titles_jdbc_glue_connection,
                "dbtable": settings.titles_jdbc_table,
                "jobBookmarkKeys": [settings.titles_jdbc_key],
                "jobBookmarkKeysSortOrder": "asc",
            },
            transformation_ctx=transformation_ctx(job, source),
        )
        return frame.toDF()


def run_glue_job(job: str, argv: Sequence[str]) -> int:
    """Run one pipeline job (every job for PIPELINE) as an AWS Glue job; job.commit() only
    after it succeeded."""
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from pyspark.context import SparkContext

    from clickstream.lake_rules import check_rules
    from clickstream.pipeline import PIPELINE
    from clickstream.pipeline.runner import (
        acquire_job_leases,
        record_job_run,
        resolve_jobs,
        run_job,
        run_pipeline,
    )

    if job == PIPELINE:
        args, settings = glue_settings(argv)
        check_rules(settings)  # before Spark starts; run_pipeline takes each job's leases
        glue_context = GlueContext(SparkContext.getOrCreate())
        spark = glue_context.spark_session
        glue_job = Job(glue_context)
        glue_job.init(args["JOB_NAME"], args)
        apply_sql_conf(spark, settings)
        inputs = GlueInputs(glue_context, settings)
        try:
            summary = run_pipeline(settings, spark=spark, inputs=inputs)
        except DataQualityFailed:
            glue_job.commit()  # every job's data is committed: only the alarm remains
            raise
        glue_job.commit()  # only once every job succeeded
        print(json.dumps({"glue_job": args["JOB_NAME"], **summary["totals"]}, default=str))
        return 0
    resolve_jobs([job])
    args, settings = glue_settings(argv)
    # As every run does: the lake's pinned rules and the job's leases, before Spark starts.
    check_rules(settings)
    leases = acquire_job_leases(settings, job, print)
    try:
        leases.keep_renewed(settings.lease_stale_minutes * 60 / 4)
        glue_context = GlueContext(SparkContext.getOrCreate())
        spark = glue_context.spark_session
        glue_job = Job(glue_context)
        glue_job.init(args["JOB_NAME"], args)
        apply_sql_conf(spark, settings)
        ctx = JobContext(spark, settings, inputs=GlueInputs(glue_context, settings))

        # job.commit() only after run_job returned: an exception reaches Glue without it (the
        # bookmark would otherwise move past inputs whose outputs were never written).
        def run(run_id: str) -> JobOutcome:
            ctx.run_id = run_id
            return run_job(ctx, job, leases)

        try:
            outcome = record_job_run(settings, job, run)
        except DataQualityFailed:
            glue_job.commit()  # the data is committed: only the alarm remains
            raise
        glue_job.commit()
    finally:
        leases.release()
    print(json.dumps({"job": job, "glue_job": args["JOB_NAME"], **outcome.metrics}, default=str))
    return 0
