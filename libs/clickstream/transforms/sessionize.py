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
    # Joined on user_id alone, which both sides are already partitioned and sorted by: the
    # events are not shuffled again.
    caps = _cap_starts(marked.where(F.col("_capped")), cap_micros)
    joined = marked.join(caps, "user_id", "left")
    # A capped event's session starts at the last cap start of its activity at or before it (the
    # first capped event of an activity is always one).
    at = F.unix_micros("event_time")
    activity = F.element_at(F.filter("_caps", lambda c: c["a"] == F.col("_activity_start")), 1)
    first = F.element_at(F.filter(activity["s"], lambda b: b["t"] <= at), -1)["id"]
    session_id = F.when(F.col("_capped"), _session_id(F.col("user_id"), first)).otherwise(
        F.col("session_id")
    )
    return joined.select(*columns, session_id.alias("session_id"))


def _cap_starts(capped: DataFrame, cap_micros: int) -> DataFrame:
    """Per user, the session starts of each activity holding events at or past its first cap
    (_caps: activity start a, starts s of (t, id)): walking the capped events in order, an event at
    or after the current session's first event + cap starts the next session.

    The walk folds each activity's (time, event_id) keys once, appending only the few starts (one
    per cap), so it is linear in the activity's events: a heavy user's activity can hold tens of
    thousands of them.
    """
    per_activity = capped.groupBy("user_id", "_activity_start").agg(
        F.array_sort(
            F.collect_list(
                F.struct(F.unix_micros("event_time").alias("t"), F.col("event_id").alias("id"))
            )
        ).alias("_keys")
    )
    start = F.struct(
        F.col("_activity_start").alias("since"),
        F.array().cast("array<struct<t:bigint,id:string>>").alias("starts"),
    )

    def step(acc: F.Column, key: F.Column) -> F.Column:
        new = key["t"] >= acc["since"] + F.lit(cap_micros)
        return F.struct(
            F.when(new, key["t"]).otherwise(acc["since"]).alias("since"),
            F.when(new, F.concat(acc["starts"], F.array(key)))
            .otherwise(acc["starts"])
            .alias("starts"),
        )

    starts = per_activity.select(
        "user_id",
        F.struct(
            F.col("_activity_start").alias("a"),
            F.aggregate("_keys", start, step)["starts"].alias("s"),
        ).alias("_cap"),
    )
    return starts.groupBy("user_id").agg(F.collect_list("_cap").alias("_caps"))
