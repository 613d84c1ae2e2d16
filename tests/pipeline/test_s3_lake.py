"""The lake on S3: lake_root=s3://bucket/prefix through S3A, on a moto server over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from clickstream.config import Settings, load_settings
from clickstream.pipeline.runner import run_pipeline
from clickstream.spark import get_spark
from clickstream.tables import EVENTS
from tests.delta_rs import read_delta
from tests.pipeline import incremental_helpers as ih
from tests.pipeline.test_crash_recovery import SimulatedCrash, crash_after_events_write

pytestmark = pytest.mark.slow

BUCKET = "clickstream-lake"
# Two arrival batches cut at midnight UTC: sessions, late events and re-deliveries cross them.
BOUNDARY = "2026/03/02/00"


def upload(root: Path, files: list[Path], lake: str) -> None:
    """Put local lake files (raw objects, titles) at the same relative keys under an S3 lake."""
    bucket, _, prefix = lake.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3")
    for path in files:
        s3.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(root)}")


def s3_settings(lake: str, table_format: str, *overrides: str) -> Settings:
    return load_settings(
        "local", [f"lake_root={lake}", "catalog=none", f"table_format={table_format}", *overrides]
    )


def without_raw_prefix(df: DataFrame) -> DataFrame:
    return df.withColumn(
        "source_file", F.regexp_replace("source_file", r"^.*/raw/clickstream/", "")
    )


@pytest.mark.parametrize("table_format", ["parquet", "delta"])
def test_s3_lake_in_batches_with_a_crash_and_a_rerun_gives_the_full_run(
    spark: SparkSession,
    moto: str,
    sample_lake: Path,
    full_runs: Callable[[str], Settings],
    table_format: str,
    monkeypatch: pytest.MonkeyPatch,
    make_frame: Callable[..., DataFrame],
    assert_frames_equal: Callable[..., None],
) -> None:
    # GIVEN a bucket on the moto server and only the standard AWS environment variables
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    lake = f"s3://{BUCKET}/lake-{table_format}"
    settings = s3_settings(lake, table_format)
    session = get_spark(settings)  # passes the AWS environment on to S3A
    assert session is spark
    upload(sample_lake, sorted((sample_lake / "ref").rglob("*.csv")), lake)
    first, second = ih.split_by_arrival(ih.raw_objects(sample_lake), sample_lake, [BOUNDARY])
    # WHEN the first batch runs, then the second batch's run dies after writing events only
    upload(sample_lake, first, lake)
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    upload(sample_lake, second, lake)
    with monkeypatch.context() as patch:
        crash_after_events_write(patch, "curate_events")
        with pytest.raises(SimulatedCrash):
            run_pipeline(settings, spark=spark, echo=ih.quiet)
    # and the next run goes on normally, and one more run finds nothing new
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    rerun = run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN the tables, read back through S3, equal one local full run: nothing lost or doubled
    assert rerun["totals"]["records_read"] == 0
    full = full_runs("utc")
    ih.assert_same_tables(spark, full, settings, assert_frames_equal)
    events = ih.comparable(spark, settings, EVENTS)
    assert events.groupBy("event_id").count().where(F.col("count") > 1).count() == 0
    if table_format == "delta":  # and an independent reader sees the same over S3
        for table in ih.COMPARED:
            actual = read_delta(make_frame, settings.path(table.location), table, moto)
            assert_frames_equal(
                without_raw_prefix(actual) if "source_file" in actual.columns else actual,
                ih.comparable(spark, full, table),
            )
