"""Global dedup across batches: one row per event_id, whatever user or time a later copy names."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from clickstream.config import Settings
from clickstream.pipeline.runner import run_pipeline
from clickstream.tables import EVENTS
from tests.pipeline import incremental_helpers as ih
from tests.pipeline.hostile_lake import HostileCopy, build_hostile_lake

pytestmark = pytest.mark.slow

# Arrival batches: one per day, and three uneven ones (cut in the middle of days).
SPLITS = {
    "daily": ["2026/03/02/00", "2026/03/03/00", "2026/03/04/00", "2026/03/05/00"],
    "uneven": ["2026/03/01/13", "2026/03/03/09"],
}


@pytest.fixture(scope="module")
def hostile(
    spark: SparkSession, sample_lake: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[HostileCopy], Settings]:
    """The hostile raw zone, its copies, and one full run over it."""
    source = tmp_path_factory.mktemp("hostile-raw")
    copies = build_hostile_lake(spark, sample_lake, source)
    full = tmp_path_factory.mktemp("hostile-full")
    ih.copy_reference(source, full)
    ih.copy_objects(ih.raw_objects(source), source, full)
    settings = ih.lake_settings(full, [])
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    return source, copies, settings


def _kept(spark: SparkSession, settings: Settings, ids: list[str]) -> dict[str, tuple[str, object]]:
    rows = ih.comparable(spark, settings, EVENTS).where(F.col("event_id").isin(ids)).collect()
    return {r["event_id"]: (r["user_id"], r["event_time"].replace(tzinfo=UTC)) for r in rows}


@pytest.mark.parametrize("split", sorted(SPLITS))
def test_hostile_copies_across_batches_give_exactly_the_full_run(
    spark: SparkSession,
    hostile: tuple[Path, list[HostileCopy], Settings],
    tmp_path: Path,
    split: str,
    assert_frames_equal: Callable[..., None],
) -> None:
    source, copies, full = hostile
    # GIVEN 3% of events copied 1-3 days later under another user or days away, half of the
    # copies in late-delivered objects named earlier than the original
    assert len(copies) >= 20 and {c.named for c in copies} == {"earlier", "later"}
    batches = [b for b in ih.split_by_arrival(ih.raw_objects(source), source, SPLITS[split]) if b]
    assert len(batches) == len(SPLITS[split]) + 1
    # WHEN the objects arrive batch by batch, the pipeline running after each
    lake = tmp_path / "incremental"
    ih.copy_reference(source, lake)
    settings = ih.lake_settings(lake, [])
    for batch in batches:
        ih.copy_objects(batch, source, lake)
        run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN every table equals the full run's, with one row per event_id
    ih.assert_same_tables(spark, full, settings, assert_frames_equal)
    events = ih.comparable(spark, settings, EVENTS)
    assert events.groupBy("event_id").count().where(F.col("count") > 1).count() == 0
    # AND a copy named earlier replaced the stored one (both kinds), a later copy did not
    kept = _kept(spark, settings, [c.event_id for c in copies])
    for copy in copies:
        holds_copy = kept[copy.event_id] == (copy.user_id, copy.event_time)
        assert holds_copy == (copy.named == "earlier"), copy
