"""The title_id -> dt index: built once, from the stored events, and free on a lake without any."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from clickstream.reference import title_dates
from clickstream.tables import EVENTS
from clickstream.writer import read_table, table_schema, write_table

GROUP = "test_title_dates"


def _jobs_run_by(spark: SparkSession, build: Callable[[], None]) -> int:
    """How many Spark jobs build() ran (tagged with a job group of this thread)."""
    sc = spark.sparkContext
    sc.setJobGroup(GROUP, "title_dates.build")
    try:
        build()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
        sc.setLocalProperty("spark.job.description", None)  # type: ignore[arg-type]
    return len(sc.statusTracker().getJobIdsForGroup(GROUP))


def test_a_lake_without_events_gets_the_index_mark_without_a_spark_job(
    spark: SparkSession, tmp_path: Path
):
    # GIVEN a lake with no curated events (a first run)
    lake = str(tmp_path)
    # WHEN load_titles builds the index
    jobs = _jobs_run_by(spark, lambda: title_dates.build(spark, lake))
    # THEN it is marked built, holds no date, and no Spark job ran
    assert title_dates.exists(spark, lake)
    assert title_dates.indexed_dts(spark, lake) == []
    assert jobs == 0


def test_a_lake_curated_before_the_index_existed_gets_it_from_its_events(
    spark: SparkSession, tmp_path: Path, assert_frames_equal: Callable[..., None]
):
    # GIVEN events stored on two dates, one of them twice on a title, one without a title
    lake = str(tmp_path)
    rows = spark.createDataFrame(
        [("e1", "t1", "2026-03-01"), ("e2", "t1", "2026-03-01"), ("e3", None, "2026-03-02")],
        "event_id string, title_id string, dt string",
    )
    missing = [f for f in table_schema(EVENTS).fields if f.name not in rows.columns]
    write_table(
        rows.select("*", *(F.lit(None).cast(f.dataType).alias(f.name) for f in missing)),
        lake,
        EVENTS,
    )
    # WHEN the index is built
    title_dates.build(spark, lake)
    # THEN it holds each (dt, title_id) once; the date without a title has no row
    expected = spark.createDataFrame([("t1", "2026-03-01")], "title_id string, dt string")
    assert_frames_equal(read_table(spark, lake, title_dates.INDEX), expected)
    assert title_dates.indexed_dts(spark, lake) == ["2026-03-01"]
