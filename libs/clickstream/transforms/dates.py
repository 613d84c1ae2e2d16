"""Calendar dates of UTC instants in a configured time zone (the `dt` of every curated table).

Every instant the contract accepts (years 0001 to 9999, UTC) has a date, clamped to the
calendar: an instant whose local date would fall before 0001-01-01 or after 9999-12-31 (a
negative offset at the very start, a positive one at the very end) gets that first or last date.
Spark computes the dt of rows (local_date); the planner computes the dates of its ranges on the
driver (local_day). Both give the same date for every instant (tests/transforms/test_dates.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from pyspark.sql import Column
from pyspark.sql import functions as F

# The first and last instants of the calendar as local wall-clock times (Spark timestamps).
_FIRST_LOCAL = "timestamp'0001-01-01 00:00:00'"
_LAST_LOCAL = "timestamp'9999-12-31 23:59:59.999999'"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def local_date(col: Column | str, timezone: str) -> Column:
    """The 'yyyy-MM-dd' calendar date in `timezone` of a UTC timestamp (session time zone is
    UTC), clamped to 0001-01-01 .. 9999-12-31."""
    ts = F.col(col) if isinstance(col, str) else col
    first, last = F.expr(_FIRST_LOCAL), F.expr(_LAST_LOCAL)
    local = F.least(F.greatest(F.from_utc_timestamp(ts, timezone), first), last)
    return F.date_format(local, "yyyy-MM-dd")


def local_day(micros: int, zone: ZoneInfo) -> date:
    """local_date on the driver: the date in zone of an instant in unix microseconds, clamped to
    the calendar."""
    try:
        return (_EPOCH + timedelta(microseconds=micros)).astimezone(zone).date()
    except OverflowError:
        return date.max if micros > 0 else date.min


def shift_dt(dt: str, days: int) -> str:
    """The date `days` after dt ('yyyy-MM-dd', negative: before), clamped to the calendar."""
    try:
        return (date.fromisoformat(dt) + timedelta(days=days)).isoformat()
    except OverflowError:
        return (date.max if days > 0 else date.min).isoformat()


def days_between(first: date, last: date) -> list[date]:
    """Every date from first to last, inclusive (empty when last is before first)."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
