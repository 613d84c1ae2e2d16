"""Joins against ranges leave the strategy to the planner: nothing forces ranges to the driver."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from clickstream.pipeline.ranges import RANGE_COLUMNS, inside, outside

EVENTS = "user_id string, event_time timestamp, event_id string"
RANGES = "user_id string, range_start timestamp, range_end timestamp"


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 1, hour, minute, tzinfo=UTC)


@pytest.fixture
def no_broadcast(spark: SparkSession) -> Iterator[None]:
    """The planner's size threshold for broadcasts set to never (a large audience's ranges)."""
    keys = ("spark.sql.autoBroadcastJoinThreshold", "spark.sql.adaptive.autoBroadcastJoinThreshold")
    before = {k: spark.conf.get(k, None) for k in keys}
    for key in keys:
        spark.conf.set(key, "-1")
    yield
    for key, value in before.items():
        spark.conf.unset(key) if value is None else spark.conf.set(key, value)


def test_range_joins_are_not_broadcast_when_the_planner_finds_the_ranges_too_large(
    spark: SparkSession,
    tmp_path: Path,
    no_broadcast: None,
    make_frame: Callable[..., DataFrame],
    assert_frames_equal: Callable[..., None],
) -> None:
    # GIVEN events of two users and ranges read from Parquet (as change sets store them)
    events = make_frame([("u1", at(10), "a"), ("u1", at(12), "b"), ("u2", at(10, 30), "c")], EVENTS)
    make_frame([("u1", at(9), at(11)), ("u2", at(10), at(10, 30))], RANGES).select(
        *RANGE_COLUMNS
    ).write.parquet(str(tmp_path / "ranges"))
    ranges = spark.read.parquet(str(tmp_path / "ranges"))

    # WHEN rows inside and outside the ranges are selected with broadcasts ruled out by size
    kept, rest = inside(events, ranges), outside(events, ranges)

    # THEN no broadcast is planned, and each row lands on its side (range ends inclusive)
    for df in (kept, rest):
        df.collect()
        assert "Broadcast" not in df._jdf.queryExecution().executedPlan().toString()
    assert_frames_equal(
        kept, make_frame([("u1", at(10), "a"), ("u2", at(10, 30), "c")], EVENTS, expected=True)
    )
    assert_frames_equal(rest, make_frame([("u1", at(12), "b")], EVENTS, expected=True))
