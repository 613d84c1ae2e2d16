"""Incremental runs over arrival batches give exactly what one full run gives, in both formats."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from clickstream.config import Settings
from clickstream.firehose_reader import read_firehose, split_valid
from clickstream.pipeline.runner import run_pipeline
from clickstream.raw_objects import list_raw_objects
from tests.pipeline import incremental_helpers as ih

pytestmark = pytest.mark.slow

# Three batches cut at midnight UTC and at midnight in Seoul (15:00 UTC), so sessions, late
# events and re-deliveries cross batches.
BOUNDARIES = ["2026/03/02/00", "2026/03/02/15"]


def event_ids(spark: SparkSession, root: Path, objects: list[Path]) -> set[str]:
    wanted = {ih.relative(o, root) for o in objects}
    raw = [
        o
        for o in list_raw_objects(spark, str(root / "raw" / "clickstream"))
        if o.path.split("raw/clickstream/")[-1] in wanted
    ]
    valid, _ = split_valid(read_firehose(spark, raw))
    return {r[0] for r in valid.select("event_id").collect()}


@pytest.mark.parametrize(
    ("variant", "table_format", "planning"),
    [
        ("seoul_with_repeat_window", "parquet", []),
        ("seoul_with_repeat_window", "delta", []),
        ("seoul_with_repeat_window", "iceberg", []),
        # every batch's ranges planned by Spark instead of on the driver
        ("seoul_with_repeat_window", "parquet", ["plan_on_driver_max_rows=0"]),
    ],
)
def test_batches_give_exactly_the_full_run(
    spark: SparkSession,
    sample_lake: Path,
    full_runs: Callable[[str], Settings],
    tmp_path: Path,
    variant: str,
    table_format: str,
    planning: list[str],
    make_frame: Callable[..., DataFrame],
    assert_frames_equal: Callable[..., None],
) -> None:
    objects = ih.raw_objects(sample_lake)
    batches = [b for b in ih.split_by_arrival(objects, sample_lake, BOUNDARIES) if b]
    # GIVEN at least three arrival batches, with copies of one event in different batches
    assert len(batches) >= 3
    ids = [event_ids(spark, sample_lake, b) for b in batches]
    assert any(ids[i] & ids[j] for i in range(len(ids)) for j in range(i + 1, len(ids)))
    # WHEN the objects arrive batch by batch, the pipeline running after each
    lake = tmp_path / "incremental"
    ih.copy_reference(sample_lake, lake)
    incremental = ih.lake_settings(
        lake, [*ih.VARIANTS[variant], f"table_format={table_format}", *planning]
    )
    dates_recomputed = 0
    for batch in batches:
        ih.copy_objects(batch, sample_lake, lake)
        summary = run_pipeline(incremental, spark=spark, echo=ih.quiet)
        dates_recomputed += summary["jobs"]["daily_active_users"]["days"]
    # THEN events, sessions (and their ids), DAU and quarantine equal the full run's (a Parquet
    # run: the formats hold the same rows)
    assert dates_recomputed > 3  # earlier dates were recomputed when late events arrived
    full = full_runs(variant)
    ih.assert_same_tables(spark, full, incremental, assert_frames_equal)
    # and delta-rs, a reader independent of Spark, reads the same Delta tables, whose Spectrum
    # and COPY manifests list exactly their live files
    if table_format == "delta":
        ih.assert_delta_tables_as_delta_rs_reads_them(
            spark, full, incremental, make_frame, assert_frames_equal
        )
        ih.assert_manifests_current(incremental)
