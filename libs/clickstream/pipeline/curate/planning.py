"""Planning: the time ranges a batch of new events can change, and the dates to read and rewrite.

See clickstream.pipeline.ranges for the ranges. Only the dates of new events and their neighbours
are read, more only while a touched session continues. With nothing stored near the new events,
everything is new (the first run): no ranges are needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from clickstream.pipeline import ranges as rule
from clickstream.pipeline.context import JobContext
from clickstream.pipeline.curate.partitions import partition_dts
from clickstream.pipeline.curate.repeat_suppression import SUPPRESSED
from clickstream.tables import EVENTS
from clickstream.transforms.dates import shift_dt
from clickstream.writer import read_table


@dataclass(frozen=True)
class Existing:
    """Dates that already have curated (or repeat-suppressed) events partitions."""

    events: set[str]
    suppressed: set[str]

    @property
    def empty(self) -> bool:
        return not (self.events or self.suppressed)

    @property
    def stored(self) -> set[str]:
        return self.events | self.suppressed


def existing_dates(ctx: JobContext) -> Existing:
    """The dates stored in the events and repeat-suppressed tables (folder listings only)."""
    return Existing(
        partition_dts(ctx.spark, ctx.settings, EVENTS),
        partition_dts(ctx.spark, ctx.settings, SUPPRESSED),
    )


@dataclass
class Plan:
    """Partitions to rewrite, existing partitions to read, and the ranges (None: all is new)."""

    dts: list[str]
    read: list[str]
    ranges: DataFrame | None

    def release(self) -> None:
        """Drop the cached ranges."""
        if self.ranges is not None:
            self.ranges.unpersist()


def plan(
    ctx: JobContext,
    new: DataFrame,
    new_dts: list[str],
    existing: Existing,
    *,
    marks_bound: int | None = None,
    mark_rows: list[tuple[str, int]] | None = None,
) -> Plan:
    """The ranges around new (user_id, event_time: where stored events change) and the dates
    they need.

    marks_bound: an upper bound of new's rows, when known. With it at most
    plan_on_driver_max_rows, new and the stored events of its users are collected and the
    ranges computed on the driver, as long as the stored rows stay under that bound too;
    otherwise in Spark. Both run the same rule (clickstream.pipeline.ranges).
    mark_rows: new's rows as (user_id, event_time in unix microseconds), already collected.

    Stored events within one lookback of a new event lie on its date or the next or previous
    one; dates are added only while a touched session, an activity or a range's context reaches
    further (a session is shorter than max_session_hours, so backwards that is one more date;
    forwards, an activity still running after two dates gets every later date in one step).
    With nothing stored on those dates, every session there is new: no ranges are needed.
    """
    spark, settings = ctx.spark, ctx.settings
    stored_dts = existing.stored
    lookback = rule.lookback_seconds(settings)
    read = {shift_dt(d, k) for d in new_dts for k in (-1, 0, 1)} & stored_dts
    if not read:
        return Plan(new_dts, [], None)
    limit = settings.plan_on_driver_max_rows
    marks: list[tuple[str, int]] | None = mark_rows
    if marks is None and marks_bound is not None and marks_bound <= limit:
        micros = F.unix_micros("event_time")
        marks = [(r[0], r[1]) for r in new.select("user_id", micros).collect()]
    users = new.select("user_id").distinct()
    forward_steps = 0
    while True:
        stored = read_table(spark, settings.lake, EVENTS, sorted(read))
        found = None if marks is None else _plan_on_driver(ctx, marks, stored, lookback)
        if found is None:
            marks = None  # too many stored rows: Spark from now on
            stored = stored.join(users, "user_id", "left_semi")
            ranges = rule.touched_ranges(new, stored, lookback).persist()
            covered, needed = rule.range_dates(ranges, settings.timezone, lookback)
        else:
            ranges, covered, needed = found
        more = (needed & stored_dts) - read
        if not more:
            return Plan(sorted(covered), sorted(read), ranges)
        ranges.unpersist()
        if max(more) > max(read):
            forward_steps += 1
            if forward_steps > 1:
                # An activity (a long session, or capped sessions back to back) runs on past
                # the next date: read every later stored date in one step, not date by date.
                more |= {d for d in stored_dts if d > max(read)}
        read |= more


def _plan_on_driver(
    ctx: JobContext, marks: list[tuple[str, int]], stored: DataFrame, lookback: int
) -> tuple[DataFrame, set[str], set[str]] | None:
    """The ranges, covered and needed dates from the collected marks and the stored events of
    their users; None when those stored events exceed plan_on_driver_max_rows."""
    spark, limit = ctx.spark, ctx.settings.plan_on_driver_max_rows
    users = spark.createDataFrame(sorted({u for u, _ in marks}), "string").toDF("user_id")
    rows = (
        stored.join(F.broadcast(users), "user_id", "left_semi")
        .select("user_id", F.unix_micros("event_time"), "session_id")
        .limit(limit + 1)
        .collect()
    )
    if len(rows) > limit:
        return None
    ranges = rule.ranges_of(marks, [(r[0], r[1], r[2]) for r in rows], lookback)
    covered, needed = rule.dates_of([(s, e) for _, s, e in ranges], ctx.settings.timezone, lookback)
    return rule.ranges_frame(spark, ranges), covered, needed
