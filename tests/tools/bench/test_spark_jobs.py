"""The bench's Spark job count: each pipeline job's Spark jobs, counted by job group."""

from __future__ import annotations

from pyspark.sql import SparkSession

from clickstream_tools.bench.scenarios import render_scenarios
from clickstream_tools.bench.spark_jobs import job_group, jobs_by_group


def test_each_group_counts_its_own_spark_jobs_and_stages(spark: SparkSession) -> None:
    # GIVEN one aggregation run under group a, the same twice under group b, one under no group
    # (a new DataFrame each time: collecting one DataFrame again reuses its shuffle, with fewer
    # jobs)
    numbers = spark.range(50)

    def collect() -> None:
        numbers.groupBy((numbers.id % 3).alias("k")).count().collect()

    with job_group(spark, "h17d-a"):
        collect()
    with job_group(spark, "h17d-b"):
        collect()
        collect()
    collect()
    # WHEN the jobs are counted by group
    found = jobs_by_group(spark, ["h17d-a", "h17d-b", "h17d-none"])
    # THEN b started exactly twice a's jobs and stages, and a group that ran nothing has none
    a, b = found["h17d-a"], found["h17d-b"]
    assert a["jobs"] > 0 and a["stages_run"] > 0
    assert (b["jobs"], b["stages_run"]) == (2 * a["jobs"], 2 * a["stages_run"])
    assert found["h17d-none"] == {"jobs": 0, "stages": 0, "stages_run": 0}


def test_the_scenario_table_prints_the_hourly_runs_spark_jobs_per_job() -> None:
    # GIVEN an hourly run whose curate_events made 34 Spark jobs and build_sessions 4
    def run(jobs: dict[str, dict[str, int]] | None) -> dict[str, object]:
        return {
            "ok": True,
            "seconds": 10.0,
            "start_seconds": 3.0,
            "process_seconds": 15.0,
            "records_read": 120,
            "load_before": [1.0, 1.0, 1.0],
            "spark_jobs": jobs,
        }

    spark_jobs = {
        "curate_events": {"jobs": 34, "stages": 51, "stages_run": 34},
        "build_sessions": {"jobs": 4, "stages": 7, "stages_run": 4},
    }
    hist = {"sizes": {"1008": {"idle": run(None), "hourly": run(spark_jobs)}}}
    # WHEN the scenario table is rendered
    lines = render_scenarios(hist, None).splitlines()
    # THEN the hourly row shows the run's 38 Spark jobs, and a line names them per job
    hourly = next(line for line in lines if line.startswith("history 1,008 objects: hourly"))
    assert hourly.split()[-2] == "38"
    assert lines[-1] == (
        "Spark jobs (stages run) of the hourly run, 1,008 objects: "
        "curate_events 34 (34), build_sessions 4 (4)"
    )
