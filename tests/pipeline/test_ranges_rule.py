"""The ranges rule, written once: its edge cases, the same ranges planned on the driver and in
Spark, dates at the ends of the calendar, and the parse's exact buckets."""

from __future__ import annotations

import random
from collections.abc import Callable

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from clickstream.pipeline import ranges
from clickstream.pipeline.curate import event_index

MICROS = 1_000_000
T0 = 1_772_323_200 * MICROS  # 2026-03-01T00:00:00Z


def random_activity(seed: int) -> tuple[list[tuple[str, int]], list[tuple[str, int, str]]]:
    """New marks and stored sessions of a few users over three days, with ties, gaps just at and
    past the lookback, and stored sessions far from any mark."""
    rng = random.Random(seed)
    marks, stored = [], []
    for u in range(6):
        user = f"u{u}"
        t, session = T0 + rng.randrange(0, 3 * 86_400) * MICROS, 0
        for _ in range(rng.randrange(5, 40)):
            gap = rng.choice([0, 1, 59, 60, 61, 600, 3_600, 40_000]) * MICROS
            if gap > 60 * MICROS:
                session += 1
            t += gap + rng.choice([0, 1])
            stored.append((user, t, f"{user}-s{session}"))
        for _ in range(rng.randrange(0, 4)):
            at = rng.choice(
                [t, stored[-1][1] + 60 * MICROS, T0 + rng.randrange(0, 4 * 86_400) * MICROS]
            )
            marks.append((user, at))
    return marks, stored


def spark_plan(
    spark: SparkSession, marks: list[tuple[str, int]], stored: list[tuple[str, int, str]]
) -> tuple[list[tuple[str, int, int]], set[str], set[str]]:
    new = spark.createDataFrame(marks, "user_id string, t long").select(
        "user_id", F.timestamp_micros("t").alias("event_time")
    )
    old = spark.createDataFrame(stored, "user_id string, t long, session_id string").select(
        "user_id", F.timestamp_micros("t").alias("event_time"), "session_id"
    )
    found = ranges.touched_ranges(new, old, 60)
    rows = found.select(
        "user_id", F.unix_micros("range_start"), F.unix_micros("range_end")
    ).collect()
    covered, needed = ranges.range_dates(found, "Asia/Seoul", 60)
    return sorted((r[0], r[1], r[2]) for r in rows), covered, needed


def test_ranges_planned_on_the_driver_equal_the_ranges_spark_plans(spark: SparkSession) -> None:
    # Arrow batches of 7 rows: a user's rows span several batches inside mapInArrow.
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "7")
    try:
        _driver_equals_spark(spark)
    finally:
        spark.conf.unset("spark.sql.execution.arrow.maxRecordsPerBatch")


def _driver_equals_spark(spark: SparkSession) -> None:
    for seed in range(3):
        # GIVEN marks and stored sessions with ties and gaps around the 60 s lookback
        marks, stored = random_activity(seed)
        # WHEN the ranges and their Seoul dates are planned by Spark and on the driver
        expected, covered, needed = spark_plan(spark, marks, stored)
        local = ranges.ranges_of(marks, stored, 60)
        # THEN both give the same ranges, covered dates and needed dates
        assert sorted(local) == expected and expected
        assert ranges.dates_of([(s, e) for _, s, e in local], "Asia/Seoul", 60) == (
            covered,
            needed,
        )


def test_driver_ranges_come_back_as_the_exact_timestamps(
    spark: SparkSession, assert_frames_equal: Callable[..., None]
) -> None:
    # GIVEN a range with microsecond ends
    found = [("u1", T0 + 1, T0 + 86_400 * MICROS - 1)]
    # WHEN it becomes a frame
    frame = ranges.ranges_frame(spark, found)
    # THEN its timestamps are the same microseconds
    expected = spark.createDataFrame(found, "user_id string, s long, e long").select(
        "user_id",
        F.timestamp_micros("s").alias("range_start"),
        F.timestamp_micros("e").alias("range_end"),
    )
    assert_frames_equal(frame, expected)


def test_the_bucket_mask_names_every_bucket_of_the_event_ids(spark: SparkSession) -> None:
    # GIVEN event_ids falling into buckets 0, 5 and 63 only (the sign bit of the long)
    ids = spark.createDataFrame([(f"e{i}",) for i in range(300)], "event_id string")
    ids = ids.where(event_index.bucket_of(F.col("event_id")).isin(0, 5, 63))
    buckets = {r[0] for r in ids.select(event_index.bucket_of(F.col("event_id"))).collect()}
    assert buckets == {0, 5, 63}
    # WHEN their bits are or-ed into one long
    mask = ids.agg(F.bit_or(event_index.bucket_bit("event_id"))).first()[0]
    # THEN the mask decodes to exactly those buckets
    assert event_index.buckets_of_mask(mask) == buckets


def test_a_stored_session_within_the_lookback_of_a_new_event_runs_to_its_activitys_end() -> None:
    # GIVEN a stored session s1 (t=0, 50 s), then after a gap of exactly the lookback s2
    # (110, 160 s), then after a longer gap s3 (500 s)
    stored = [(0, "s1"), (50 * MICROS, "s1"), (110 * MICROS, "s2"), (160 * MICROS, "s2")]
    stored.append((500 * MICROS, "s3"))
    # WHEN a new event lands at 30 s (lookback 60 s)
    found = ranges.user_ranges([30 * MICROS], stored, 60)
    # THEN s1 is touched and its range runs to the end of the activity: a gap of exactly the
    # lookback links s2 to it (a session cap boundary there may move); s3 is not reached
    assert found == [(0, 160 * MICROS)]


def test_a_stored_session_past_the_lookback_is_left_alone() -> None:
    # GIVEN stored sessions at 0..10 s and, after a gap longer than the lookback, at 200..210 s
    stored = [(0, "a"), (10 * MICROS, "a"), (200 * MICROS, "b"), (210 * MICROS, "b")]
    # WHEN a new event lands at 300 s, 90 s after the last one (lookback 60 s)
    found = ranges.user_ranges([300 * MICROS], stored, 60)
    # THEN only the new event's own range is planned: no stored session is touched
    assert found == [(300 * MICROS, 300 * MICROS)]


def test_ranges_at_most_one_lookback_apart_merge() -> None:
    # GIVEN two new events 100 s apart with nothing stored, and a lookback of 100 s
    found = ranges.user_ranges([0, 100 * MICROS], [], 100)
    # THEN they form one activity and one range; 101 s apart they stay two
    assert found == [(0, 100 * MICROS)]
    assert ranges.user_ranges([0, 101 * MICROS], [], 100) == [(0, 0), (101 * MICROS, 101 * MICROS)]


def test_dates_at_the_ends_of_the_calendar_are_clamped_not_overflowed() -> None:
    # GIVEN ranges at the first and last instants the contract accepts, widened by two days
    first, last = -62_135_596_800 * MICROS, 253_402_300_799_999_999
    # WHEN their dates are planned in time zones that push them past the calendar
    seoul = ranges.dates_of([(last, last)], "Asia/Seoul", 172_800)
    new_york = ranges.dates_of([(first, first)], "America/New_York", 172_800)
    # THEN they stop at 9999-12-31 and 0001-01-01
    assert seoul == ({"9999-12-31"}, {"9999-12-30", "9999-12-31"})
    assert new_york == ({"0001-01-01"}, {"0001-01-01", "0001-01-02"})
