"""Session summaries: one row per session of sessionized events."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from clickstream.transforms.dates import local_date


def summarize_sessions(events: DataFrame, *, timezone: str = "UTC") -> DataFrame:
    """One row per session_id: start, end, event count, duration; dt = date of start in timezone."""
    return (
        events.groupBy("session_id", "user_id")
        .agg(
            F.min("event_time").alias("session_start"),
            F.max("event_time").alias("session_end"),
            F.count(F.lit(1)).alias("event_count"),
        )
        .select(
            "session_id",
            "user_id",
            "session_start",
            "session_end",
            "event_count",
            ((F.unix_millis("session_end") - F.unix_millis("session_start")) / F.lit(1000.0)).alias(
                "duration_seconds"
            ),
            local_date("session_start", timezone).alias("dt"),
        )
    )
