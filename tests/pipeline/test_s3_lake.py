"""The lake on S3: lake_root=s3://bucket/prefix through S3A, on a moto server over HTTP."""

from __future__ import annotations

import json
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
from clickstream.writer import stored_dts
from tests.delta_rs import delta_table, read_delta
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
    """A local run on an S3 lake that registers its tables in the Glue Data Catalog (moto's)."""
    return load_settings(
        "local",
        [
            f"lake_root={lake}",
            "catalog=glue",
            f"database=curated_{table_format}",
            f"table_format={table_format}",
            *overrides,
        ],
    )


def glue_partitions(database: str, table: str) -> list[str]:
    glue = boto3.client("glue")
    pages = glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table)
    return sorted(p["Values"][0] for page in pages for p in page["Partitions"])


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
    dts = sorted(stored_dts(spark, settings.lake, EVENTS))
    glue = boto3.client("glue")
    if table_format == "parquet":  # and the Glue Data Catalog lists every partition
        assert glue_partitions(settings.database, EVENTS.name) == dts
        return
    # and an independent reader sees the same tables over S3
    for table in ih.COMPARED:
        actual = read_delta(make_frame, settings.path(table.location), table, moto)
        assert_frames_equal(
            without_raw_prefix(actual) if "source_file" in actual.columns else actual,
            ih.comparable(spark, full, table),
        )
    # and Glue holds the Delta table for Athena and the manifest table, partitioned, for Spectrum
    events = glue.get_table(DatabaseName=settings.database, Name="events")["Table"]
    assert events["Parameters"]["table_type"] == "DELTA" and not events.get("PartitionKeys")
    assert glue_partitions(settings.database, "events_manifest") == dts
    # and the manifests list exactly the live files of each date (the folders hold more)
    live = delta_table(settings.path(EVENTS.location), moto).get_add_actions(flatten=True)
    s3 = boto3.client("s3")
    for dt in dts:
        files = {
            (f"{settings.path(EVENTS.location)}/{a['path']}", a["size_bytes"])
            for a in live.to_pylist()
            if a["partition.dt"] == dt
        }
        key = f"lake-delta/{EVENTS.location}/_symlink_format_manifest/dt={dt}/manifest"
        symlinks = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().split()
        assert {u.replace("s3a://", "s3://") for u in symlinks} == {f for f, _ in files}
        copy = json.loads(
            s3.get_object(
                Bucket=BUCKET,
                Key=f"lake-delta/{EVENTS.location}/_redshift_manifest/dt={dt}.manifest",
            )["Body"].read()
        )
        assert {(e["url"], e["meta"]["content_length"]) for e in copy["entries"]} == files
