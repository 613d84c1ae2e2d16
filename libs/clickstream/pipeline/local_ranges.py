"""The recompute ranges of clickstream.pipeline.ranges, computed on the driver from collected rows.

A batch of an hourly run is small: planning its ranges with window functions costs a dozen
shuffles of a few thousand rows, each a Spark job. When the batch's marks and the stored events of
its users fit under plan_on_driver_max_rows, the planner collects them and computes the same
ranges and dates here, exactly (times are unix microseconds, as the Spark code compares them).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from clickstream.pipeline.ranges import RANGE_COLUMNS

_MICROS = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# (user_id, time in unix microseconds); a stored row adds its session_id.
Mark = tuple[str, int]
StoredRow = tuple[str, int, str]
Range = tuple[str, int, int]


def touched_ranges(
    marks: Iterable[Mark], stored: Iterable[StoredRow], lookback_s: int
) -> list[Range]:
    """ranges.touched_ranges on collected rows: per user, from each stored session with an event
    within lookback_s of a mark (or from the mark) to the end of its activity, merged when at
    most lookback_s apart."""
    window = lookback_s * _MICROS
    new_by_user: dict[str, list[int]] = defaultdict(list)
    for user, t in marks:
        new_by_user[user].append(t)
    stored_by_user: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for user, t, session in stored:
        if user in new_by_user:
            stored_by_user[user].append((t, session))
    intervals: list[Range] = []
    for user, new_times in new_by_user.items():
        new_times.sort()
        rows = stored_by_user.get(user, [])
        times = sorted([*new_times, *(t for t, _ in rows)])
        # Activities: events linked by gaps <= window; each time's activity ends at act_end.
        ends: list[tuple[int, int]] = []  # (first time, last time) of each activity
        for t in times:
            if ends and t - ends[-1][1] <= window:
                ends[-1] = (ends[-1][0], t)
            else:
                ends.append((t, t))
        starts = [first for first, _ in ends]

        def act_end(t: int, starts: list[int] = starts, ends: list[tuple[int, int]] = ends) -> int:
            return ends[bisect_left(starts, t + 1) - 1][1]

        def near_new(t: int, new_times: list[int] = new_times) -> bool:
            i = bisect_left(new_times, t)
            after = i < len(new_times) and new_times[i] - t <= window
            return after or (i > 0 and t - new_times[i - 1] <= window)

        touched = {session for t, session in rows if near_new(t)}
        spans: dict[str, tuple[int, int]] = {}
        for t, session in rows:
            if session in touched:
                start, end = spans.get(session, (t, act_end(t)))
                spans[session] = (min(start, t), max(end, act_end(t)))
        intervals += [(user, s, e) for s, e in spans.values()]
        intervals += [(user, t, act_end(t)) for t in new_times]
    return merge_ranges(intervals, lookback_s)


def merge_ranges(intervals: Iterable[Range], gap_s: int) -> list[Range]:
    """ranges.merge_ranges on collected rows: per user, intervals that overlap or lie at most gap_s
    apart, merged into one range."""
    gap = gap_s * _MICROS
    merged: list[Range] = []
    for user, start, end in sorted(intervals):
        if merged and merged[-1][0] == user and start - merged[-1][2] <= gap:
            last = merged[-1]
            merged[-1] = (user, last[1], max(last[2], end))
        else:
            merged.append((user, start, end))
    return merged


def _day(micros: int, zone: ZoneInfo) -> date:
    return (_EPOCH + timedelta(microseconds=micros)).astimezone(zone).date()


def range_dates(
    ranges: Iterable[Range], timezone: str, lookback_s: int
) -> tuple[set[str], set[str]]:
    """ranges.range_dates on collected ranges: the local dates they cover, and those they cover
    widened by lookback_s each side."""
    zone, margin = ZoneInfo(timezone), lookback_s * _MICROS
    covered: set[str] = set()
    needed: set[str] = set()
    for _, start, end in ranges:
        first, last = _day(start, zone), _day(end, zone)
        day, stop = _day(start - margin, zone), _day(end + margin, zone)
        while day <= stop:
            needed.add(day.isoformat())
            if first <= day <= last:
                covered.add(day.isoformat())
            day += timedelta(days=1)
    return covered, needed


def ranges_frame(spark: SparkSession, ranges: list[Range]) -> DataFrame:
    """The collected ranges as a frame of RANGE_COLUMNS (timestamps from the exact microseconds)."""
    rows = spark.createDataFrame(ranges, "user_id string, s long, e long")
    return rows.select(
        "user_id",
        F.timestamp_micros("s").alias(RANGE_COLUMNS[1]),
        F.timestamp_micros("e").alias(RANGE_COLUMNS[2]),
    )
