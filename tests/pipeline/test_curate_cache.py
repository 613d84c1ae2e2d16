"""curate_events' parse cache and the core after it: one shuffle of full rows (by user_id) for
dedup and sessions together, the copies naming different users found by a key-only shuffle."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from clickstream.pipeline.context import JobContext
from clickstream.pipeline.curate.parse_cache import BASE_COLUMNS, cached_parse
from clickstream.raw_objects import list_raw_objects
from clickstream.tables import PARTITION_COLUMN
from clickstream.transforms import dedup_events, sessionize
from clickstream.transforms.dedup import COPY_ORDER
from tests.pipeline import incremental_helpers as ih

pytestmark = pytest.mark.slow


def _exchanges(df: DataFrame) -> list[str]:
    """Exchange lines of the final physical plan (AQE prints the final plan, then the initial
    one), the cached relation's own plan excluded."""
    plan = df._jdf.queryExecution().executedPlan().toString().split("Initial Plan")[0]
    return [line.strip() for line in plan.splitlines() if "Exchange" in line]


@pytest.fixture(scope="module")
def parsed(spark: SparkSession, sample_lake: Path) -> DataFrame:
    """The sample lake's objects parsed and cached, materialized as curate_events does."""
    settings = ih.lake_settings(sample_lake, ih.VARIANTS["utc"])
    ctx = JobContext(spark, settings)
    objects = list_raw_objects(spark, settings.path("raw/clickstream"))
    cached = cached_parse(ctx, objects)
    cached.count()
    return cached


def _valid(parsed: DataFrame) -> DataFrame:
    return parsed.where(F.col("reason").isNull()).select(*BASE_COLUMNS, PARTITION_COLUMN)


def test_dedup_and_sessions_shuffle_the_full_rows_once_by_user(parsed: DataFrame) -> None:
    # WHEN the cached valid rows are deduplicated and sessionized, as a full run does (no cap:
    # sessionize then reads its input once)
    curated = sessionize(dedup_events(_valid(parsed)), max_session_hours=None)
    curated.collect()
    # THEN the rows move once, by user_id: dedup's shuffle is the one sessions need (the copies
    # naming different users were found by an action on keys alone, before)
    shuffles = _exchanges(curated)
    assert len(shuffles) == 1 and "hashpartitioning(user_id" in shuffles[0], shuffles


def test_with_the_cap_no_shuffle_goes_by_event_id(parsed: DataFrame) -> None:
    # WHEN sessionized with the cap, whose join reads the sessionized rows a second time
    curated = sessionize(dedup_events(_valid(parsed)))
    curated.collect()
    # THEN every shuffle is by user_id (the cap's branch repeats dedup's: Spark does not reuse
    # it; it did not before this layout either), none by event_id
    shuffles = [s for s in _exchanges(curated) if "Broadcast" not in s]
    assert shuffles and all("hashpartitioning(user_id" in s for s in shuffles), shuffles


def test_the_one_shuffle_keeps_the_copy_a_global_dedup_keeps(
    parsed: DataFrame, assert_frames_equal: Callable[..., None]
) -> None:
    # GIVEN the sample's valid rows (re-deliveries: copies in several objects)
    valid = _valid(parsed)
    # WHEN deduplicated by the one-shuffle rule and by a plain window over event_id
    order = [F.col(c).asc_nulls_last() for c in COPY_ORDER] + [
        F.col(c).asc_nulls_last() for c in valid.columns if c not in (*COPY_ORDER, "event_id")
    ]
    first = F.row_number().over(Window.partitionBy("event_id").orderBy(*order))
    reference = valid.withColumn("_n", first).where("_n = 1").drop("_n")
    # THEN both keep the same rows
    assert valid.count() > reference.count()
    assert_frames_equal(dedup_events(valid), reference)
