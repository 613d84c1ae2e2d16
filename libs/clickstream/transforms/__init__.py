"""Pure DataFrame -> DataFrame transforms of the clickstream pipeline (no I/O, no actions)."""

from clickstream.transforms.dates import local_date
from clickstream.transforms.dau import (
    daily_active_users,
    first_seen,
    user_activity,
    user_metrics,
)
from clickstream.transforms.dedup import dedup_events
from clickstream.transforms.enrich import enrich_events, unique_titles
from clickstream.transforms.sessionize import sessionize
from clickstream.transforms.sessions import summarize_sessions
from clickstream.transforms.title_history import changed_windows, current_titles, title_history

__all__ = [
    "changed_windows",
    "current_titles",
    "daily_active_users",
    "dedup_events",
    "enrich_events",
    "first_seen",
    "local_date",
    "sessionize",
    "summarize_sessions",
    "title_history",
    "unique_titles",
    "user_activity",
    "user_metrics",
]
