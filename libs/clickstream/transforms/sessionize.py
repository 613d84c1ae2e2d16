"""Sessionization: per user, a new session after a gap strictly longer than the timeout, or at the
session's first event plus the cap."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

SESSION_ID_SEPARATOR = "\x1f"  # ASCII unit separator: cannot blur the user/event boundary
_MICROS_PER_MINUTE = 60 * 1_000_000
_MICROS_PER_HOUR = 60 * _MICROS_PER_MINUTE


def _session_id(user_id: F.Column, first_event_id: F.Column) -> F.Column:
    return F.substring(
        F.sha2(F.concat_ws(SESSION_ID_SEPARATOR, user_id, first_event_id), 256), 1, 32
    )


def sessionize(
    events: DataFrame, *, timeout_minutes: float = 30, max_session_hours: float | None = 24
) -> DataFrame:
    """Append session_id: per user, by (event_time, event_id), a gap > timeout starts a session,
    and so does an event at or after the session's first event + max_session_hours (None: no cap).

    session_id = first 32 hex digits of sha2(user_id + U+001F + the session's first event_id, 256),
    so the same events always get the same id. Times are compared exactly, in microseconds.
    """
    if timeout_minutes <= 0:
        raise ValueError(f"timeout_minutes must be > 0, got {timeout_minutes!r}")
    if max_session_hours is not None and max_session_hours <= 0:
        raise ValueError(f"max_session_hours must be > 0 or None, got {max_session_hours!r}")
    columns = events.columns
    timeout_micros = round(timeout_minutes * _MICROS_PER_MINUTE)
    # One partitioning and ordering for every window below: one shuffle and one sort.
    by_user = Window.partitionBy("user_id").orderBy("event_time", "event_id")
    so_far = by_user.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    micros = F.unix_micros("event_time")
    gap = F.col("_gap")
    opens = gap.isNull() | (gap > timeout_micros)
    # Hash only the session starters (one row in tens); the forward fill copies their ids.
    marked = (
        events.withColumn("_gap", micros - F.lag(micros).over(by_user))
        .withColumn("_starter", F.when(opens, _session_id(F.col("user_id"), F.col("event_id"))))
        # A session's id = the id of the latest session starter so far (a forward fill).
        .withColumn("session_id", F.last("_starter", ignorenulls=True).over(so_far))
    )
    if max_session_hours is None:
        return marked.select(*columns, "session_id")
    # Activity = events linked by gaps <= timeout. Within the first cap of an activity nothing
    # changes; the rare events past it are split by a fold over their activity's ordered events.
    cap_micros = round(max_session_hours * _MICROS_PER_HOUR)
    marked = marked.withColumn(
        "_activity_start", F.last(F.when(opens, micros), ignorenulls=True).over(so_far)
    ).withColumn("_capped", micros - F.col("_activity_start") >= cap_micros)
    within_cap = marked.where(~F.col("_capped")).select(*columns, "session_id")
    return within_cap.unionByName(
        _split_at_cap(marked.where(F.col("_capped")), columns, cap_micros)
    )


def _split_at_cap(capped: DataFrame, columns: list[str], cap_micros: int) -> DataFrame:
    """Session ids of the events at or past their activity's first cap: walking them in order,
    an event at or after the current session's first event + cap starts the next session."""
    row = F.struct(
        F.unix_micros("event_time").alias("_t"), F.col("event_id").alias("_id"), *columns
    )
    per_activity = capped.groupBy("user_id", "_activity_start").agg(
        F.array_sort(F.collect_list(row)).alias("_rows")
    )
    start = F.struct(
        F.col("_activity_start").alias("since"),
        F.lit(None).cast("string").alias("first"),
        F.array().cast("array<string>").alias("firsts"),
    )

    def step(acc: F.Column, r: F.Column) -> F.Column:
        new = r["_t"] >= acc["since"] + F.lit(cap_micros)
        since = F.when(new, r["_t"]).otherwise(acc["since"])
        first = F.when(new, r["_id"]).otherwise(acc["first"])
        return F.struct(
            since.alias("since"),
            first.alias("first"),
            F.concat(acc["firsts"], F.array(first)).alias("firsts"),
        )

    folded = per_activity.select(
        "user_id", "_rows", F.aggregate("_rows", start, step)["firsts"].alias("_firsts")
    )
    exploded = folded.select(
        "user_id", F.explode(F.arrays_zip("_rows", "_firsts")).alias("_z")
    ).select(F.col("user_id").alias("_user"), "_z._rows", F.col("_z._firsts").alias("_first"))
    return exploded.select(
        *[F.col(f"_rows.{c}").alias(c) for c in columns],
        _session_id(F.col("_user"), F.col("_first")).alias("session_id"),
    )
