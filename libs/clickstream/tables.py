"""Schemas of the curated tables: one definition for writers, catalogs, deploy and Redshift."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from pyspark.sql.types import (
    BooleanType,
    DataType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

PARTITION_COLUMN = "dt"


@dataclass(frozen=True)
class Table:
    """A curated table: name, folder under the lake root, data columns and partitioning."""

    name: str
    location: str
    schema: StructType
    partitioned: bool = True
    description: str = ""
    # Columns a date's rows are sorted by in its files (user first): a user's rows sit in few
    # files, so a change to them rewrites few (tables written by changed rows only).
    cluster_by: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.schema.fields]


def _schema(*fields: tuple[str, object, bool]) -> StructType:
    return StructType([StructField(name, dtype, nullable) for name, dtype, nullable in fields])


EVENTS = Table(
    "events",
    "curated/events",
    _schema(
        ("event_id", StringType(), False),
        ("user_id", StringType(), False),
        ("event_type", StringType(), False),
        ("event_time", TimestampType(), False),
        ("title_id", StringType(), True),
        ("title", StringType(), True),
        ("genre", StringType(), True),
        ("session_id", StringType(), False),
        ("ingested_at", TimestampType(), False),
        ("source_file", StringType(), False),
        # JSON text of every record field other than the contract's (null when there are none).
        ("properties", StringType(), True),
    ),
    description="Deduplicated, enriched, sessionized clickstream events; dt = date of event_time",
    cluster_by=("user_id", "event_time"),
)

# Types a promoted field may have (config promoted_fields: name -> type).
PROMOTED_TYPES: dict[str, DataType] = {
    "string": StringType(),
    "long": LongType(),
    "double": DoubleType(),
    "boolean": BooleanType(),
    "timestamp": TimestampType(),
}


# Names a promoted field may not take: the events columns, dt, and the parser's own columns.
RESERVED_EVENT_COLUMNS = frozenset(
    (*(f.name for f in EVENTS.schema.fields), PARTITION_COLUMN, "record", "reason", "misfits")
)


def events_table(promoted: Mapping[str, str] | None = None) -> Table:
    """EVENTS with one nullable typed column per promoted field appended, in config order."""
    if not promoted:
        return EVENTS
    fields = [StructField(name, PROMOTED_TYPES[kind], True) for name, kind in promoted.items()]
    return replace(EVENTS, schema=StructType([*EVENTS.schema.fields, *fields]))


SESSIONS = Table(
    "sessions",
    "curated/sessions",
    _schema(
        ("session_id", StringType(), False),
        ("user_id", StringType(), False),
        ("session_start", TimestampType(), False),
        ("session_end", TimestampType(), False),
        ("event_count", LongType(), False),
        ("duration_seconds", DoubleType(), False),
    ),
    description="One row per session; dt = date of session_start",
    cluster_by=("user_id", "session_start"),
)

DAILY_ACTIVE_USERS = Table(
    "daily_active_users",
    "curated/daily_active_users",
    _schema(
        ("active_users", LongType(), False),
        ("events", LongType(), False),
        ("new_users", LongType(), False),
        ("returning_users", LongType(), False),
        ("active_users_7d", LongType(), False),
        ("active_users_28d", LongType(), False),
    ),
    description="Distinct users with at least one curated event on dt; new, returning, 7/28-day",
)

USER_ACTIVITY = Table(
    "user_activity",
    "curated/user_activity",
    _schema(
        ("user_id", StringType(), False),
        ("events", LongType(), False),
        ("first_event_at", TimestampType(), False),
    ),
    description="One row per user and dt with curated events: their count and the earliest",
)

USERS = Table(
    "users",
    "curated/users",
    _schema(
        ("user_id", StringType(), False),
        ("first_seen_at", TimestampType(), False),
    ),
    description="One row per user: the first curated event ever; dt = date of first_seen_at",
)

TITLES = Table(
    "titles",
    "curated/titles",
    _schema(
        ("title_id", StringType(), False),
        ("title", StringType(), True),
        ("genre", StringType(), True),
    ),
    partitioned=False,
    description="Reference titles: the current version of each title not deleted",
)

TITLES_HISTORY = Table(
    "titles_history",
    "curated/titles_history",
    _schema(
        ("title_id", StringType(), False),
        ("title", StringType(), True),
        ("genre", StringType(), True),
        ("valid_from", TimestampType(), False),
        ("valid_to", TimestampType(), True),
    ),
    partitioned=False,
    description="Versions of the reference titles: valid_from <= t < valid_to (null: current)",
)

QUARANTINE = Table(
    "quarantine_clickstream",
    "quarantine/clickstream",
    _schema(
        ("record", StringType(), True),
        ("reason", StringType(), False),
        ("source_file", StringType(), False),
        ("ingested_at", TimestampType(), False),
    ),
    description="Rejected raw records with the rule they broke; dt = arrival date of the object",
)

QUARANTINE_TITLES = Table(
    "quarantine_titles",
    "quarantine/titles",
    _schema(
        ("record", StringType(), True),
        ("reason", StringType(), False),
        ("source_file", StringType(), False),
        ("ingested_at", TimestampType(), False),
    ),
    partitioned=False,
    description="Rows of the titles source that are not changes (AWS DMS files), with the rule "
    "they broke; ingested_at = the file's modification time",
)

DQ_RESULTS = Table(
    "dq_results",
    "curated/dq_results",
    _schema(
        ("run_id", StringType(), False),
        ("job", StringType(), False),
        ("rule", StringType(), False),
        ("action", StringType(), False),
        ("status", StringType(), False),
        ("value", DoubleType(), True),
        ("threshold", DoubleType(), True),
        ("observed", LongType(), True),
        ("detail", StringType(), False),
        ("evaluated_at", TimestampType(), False),
    ),
    description="One row per data-quality rule and run (pass, warn, fail, skip); dt = UTC date "
    "of evaluated_at",
)

CURATED_TABLES = (
    EVENTS,
    SESSIONS,
    DAILY_ACTIVE_USERS,
    TITLES,
    TITLES_HISTORY,
    USER_ACTIVITY,
    USERS,
    DQ_RESULTS,
)
# Tables written as Delta Lake tables with table_format: delta (titles stays Parquet).
DELTA_CAPABLE = frozenset(
    t.name for t in (EVENTS, SESSIONS, DAILY_ACTIVE_USERS, USER_ACTIVITY, USERS, QUARANTINE)
)
ALL_TABLES = (*CURATED_TABLES, QUARANTINE, QUARANTINE_TITLES)
# Tables holding raw payloads: registered in quarantine_database, apart from the curated ones.
QUARANTINE_TABLES = (QUARANTINE, QUARANTINE_TITLES)
QUARANTINE_NAMES = frozenset(t.name for t in QUARANTINE_TABLES)


def curated_tables(promoted: Mapping[str, str] | None = None) -> tuple[Table, ...]:
    """CURATED_TABLES with events carrying the promoted columns."""
    return tuple(events_table(promoted) if t is EVENTS else t for t in CURATED_TABLES)


def all_tables(promoted: Mapping[str, str] | None = None) -> tuple[Table, ...]:
    """ALL_TABLES with events carrying the promoted columns."""
    return tuple(events_table(promoted) if t is EVENTS else t for t in ALL_TABLES)
