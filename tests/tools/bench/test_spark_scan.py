"""The Spark baselines of make bench read every record, and core does the pipeline's core work."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from clickstream.config import Settings, load_settings
from clickstream.pipeline.runner import run_pipeline
from clickstream.tables import EVENTS
from clickstream.writer import read_table
from clickstream_tools.bench.spark_scan import core, scan
from clickstream_tools.sample import SampleReport, generate_sample

pytestmark = pytest.mark.slow

CORE_COLUMNS = ("event_id", "user_id", "event_type", "event_time", "title_id", "session_id", "dt")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, SampleReport]:
    """A small sample lake (every raw layout, re-deliveries, malformed records), no catalog."""
    root = tmp_path_factory.mktemp("baseline-lake")
    report = generate_sample(root, events=1200, users=30, days=2, seed=3)
    return load_settings("local", [f"lake_root={root}", "catalog=none"]), report


def test_scan_writes_every_raw_record(
    spark: SparkSession, lake: tuple[Settings, SampleReport], tmp_path: Path
) -> None:
    # GIVEN a raw zone with concatenated, pretty-printed, gzip and malformed records
    settings, report = lake
    # WHEN the scan baseline runs
    result = scan(spark, settings, settings.path("raw/clickstream"), str(tmp_path / "scan"))
    # THEN it read and wrote every record, valid or not
    assert result["records_read"] == report.records
    assert result["valid"] == report.records - report.malformed
    assert spark.read.parquet(str(tmp_path / "scan")).count() == report.records


def test_core_writes_the_pipelines_events_without_enrichment(
    spark: SparkSession,
    lake: tuple[Settings, SampleReport],
    tmp_path: Path,
    assert_frames_equal: Callable[..., None],
) -> None:
    # GIVEN the same raw zone, curated by the pipeline
    settings, report = lake
    run_pipeline(settings, spark=spark, echo=lambda _: None)
    # WHEN the core baseline runs on it
    result = core(spark, settings, settings.path("raw/clickstream"), str(tmp_path / "core"))
    # THEN it wrote one row per unique event, with the pipeline's sessions and dates
    assert result["rows"] == report.unique_events
    written = spark.read.parquet(str(tmp_path / "core")).withColumn(
        "dt", F.col("dt").cast("string")
    )
    curated = read_table(spark, settings.lake, EVENTS)
    assert_frames_equal(written.select(*CORE_COLUMNS), curated.select(*CORE_COLUMNS))
