"""Sessionization: per user, a new session after a gap strictly longer than the timeout."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

SESSION_ID_SEPARATOR = "\x1f"  # ASCII unit separator: cannot blur the user/event boundary
_MICROS_PER_MINUTE = 60 * 1_000_000


def sessionize(events: DataFrame, *, timeout_minutes: float = 30) -> DataFrame:
    """Append session_id: per user, by (event_time, event_id), a gap > timeout starts a session.

    session_id = first 32 hex digits of sha2(user_id + U+001F + the session's first event_id, 256),
    so the same events always get the same id. Gaps are compared exactly, in microseconds.
    """
    if timeout_minutes <= 0:
        raise ValueError(f"timeout_minutes must be > 0, got {timeout_minutes!r}")
    timeout_micros = round(timeout_minutes * _MICROS_PER_MINUTE)
    # One partitioning and ordering for every window below: one shuffle and one sort.
    by_user = Window.partitionBy("user_id").orderBy("event_time", "event_id")
    so_far = by_user.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    micros = F.unix_micros("event_time")
    gap = F.col("_gap")
    # Hash only the session starters (one row in tens); the forward fill copies their ids.
    starter_id = F.substring(
        F.sha2(F.concat_ws(SESSION_ID_SEPARATOR, "user_id", "event_id"), 256), 1, 32
    )
    return (
        events.withColumn("_gap", micros - F.lag(micros).over(by_user))
        .withColumn("_starter", F.when(gap.isNull() | (gap > timeout_micros), starter_id))
        # A session's id = the id of the latest session starter so far (a forward fill).
        .withColumn("session_id", F.last("_starter", ignorenulls=True).over(so_far))
        .drop("_gap", "_starter")
    )
