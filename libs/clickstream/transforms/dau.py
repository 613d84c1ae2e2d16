"""Daily active users and the user metrics dashboards ask for: new, returning, 7- and 28-day.

The metrics are built from a compact per-user-day activity table (user_activity), so an
incremental run recomputes a date from at most 28 days of activity instead of rescanning events.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from clickstream.transforms.dates import local_date

# active_users_7d and active_users_28d count the users active in the 7 and 28 calendar days
# ending on dt, inclusive.
WEEK_DAYS = 7
MONTH_DAYS = 28
METRIC_COLUMNS = (
    "active_users",
    "events",
    "new_users",
    "returning_users",
    "active_users_7d",
    "active_users_28d",
)


def _day_number(dt: Column | str) -> Column:
    """Days since 1970-01-01 of a 'yyyy-MM-dd' date."""
    return F.datediff(F.to_date(dt), F.lit("1970-01-01").cast("date"))


def user_activity(events: DataFrame, *, timezone: str = "UTC") -> DataFrame:
    """One row per user_id and dt (date of event_time in timezone): events, first_event_at."""
    return (
        events.groupBy("user_id", local_date("event_time", timezone).alias("dt"))
        .agg(F.count(F.lit(1)).alias("events"), F.min("event_time").alias("first_event_at"))
        .select("user_id", "events", "first_event_at", "dt")
    )


def first_seen(activity: DataFrame) -> DataFrame:
    """One row per user_id: first_seen_at = their earliest first_event_at; dt = its date."""
    first = F.min(F.struct("first_event_at", "dt"))
    return (
        activity.groupBy("user_id")
        .agg(first.alias("_first"))
        .select(
            "user_id",
            F.col("_first.first_event_at").alias("first_seen_at"),
            F.col("_first.dt").alias("dt"),
        )
    )


def user_metrics(activity: DataFrame, users: DataFrame, dates: DataFrame) -> DataFrame:
    """Per dt of `dates` with activity: active_users, events, new_users (users first seen on dt),
    returning_users (active - new), active_users_7d and _28d (active in the 7/28 days ending on dt).

    activity holds (user_id, events, dt) for every date in the 27 days before each wanted dt and
    on it; users holds (user_id, dt of first_seen_at) at least for the wanted dates.
    """
    # A range join made an equi-join: a day reaches the targets of its own 28-day block and the
    # next one, so each activity row meets at most 2 x 28 targets however long the history is.
    day = _day_number("dt")
    targets = dates.select(_day_number("dt").alias("_target")).distinct()
    targets = targets.withColumn("_block", F.floor(F.col("_target") / MONTH_DAYS))
    reach = activity.select(
        "user_id",
        "events",
        day.alias("_day"),
        F.explode(F.array(F.floor(day / MONTH_DAYS), F.floor(day / MONTH_DAYS) + 1)).alias(
            "_block"
        ),
    )
    ago = F.col("_target") - F.col("_day")
    pairs = reach.join(F.broadcast(targets), "_block").where((ago >= 0) & (ago < MONTH_DAYS))
    per_user = pairs.groupBy("_target", "user_id").agg(
        F.min(ago).alias("_ago"), F.sum(F.when(ago == 0, F.col("events"))).alias("_events")
    )
    windows = (
        per_user.groupBy("_target")
        .agg(
            F.count(F.when(F.col("_ago") == 0, 1)).alias("active_users"),
            F.sum("_events").alias("events"),
            F.count(F.when(F.col("_ago") < WEEK_DAYS, 1)).alias("active_users_7d"),
            F.count(F.lit(1)).alias("active_users_28d"),
        )
        .where(F.col("active_users") > 0)
    )
    new = users.groupBy(_day_number("dt").alias("_target")).agg(
        F.count(F.lit(1)).alias("new_users")
    )
    new_users = F.coalesce(F.col("new_users"), F.lit(0)).cast("long")
    return windows.join(new, "_target", "left").select(
        F.date_format(
            F.date_add(F.lit("1970-01-01").cast("date"), F.col("_target")), "yyyy-MM-dd"
        ).alias("dt"),
        F.col("active_users"),
        F.col("events"),
        new_users.alias("new_users"),
        (F.col("active_users") - new_users).alias("returning_users"),
        F.col("active_users_7d"),
        F.col("active_users_28d"),
    )


def daily_active_users(events: DataFrame, *, timezone: str = "UTC") -> DataFrame:
    """Per dt (date of event_time in timezone): distinct users as active_users, rows as events,
    and the user metrics of user_metrics over these events alone (a full computation)."""
    activity = user_activity(events, timezone=timezone)
    metrics = user_metrics(activity, first_seen(activity), activity.select("dt"))
    return metrics.select("dt", *METRIC_COLUMNS)
