"""curate_events' parse cache: partitioned by event_id only when dedup sees its rows alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from clickstream.pipeline.context import JobContext
from clickstream.pipeline.curate.parse_cache import BASE_COLUMNS, cached_parse
from clickstream.raw_objects import list_raw_objects
from clickstream.tables import PARTITION_COLUMN
from clickstream.transforms import dedup_events
from tests.pipeline import incremental_helpers as ih


def _shuffles_outside_cache(df: DataFrame) -> list[str]:
    """Exchange lines of the physical plan above the cached relation (its own plan excluded)."""
    plan = df._jdf.queryExecution().executedPlan().toString()
    above_cache = plan.split("InMemoryTableScan", 1)[0]
    return [line.strip() for line in above_cache.splitlines() if "Exchange" in line]


@pytest.fixture(scope="module")
def parse(spark: SparkSession, sample_lake: Path) -> Callable[[bool], DataFrame]:
    settings = ih.lake_settings(sample_lake, ih.VARIANTS["utc"])
    ctx = JobContext(spark, settings)
    objects = list_raw_objects(spark, settings.path("raw/clickstream"))

    def cached(by_event_id: bool) -> DataFrame:
        return cached_parse(ctx, objects, by_event_id=by_event_id)

    return cached


def _dedup_of_valid(parsed: DataFrame) -> DataFrame:
    return dedup_events(
        parsed.where(F.col("reason").isNull()).select(*BASE_COLUMNS, PARTITION_COLUMN)
    )


def test_full_run_cache_by_event_id_lets_dedup_skip_its_shuffle(
    parse: Callable[[bool], DataFrame],
) -> None:
    # GIVEN the parse cached by event_id (nothing stored: the run is full) and materialized,
    # as curate_events' stats aggregation does before it deduplicates
    parsed = parse(True)
    parsed.count()
    # WHEN the valid rows are deduplicated on their own
    deduped = _dedup_of_valid(parsed)
    # THEN no shuffle is planned above the cache
    assert _shuffles_outside_cache(deduped) == []
    parsed.unpersist()


def test_unpartitioned_cache_leaves_dedup_its_shuffle_by_event_id(
    parse: Callable[[bool], DataFrame],
) -> None:
    # GIVEN the parse cached as read (stored events exist: dedup will see a union)
    parsed = parse(False)
    parsed.count()
    # WHEN the valid rows are deduplicated
    shuffles = _shuffles_outside_cache(_dedup_of_valid(parsed))
    # THEN dedup plans its own shuffle by event_id
    assert len(shuffles) == 1 and "hashpartitioning(event_id" in shuffles[0], shuffles
    parsed.unpersist()


def test_partitioning_the_cache_changes_no_row(
    parse: Callable[[bool], DataFrame], assert_frames_equal: Callable[..., None]
) -> None:
    # GIVEN the same objects cached both ways
    by_event_id, as_read = parse(True), parse(False)
    # THEN both caches hold the same records (the raw text only on rejected ones)
    assert_frames_equal(by_event_id, as_read)
    assert by_event_id.where(F.col("reason").isNull() & F.col("record").isNotNull()).count() == 0
    by_event_id.unpersist()
    as_read.unpersist()
