"""Ranges planned on the driver equal the ranges Spark plans, and the parse's buckets are exact."""

from __future__ import annotations

import random
from collections.abc import Callable

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from clickstream.pipeline import local_ranges, ranges
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
    for seed in range(3):
        # GIVEN marks and stored sessions with ties and gaps around the 60 s lookback
        marks, stored = random_activity(seed)
        # WHEN the ranges and their Seoul dates are planned by Spark and on the driver
        expected, covered, needed = spark_plan(spark, marks, stored)
        local = local_ranges.touched_ranges(marks, stored, 60)
        # THEN both give the same ranges, covered dates and needed dates
        assert sorted(local) == expected and expected
        assert local_ranges.range_dates(local, "Asia/Seoul", 60) == (covered, needed)


def test_driver_ranges_come_back_as_the_exact_timestamps(
    spark: SparkSession, assert_frames_equal: Callable[..., None]
) -> None:
    # GIVEN a range with microsecond ends
    found = [("u1", T0 + 1, T0 + 86_400 * MICROS - 1)]
    # WHEN it becomes a frame
    frame = local_ranges.ranges_frame(spark, found)
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
