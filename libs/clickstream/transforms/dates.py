"""Calendar dates of UTC instants in a configured time zone (the `dt` of every curated table)."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F


def local_date(col: Column | str, timezone: str) -> Column:
    """The 'yyyy-MM-dd' calendar date in `timezone` of a UTC timestamp (session time zone is UTC)."""
    ts = F.col(col) if isinstance(col, str) else col
    return F.date_format(F.from_utc_timestamp(ts, timezone), "yyyy-MM-dd")
