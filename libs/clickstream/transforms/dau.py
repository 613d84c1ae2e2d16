"""Daily active users: distinct users and events per calendar date."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from clickstream.transforms.dates import local_date


def daily_active_users(events: DataFrame, *, timezone: str = "UTC") -> DataFrame:
    """Per dt (date of event_time in timezone): distinct user_id as active_users, rows as events."""
    return (
        events.groupBy(local_date("event_time", timezone).alias("dt"))
        .agg(
            F.countDistinct("user_id").alias("active_users"),
            F.count(F.lit(1)).alias("events"),
        )
        .select("dt", "active_users", "events")
    )
