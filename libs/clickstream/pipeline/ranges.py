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
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from clickstream.config import Settings

RANGE_COLUMNS = ("user_id", "range_start", "range_end")
_MICROS = 1_000_000


def lookback_seconds(settings: Settings) -> int:
    """L: how far a new event reaches, the session timeout or the repeat window if longer."""
    return max(settings.session_timeout_minutes * 60, settings.repeat_window_seconds)


def touched_ranges(new: DataFrame, stored: DataFrame, lookback_s: int) -> DataFrame:
    """(user_id, range_start, range_end): from each stored session with an event within
    lookback_s of a new event of the same user (or from the new event), to the end of its activity
    (events linked by gaps <= lookback_s), merged when at most lookback_s apart.

    Running to the activity's end matters with the session cap: a change early in a long
    activity can move every later cap boundary of it, never one past a longer gap.
    new has user_id and event_time; stored has user_id, event_time and session_id (curated rows).
    """
    window = F.lit(lookback_s * _MICROS)
    t = F.unix_micros("event_time")
    marks = new.select("user_id", "event_time", F.lit(None).cast("string").alias("session_id"))
    marks = marks.unionByName(stored.select("user_id", "event_time", "session_id"))
    by_time = Window.partitionBy("user_id").orderBy("event_time")
    new_t = F.when(F.col("session_id").isNull(), t)
    before = F.last(new_t, ignorenulls=True).over(
        by_time.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    after = F.first(new_t, ignorenulls=True).over(
        by_time.rowsBetween(Window.currentRow, Window.unboundedFollowing)
    )
    # The activity of each mark: a gap longer than lookback_s opens the next one.
    opens = F.coalesce((t - F.lag(t).over(by_time)) > window, F.lit(True))
    activity = F.sum(opens.cast("int")).over(
        by_time.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    marked = (
        marks.select("*", (t - before).alias("b"), (after - t).alias("a"), activity.alias("act"))
        .withColumn("act_end", F.max("event_time").over(Window.partitionBy("user_id", "act")))
        .persist()
    )
    touched = (
        marked.where(
            F.col("session_id").isNotNull() & ((F.col("b") <= window) | (F.col("a") <= window))
        )
        .select("user_id", "session_id")
        .distinct()
    )
    spans = (
        marked.where(F.col("session_id").isNotNull())
        .join(touched, ["user_id", "session_id"], "left_semi")
        .groupBy("user_id", "session_id")
        .agg(F.min("event_time").alias("range_start"), F.max("act_end").alias("range_end"))
        .drop("session_id")
    )
    points = marked.where(F.col("session_id").isNull()).select(
        "user_id", F.col("event_time").alias("range_start"), F.col("act_end").alias("range_end")
    )
    return merge_ranges(spans.unionByName(points), lookback_s)


def merge_ranges(intervals: DataFrame, gap_s: int) -> DataFrame:
    """Per user, intervals that overlap or lie at most gap_s apart, merged into one range."""
    by_start = Window.partitionBy("user_id").orderBy("range_start", "range_end")
    reach = F.max(F.unix_micros("range_end")).over(
        by_start.rowsBetween(Window.unboundedPreceding, -1)
    )
    opens = F.when(
        reach.isNull() | (F.unix_micros("range_start") - reach > F.lit(gap_s * _MICROS)), 1
    ).otherwise(0)
    grouped = intervals.withColumn("_opens", opens).withColumn(
        "_group",
        F.sum("_opens").over(by_start.rowsBetween(Window.unboundedPreceding, Window.currentRow)),
    )
    return (
        grouped.groupBy("user_id", "_group")
        .agg(F.min("range_start").alias("range_start"), F.max("range_end").alias("range_end"))
        .select(*RANGE_COLUMNS)
    )


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


def range_dates(ranges: DataFrame, timezone: str, lookback_s: int) -> tuple[set[str], set[str]]:
    """The local dates the ranges cover, and those they cover widened by lookback_s each side."""
    margin = F.lit(lookback_s * _MICROS)

    def day(micros: Column) -> Column:
        return F.to_date(F.from_utc_timestamp(F.timestamp_micros(micros), timezone))

    start, end = F.unix_micros("range_start"), F.unix_micros("range_end")
    days = ranges.select(
        F.explode(F.sequence(day(start - margin), day(end + margin))).alias("d"),
        day(start).alias("s"),
        day(end).alias("e"),
    )
    rows = (
        days.groupBy("d")
        .agg(F.max((F.col("d") >= F.col("s")) & (F.col("d") <= F.col("e"))).alias("inside"))
        .collect()
    )
    covered = {r["d"].isoformat() for r in rows if r["inside"]}
    return covered, {r["d"].isoformat() for r in rows}
