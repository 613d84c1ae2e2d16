"""Recompute ranges: per user, the stretches of time a batch of new events can change.

A stored session is touched when one of its events lies within the lookback L (the session
timeout or the repeat window, whichever is longer) of a new event of the same user. Per user, a
range runs from a touched session's start (or a new event) to the end of its activity (events
linked by gaps <= L); ranges at most L apart are merged. A session boundary depends only on the
events before it, so a range starts at a boundary a full run also has; it ends before a gap
longer than L, which restarts sessions and the session cap alike. Recomputing the events inside
a range (with the events within L outside it as context for repeat suppression) therefore gives
exactly what a full run gives there, and every stored row outside the ranges keeps its
session_id. Without the cap, L = timeout makes an activity one session, as before.

The rule is written once, over one user's times (user_ranges), and so are the dates a range
covers (dates_of). A small batch is planned on the driver from collected rows (ranges_of, no
Spark job); a large one in Spark, where the same functions run inside mapInArrow over rows
partitioned by user_id and sorted by time (touched_ranges, range_dates). Times are unix
microseconds throughout, as stored.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from functools import partial
from zoneinfo import ZoneInfo

import pyarrow as pa
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from clickstream.config import Settings
from clickstream.transforms.dates import days_between, local_day

RANGE_COLUMNS = ("user_id", "range_start", "range_end")
_MICROS = 1_000_000

# (user_id, time in unix microseconds); a stored row adds its session_id.
Mark = tuple[str, int]
StoredRow = tuple[str, int, str]
Range = tuple[str, int, int]


def lookback_seconds(settings: Settings) -> int:
    """L: how far a new event reaches, the session timeout or the repeat window if longer."""
    return max(settings.session_timeout_minutes * 60, settings.repeat_window_seconds)


def user_ranges(
    new_times: Sequence[int], stored: Sequence[tuple[int, str]], lookback_s: int
) -> list[tuple[int, int]]:
    """One user's ranges: from each stored session with an event within lookback_s of a new
    time (or from the new time) to the end of its activity (times linked by gaps <= lookback_s),
    merged when at most lookback_s apart; sorted.

    Running to the activity's end matters with the session cap: a change early in a long
    activity can move every later cap boundary of it, never one past a longer gap.
    """
    window = lookback_s * _MICROS
    news = sorted(new_times)
    times = sorted([*news, *(t for t, _ in stored)])
    # Activities: times linked by gaps <= window, as (first time, last time).
    activities: list[tuple[int, int]] = []
    for t in times:
        if activities and t - activities[-1][1] <= window:
            activities[-1] = (activities[-1][0], t)
        else:
            activities.append((t, t))
    firsts = [first for first, _ in activities]

    def activity_end(t: int) -> int:
        return activities[bisect_left(firsts, t + 1) - 1][1]

    def near_new(t: int) -> bool:
        i = bisect_left(news, t)
        return (i < len(news) and news[i] - t <= window) or (i > 0 and t - news[i - 1] <= window)

    touched = {session for t, session in stored if near_new(t)}
    spans: dict[str, tuple[int, int]] = {}
    for t, session in stored:
        if session in touched:
            start, end = spans.get(session, (t, activity_end(t)))
            spans[session] = (min(start, t), max(end, activity_end(t)))
    intervals = sorted([*spans.values(), *((t, activity_end(t)) for t in news)])
    merged: list[tuple[int, int]] = []
    for start, end in intervals:
        if merged and start - merged[-1][1] <= window:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def ranges_of(marks: Iterable[Mark], stored: Iterable[StoredRow], lookback_s: int) -> list[Range]:
    """The ranges of collected rows: user_ranges for every user with a mark."""
    new_by_user: dict[str, list[int]] = defaultdict(list)
    for user, t in marks:
        new_by_user[user].append(t)
    stored_by_user: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for user, t, session in stored:
        if user in new_by_user:
            stored_by_user[user].append((t, session))
    return [
        (user, start, end)
        for user in sorted(new_by_user)
        for start, end in user_ranges(new_by_user[user], stored_by_user[user], lookback_s)
    ]


def dates_of(
    spans: Iterable[tuple[int, int]], timezone: str, lookback_s: int
) -> tuple[set[str], set[str]]:
    """The local dates the spans (start, end) cover, and those they cover widened by lookback_s
    each side."""
    zone, margin = ZoneInfo(timezone), lookback_s * _MICROS

    def day(micros: int) -> date:
        return local_day(micros, zone)

    # Many spans share their days: each distinct (widened start, start, end, widened end) once.
    bounds = {(day(s - margin), day(s), day(e), day(e + margin)) for s, e in spans}
    covered: set[str] = set()
    needed: set[str] = set()
    for low, first, last, high in bounds:
        for d in days_between(low, high):
            needed.add(d.isoformat())
            if first <= d <= last:
                covered.add(d.isoformat())
    return covered, needed


def ranges_frame(spark: SparkSession, ranges: list[Range]) -> DataFrame:
    """Collected ranges as a frame of RANGE_COLUMNS (timestamps from the exact microseconds)."""
    rows = spark.createDataFrame(ranges, "user_id string, s long, e long")
    return _as_timestamps(rows)


def _as_timestamps(rows: DataFrame) -> DataFrame:
    return rows.select(
        "user_id",
        F.timestamp_micros("s").alias(RANGE_COLUMNS[1]),
        F.timestamp_micros("e").alias(RANGE_COLUMNS[2]),
    )


def _ranges_in_partition(
    batches: Iterator[pa.RecordBatch], lookback_s: int
) -> Iterator[pa.RecordBatch]:
    """user_ranges over rows (user_id, t, session_id: null on a new time) sorted by user_id."""
    users: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    user: str | None = None
    news: list[int] = []
    stored: list[tuple[int, str]] = []

    def flush() -> None:
        for start, end in user_ranges(news, stored, lookback_s):
            users.append(user)  # type: ignore[arg-type]
            starts.append(start)
            ends.append(end)

    for batch in batches:
        columns = zip(*(batch.column(i).to_pylist() for i in range(3)), strict=True)
        for row_user, t, session in columns:
            if row_user != user:
                if news:
                    flush()
                user, news, stored = row_user, [], []
            if session is None:
                news.append(t)
            else:
                stored.append((t, session))
    if news:
        flush()
    yield pa.RecordBatch.from_arrays(
        [pa.array(users, pa.string()), pa.array(starts, pa.int64()), pa.array(ends, pa.int64())],
        names=["user_id", "s", "e"],
    )


def touched_ranges(new: DataFrame, stored: DataFrame, lookback_s: int) -> DataFrame:
    """ranges_of in Spark: (user_id, range_start, range_end), the same function run per user on
    rows partitioned by user_id.

    new has user_id and event_time; stored has user_id, event_time and session_id (curated rows).
    """
    t = F.unix_micros("event_time").alias("t")
    rows = new.select("user_id", t, F.lit(None).cast("string").alias("session_id")).unionByName(
        stored.select("user_id", t, "session_id")
    )
    ranges = (
        rows.repartition("user_id")
        .sortWithinPartitions("user_id", "t")
        .mapInArrow(
            partial(_ranges_in_partition, lookback_s=lookback_s), "user_id string, s long, e long"
        )
    )
    return _as_timestamps(ranges)


def _dates_in_partition(
    batches: Iterator[pa.RecordBatch], timezone: str, lookback_s: int
) -> Iterator[pa.RecordBatch]:
    """dates_of over the ranges of one partition, as rows (d, covered)."""
    spans = [
        span
        for batch in batches
        for span in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True)
    ]
    covered, needed = dates_of(spans, timezone, lookback_s)
    days = sorted(needed)
    yield pa.RecordBatch.from_arrays(
        [pa.array(days, pa.string()), pa.array([d in covered for d in days], pa.bool_())],
        names=["d", "covered"],
    )


def range_dates(ranges: DataFrame, timezone: str, lookback_s: int) -> tuple[set[str], set[str]]:
    """dates_of in Spark: the local dates the ranges cover, and those they cover widened by
    lookback_s each side (one small collect)."""
    spans = ranges.select(F.unix_micros("range_start"), F.unix_micros("range_end"))
    rows = (
        spans.mapInArrow(
            partial(_dates_in_partition, timezone=timezone, lookback_s=lookback_s),
            "d string, covered boolean",
        )
        .groupBy("d")
        .agg(F.max("covered").alias("covered"))
        .collect()
    )
    return {r["d"] for r in rows if r["covered"]}, {r["d"] for r in rows}


def within(
    events: DataFrame, ranges: DataFrame, margin_s: int = 0, time: str = "event_time"
) -> Column:
    """Join condition: same user and events[time] inside a range widened by margin_s each side."""
    margin = F.lit(margin_s * _MICROS)
    t = F.unix_micros(events[time])
    return (
        (events["user_id"] == ranges["user_id"])
        & (t >= F.unix_micros(ranges["range_start"]) - margin)
        & (t <= F.unix_micros(ranges["range_end"]) + margin)
    )


def inside(
    events: DataFrame, ranges: DataFrame, *, margin_s: int = 0, time: str = "event_time"
) -> DataFrame:
    """Rows whose time lies inside a range of their user (widened by margin_s each side).

    The planner picks the join: ranges come from Parquet files whose size it knows, so small
    ones are broadcast and a large audience's ranges are joined by user_id instead of being
    collected on the driver.
    """
    return events.join(ranges, within(events, ranges, margin_s, time), "left_semi")


def outside(events: DataFrame, ranges: DataFrame, *, time: str = "event_time") -> DataFrame:
    """Rows whose time lies outside every range of their user: they stay as stored."""
    return events.join(ranges, within(events, ranges, time=time), "left_anti")
