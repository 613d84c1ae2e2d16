"""daily_active_users: user activity, first-seen users and the daily user metrics.

Three tables, kept exact under incremental runs whatever the arrival order:
- user_activity (user_id, events, first_event_at; dt): one row per user and date with events,
  rebuilt for the event dates a change set rewrote;
- users (user_id, first_seen_at; dt of first_seen_at): updated for the users active on those
  dates or first seen on them. A late event can make a first day earlier; a user whose first day
  lost its events is recomputed from their whole activity (rare: only removals cause it);
- daily_active_users: recomputed for every date whose numbers can have changed: the rewritten
  dates, the 27 dates after each (their 7- and 28-day windows), and the old and new first days
  of the users whose first day moved. Each is computed from the 28 days of activity ending on it.

Writes go activity, then daily_active_users, then users: each is recomputable from the tables
written before it, so a run that dies halfway and is repeated gives the same tables. Each write
replaces exactly the dates it recomputed, in the table's format (with Delta, one commit per table
that also removes the dates left without rows; with Parquet, those folders are deleted after).

The first run on a lake without the activity table (an upgrade), and every run with the bookmark
disabled, build all three from the stored events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pyspark.sql import DataFrame, Observation
from pyspark.sql import functions as F

from clickstream import fs
from clickstream.pipeline.context import JobContext, JobOutcome
from clickstream.pipeline.derived import scope_for
from clickstream.tables import (
    DAILY_ACTIVE_USERS,
    EVENTS,
    PARTITION_COLUMN,
    USER_ACTIVITY,
    USERS,
    Table,
)
from clickstream.transforms import first_seen, user_activity, user_metrics
from clickstream.transforms.dates import shift_dt
from clickstream.transforms.dau import MONTH_DAYS
from clickstream.writer import (
    dts_metric,
    format_of,
    observed_dts,
    read_table,
    stored_dts,
    table_schema,
    write_table,
)

JOB = "daily_active_users"
# Written after a full build: without it, the next run builds the tables from all stored events.
BUILT_MARKER = "_state/user_metrics.json"
FORMAT = 1


@dataclass
class _Written:
    """Partitions written and deleted, per table name."""

    dts: dict[str, tuple[str, ...]]
    dropped: dict[str, tuple[str, ...]]

    def add(self, table: Table, written: list[str], dropped: list[str]) -> None:
        self.dts[table.name] = tuple(written)
        self.dropped[table.name] = tuple(dropped)


def run(ctx: JobContext) -> JobOutcome:
    """Bring activity, users and DAU up to date with the change sets (or rebuild them all)."""
    spark, settings = ctx.spark, ctx.settings
    scope = scope_for(ctx, JOB)
    built = fs.read_text(spark, settings.path(BUILT_MARKER)) is not None
    if scope.dts is None or (not built and stored_dts(spark, settings.lake, EVENTS)):
        if scope.dts is not None:
            ctx.echo("  no user_activity yet: building it from all stored events")
        written = _full(ctx)
        fs.write_text(spark, settings.path(BUILT_MARKER), json.dumps({"format": FORMAT}))
    elif not scope.dts:
        return JobOutcome(metrics={"days": 0}, commit=scope.commit)
    else:
        written = recompute_dates(ctx, scope.dts)
    tables = (USER_ACTIVITY, DAILY_ACTIVE_USERS, USERS)
    return JobOutcome(
        metrics={
            "days": len(written.dts[DAILY_ACTIVE_USERS.name]),
            "activity_dates": len(written.dts[USER_ACTIVITY.name]),
            "first_seen_dates": len(written.dts[USERS.name]),
        },
        tables=tables,
        dts=written.dts,
        dropped=written.dropped,
        commit=scope.commit,
    )


def _full(ctx: JobContext) -> _Written:
    """Every table from all stored events; dates left without rows are removed."""
    spark, settings = ctx.spark, ctx.settings
    lake = settings.lake
    activity = user_activity(read_table(spark, lake, EVENTS), timezone=settings.timezone)
    activity = activity.persist()
    out = _Written({}, {})
    try:
        dates = {
            r[PARTITION_COLUMN] for r in activity.select(PARTITION_COLUMN).distinct().collect()
        }

        def replace(table: Table, rows: DataFrame) -> None:
            everything = dates | stored_dts(spark, lake, table)
            out.add(table, *_write(ctx, rows, table, everything))

        replace(USER_ACTIVITY, activity)
        users = first_seen(activity).persist()
        try:
            replace(DAILY_ACTIVE_USERS, user_metrics(activity, users, activity.select("dt")))
            replace(USERS, users)
        finally:
            users.unpersist()
    finally:
        activity.unpersist()
    return out


def recompute_dates(ctx: JobContext, dts: list[str]) -> _Written:
    """Rebuild the activity of dts from the stored events, then the DAU dates and first-seen
    users they can change (a change set's dates, or those a forgotten user had events on)."""
    spark, settings = ctx.spark, ctx.settings
    lake = settings.lake
    events = read_table(spark, lake, EVENTS, dts)
    activity = user_activity(events, timezone=settings.timezone).persist()
    out = _Written({}, {})
    try:
        out.add(USER_ACTIVITY, *_write(ctx, activity, USER_ACTIVITY, set(dts)))
        moved, changed, before = _moved_users(ctx, activity, dts)
        try:
            users_after = _users_after(before, moved)
            active_dts = stored_dts(spark, lake, USER_ACTIVITY)
            reach = {shift_dt(d, k) for d in dts for k in range(MONTH_DAYS)} | changed
            wanted = sorted(reach & active_dts)
            if wanted:
                window = {shift_dt(d, -k) for d in wanted for k in range(MONTH_DAYS)}
                stored_activity = read_table(
                    spark, lake, USER_ACTIVITY, sorted(window & active_dts)
                )
                dates = spark.createDataFrame([(d,) for d in wanted], "dt string")
                first = users_after.where(F.col(PARTITION_COLUMN).isin(wanted))
                metrics = user_metrics(stored_activity, first, dates)
            else:
                metrics = spark.createDataFrame([], table_schema(DAILY_ACTIVE_USERS))
            # Dates without activity any more lose their row; wanted ones are written.
            recomputed = set(wanted) | set(dts) | changed
            out.add(DAILY_ACTIVE_USERS, *_write(ctx, metrics, DAILY_ACTIVE_USERS, recomputed))
            on_changed = users_after.where(F.col(PARTITION_COLUMN).isin(sorted(changed)))
            out.add(USERS, *_write(ctx, on_changed, USERS, changed))
        finally:
            moved.unpersist()
    finally:
        activity.unpersist()
    return out


def _moved_users(
    ctx: JobContext, activity: DataFrame, dts: list[str]
) -> tuple[DataFrame, set[str], DataFrame]:
    """Users whose first_seen_at changed: (user_id, first_seen_at, dt, old_dt), new values null
    when the user has no events left (cached: the caller unpersists it); the dates they moved
    from or to; and the users table as stored.

    activity is the rebuilt activity of dts (already written). A user's first event is the
    earliest of their first event on dts and, when their stored first day is not among dts, the
    stored one; when it is and dts no longer hold an event as early, their whole activity decides.
    """
    spark, settings = ctx.spark, ctx.settings
    stored = read_table(spark, settings.lake, USERS)
    on_dts = F.col(PARTITION_COLUMN).isin(dts)
    touched = activity.select("user_id").union(stored.where(on_dts).select("user_id")).distinct()
    old = stored.join(touched, "user_id", "left_semi").select(
        "user_id",
        F.col("first_seen_at").alias("old_first"),
        F.col(PARTITION_COLUMN).alias("old_dt"),
    )
    in_dts = first_seen(activity).select(
        "user_id", F.col("first_seen_at").alias("d_first"), F.col(PARTITION_COLUMN).alias("d_dt")
    )
    # Cached: the users to recheck and the moved users both come from it.
    both = old.join(in_dts, "user_id", "full").persist()
    old_outside = F.col("old_first").isNotNull() & ~F.col("old_dt").isin(dts)
    # Unknown: the stored first day is on dts and dts now start later (or hold nothing).
    unknown = (
        F.col("old_first").isNotNull()
        & F.col("old_dt").isin(dts)
        & (F.col("d_first").isNull() | (F.col("d_first") > F.col("old_first")))
    )
    pick = F.when(
        old_outside & (F.col("d_first").isNull() | (F.col("old_first") <= F.col("d_first"))),
        F.struct(F.col("old_first").alias("f"), F.col("old_dt").alias("d")),
    ).otherwise(F.struct(F.col("d_first").alias("f"), F.col("d_dt").alias("d")))
    known = both.where(~unknown).select(
        "user_id",
        pick.getField("f").alias("first_seen_at"),
        pick.getField("d").alias(PARTITION_COLUMN),
        "old_first",
        "old_dt",
    )
    recheck = [r["user_id"] for r in both.where(unknown).select("user_id").collect()]
    if recheck:
        ctx.echo(f"  {len(recheck)} user(s) lost their first day's events: reading their activity")
        ids = spark.createDataFrame([(u,) for u in recheck], "user_id string")
        history = read_table(spark, settings.lake, USER_ACTIVITY).join(
            F.broadcast(ids), "user_id", "left_semi"
        )
        again = ids.join(first_seen(history), "user_id", "left").join(
            both.select("user_id", "old_first", "old_dt"), "user_id"
        )
        known = known.unionByName(again.select(*known.columns))
    same = F.col("old_first").eqNullSafe(F.col("first_seen_at"))
    moved = known.where(~same).select("user_id", "first_seen_at", PARTITION_COLUMN, "old_dt")
    moved = moved.persist()
    changed = {  # this action materializes moved while both is cached
        r[PARTITION_COLUMN]
        for r in moved.select(PARTITION_COLUMN)
        .union(moved.select(F.col("old_dt").alias(PARTITION_COLUMN)))
        .where(F.col(PARTITION_COLUMN).isNotNull())
        .distinct()
        .collect()
    }
    both.unpersist()
    return moved, changed, stored


def _users_after(stored: DataFrame, moved: DataFrame) -> DataFrame:
    """The users table after the move, on the changed dates and every other date."""
    kept = stored.join(moved.select("user_id"), "user_id", "left_anti")
    arrived = moved.where(F.col("first_seen_at").isNotNull()).select(*stored.columns)
    return kept.unionByName(arrived)


def _write(
    ctx: JobContext, rows: DataFrame, table: Table, replaced: set[str]
) -> tuple[list[str], list[str]]:
    """Replace the table's dates `replaced` with rows (which hold no other date): returns the
    dates written and the stored ones left without rows (removed).

    Delta replaces them in one commit (replaceWhere), which also removes the emptied dates;
    Parquet overwrites the dates present (dynamic partition overwrite), then deletes the others.
    """
    if not replaced:
        return [], []  # nothing recomputed (a Delta write would not even run)
    spark, settings = ctx.spark, ctx.settings
    stored = stored_dts(spark, settings.lake, table)
    obs = Observation(f"{table.name}_dts")
    ctx.guard()
    write_table(
        rows.observe(obs, dts_metric()),
        settings.lake,
        table,
        table_format=settings.table_format,
        dts=sorted(replaced),
    )
    written = observed_dts(obs)
    emptied = sorted((replaced & stored) - set(written))
    if format_of(table, settings.table_format) == "parquet":
        for dt in emptied:
            fs.delete(spark, f"{settings.path(table.location)}/{PARTITION_COLUMN}={dt}")
    return written, emptied
