"""A small hand-built lake with every raw quirk, and the exact tables it must produce."""

from __future__ import annotations

import gzip
import hashlib
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from clickstream.tables import DAILY_ACTIVE_USERS, EVENTS, QUARANTINE, SESSIONS, Table
from clickstream.writer import table_schema

UUID = {
    "a": "0a0a0a0a-0000-4000-8000-00000000000a",
    "b": "0b0b0b0b-0000-4000-8000-00000000000b",
    "c": "0c0c0c0c-0000-4000-8000-00000000000c",
    "d": "0d0d0d0d-0000-4000-8000-00000000000d",
}

TITLES_CSV = (
    "title_id,title,genre\n"
    "t1,오징어 게임,drama\n"
    't2,"He said ""Hi"", then left",comedy\n'
    't3,"Commas, commas",documentary\n'
    't2,"Zed, a duplicate key",comedy\n'
)

# Object A (newline-delimited): exact-timeout gap, offset time, unknown field, not-JSON line.
OBJECT_A = (
    '{"event_id":"e1","user_id":"u1","event_type":"view","event_time":"2026-03-01T10:00:00Z","title_id":"t1"}\n'
    '{"event_id":"e2","user_id":"u1","event_type":"play","event_time":"2026-03-01T10:30:00.000Z","title_id":"t1","device":{"kind":"tv"}}\n'
    "\n"
    '{"event_id":"e3","user_id":"u2","event_type":"view","event_time":"2026-03-01T19:10:00+09:00","title_id":"t2"}\n'
    "this is not json\n"
    '{"event_id":"e4","user_id":"u1","event_type":"pause","event_time":"2026-03-01T11:00:00.001Z","title_id":"t1"}\n'
)
# Object B (gzip, concatenated, one pretty-printed value): a re-delivery of e1, epoch-ms time,
# unknown title, and invalid records.
BAD_DATE = (
    '{"event_id":"bad1","user_id":"u1","event_type":"view","event_time":"2026-02-30T01:00:00Z"}'
)
BAD_WORD = '{"event_id":"bad2","user_id":"u1","event_type":"view","event_time":"yesterday"}'
NO_USER = '{"event_id":"bad3","event_type":"view","event_time":"2026-03-01T10:00:00Z"}'
E6_PRETTY = (
    '{\n  "event_id": "e6",\n  "user_id": "u3",\n  "event_type": "view",\n'
    '  "event_time": "2026-03-01T11:20:00Z",\n  "title_id": "unknown-title"\n}'
)
OBJECT_B = (
    '{"event_id":"e1","user_id":"u1","event_type":"view","event_time":"2026-03-01T10:00:00Z","title_id":"t1"}'
    '{"event_id":"e5","user_id":"u3","event_type":"search","event_time":1772362800000}'
    + E6_PRETTY
    + BAD_DATE
    + BAD_WORD
    + NO_USER
    + "[1,2]"
)
# Object D, a day later: a session crossing midnight (e7 twice in one object), and e9.
OBJECT_D = (
    '{"event_id":"e7","user_id":"u1","event_type":"view","event_time":"2026-03-01T23:50:00Z","title_id":"t3"}\n'
    '{"event_id":"e7","user_id":"u1","event_type":"view","event_time":"2026-03-01T23:50:00Z","title_id":"t3"}\n'
    '{"event_id":"e8","user_id":"u1","event_type":"play","event_time":"2026-03-02T00:10:00Z","title_id":"t3"}\n'
    '{"event_id":"e9","user_id":"u2","event_type":"view","event_time":"2026-03-01T16:00:00Z"}\n'
)


def object_path(lake: Path, key: str, hour: str, stamp: str, gz: bool = False) -> Path:
    """raw/clickstream/YYYY/MM/DD/HH/clickstream-1-<stamp>-<uuid>[.gz]."""
    name = f"clickstream-1-{stamp}-{UUID[key]}" + (".gz" if gz else "")
    return lake / "raw" / "clickstream" / hour / name


def build_lake(lake: Path) -> dict[str, str]:
    """Write the titles CSV and the raw objects; returns each object's source_file URI by key."""
    (lake / "ref" / "titles").mkdir(parents=True, exist_ok=True)
    (lake / "ref" / "titles" / "titles.csv").write_text(TITLES_CSV, encoding="utf-8")
    paths = {
        "a": object_path(lake, "a", "2026/03/01/10", "2026-03-01-10-05-00"),
        "b": object_path(lake, "b", "2026/03/01/11", "2026-03-01-11-10-00", gz=True),
        "c": object_path(lake, "c", "2026/03/01/12", "2026-03-01-12-00-00"),
        "d": object_path(lake, "d", "2026/03/02/00", "2026-03-02-00-30-00"),
    }
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    paths["a"].write_text(OBJECT_A, encoding="utf-8")
    paths["b"].write_bytes(gzip.compress(OBJECT_B.encode("utf-8"), mtime=0))
    paths["c"].write_bytes(b"")
    paths["d"].write_text(OBJECT_D, encoding="utf-8")
    return {key: f"file:{path}" for key, path in paths.items()}


def ts(text: str) -> datetime:
    """A UTC instant from ISO text (naive UTC: the Spark session time zone is UTC)."""
    return datetime.fromisoformat(text).astimezone(UTC).replace(tzinfo=None)


def session_id(user_id: str, first_event_id: str) -> str:
    """The documented derivation, computed independently of Spark."""
    return hashlib.sha256(f"{user_id}\x1f{first_event_id}".encode()).hexdigest()[:32]


INGESTED = {
    "a": ts("2026-03-01T10:05:00Z"),
    "b": ts("2026-03-01T11:10:00Z"),
    "d": ts("2026-03-02T00:30:00Z"),
}
TITLE_T2 = 'He said "Hi", then left'


# events.properties: the fields beyond the contract's (only e2 has one).
PROPERTIES = {"e2": '{"device":{"kind":"tv"}}'}


def expected_events(src: dict[str, str]) -> list[tuple]:
    """event_id, user_id, event_type, event_time, title_id, title, genre, session_id, ingested_at,
    source_file, properties, dt."""
    return [(*row[:-1], PROPERTIES.get(row[0]), row[-1]) for row in _event_rows(src)]


def _event_rows(src: dict[str, str]) -> list[tuple]:
    """expected_events without properties."""
    s_u1a, s_u1b, s_u1c = session_id("u1", "e1"), session_id("u1", "e4"), session_id("u1", "e7")
    s_u2a, s_u2b, s_u3 = session_id("u2", "e3"), session_id("u2", "e9"), session_id("u3", "e5")
    a, b, d = (INGESTED[k] for k in "abd")
    return [
        (
            "e1",
            "u1",
            "view",
            ts("2026-03-01T10:00:00Z"),
            "t1",
            "오징어 게임",
            "drama",
            s_u1a,
            a,
            src["a"],
            "2026-03-01",
        ),
        (
            "e2",
            "u1",
            "play",
            ts("2026-03-01T10:30:00Z"),
            "t1",
            "오징어 게임",
            "drama",
            s_u1a,
            a,
            src["a"],
            "2026-03-01",
        ),
        (
            "e3",
            "u2",
            "view",
            ts("2026-03-01T10:10:00Z"),
            "t2",
            TITLE_T2,
            "comedy",
            s_u2a,
            a,
            src["a"],
            "2026-03-01",
        ),
        (
            "e4",
            "u1",
            "pause",
            ts("2026-03-01T11:00:00.001Z"),
            "t1",
            "오징어 게임",
            "drama",
            s_u1b,
            a,
            src["a"],
            "2026-03-01",
        ),
        (
            "e5",
            "u3",
            "search",
            ts("2026-03-01T11:00:00Z"),
            None,
            None,
            None,
            s_u3,
            b,
            src["b"],
            "2026-03-01",
        ),
        (
            "e6",
            "u3",
            "view",
            ts("2026-03-01T11:20:00Z"),
            "unknown-title",
            None,
            None,
            s_u3,
            b,
            src["b"],
            "2026-03-01",
        ),
        (
            "e7",
            "u1",
            "view",
            ts("2026-03-01T23:50:00Z"),
            "t3",
            "Commas, commas",
            "documentary",
            s_u1c,
            d,
            src["d"],
            "2026-03-01",
        ),
        (
            "e8",
            "u1",
            "play",
            ts("2026-03-02T00:10:00Z"),
            "t3",
            "Commas, commas",
            "documentary",
            s_u1c,
            d,
            src["d"],
            "2026-03-02",
        ),
        (
            "e9",
            "u2",
            "view",
            ts("2026-03-01T16:00:00Z"),
            None,
            None,
            None,
            s_u2b,
            d,
            src["d"],
            "2026-03-01",
        ),
    ]


def expected_sessions() -> list[tuple]:
    """session_id, user_id, session_start, session_end, event_count, duration_seconds, dt."""
    return [
        (
            session_id("u1", "e1"),
            "u1",
            ts("2026-03-01T10:00:00Z"),
            ts("2026-03-01T10:30:00Z"),
            2,
            1800.0,
            "2026-03-01",
        ),
        (
            session_id("u1", "e4"),
            "u1",
            ts("2026-03-01T11:00:00.001Z"),
            ts("2026-03-01T11:00:00.001Z"),
            1,
            0.0,
            "2026-03-01",
        ),
        (
            session_id("u1", "e7"),
            "u1",
            ts("2026-03-01T23:50:00Z"),
            ts("2026-03-02T00:10:00Z"),
            2,
            1200.0,
            "2026-03-01",
        ),
        (
            session_id("u2", "e3"),
            "u2",
            ts("2026-03-01T10:10:00Z"),
            ts("2026-03-01T10:10:00Z"),
            1,
            0.0,
            "2026-03-01",
        ),
        (
            session_id("u2", "e9"),
            "u2",
            ts("2026-03-01T16:00:00Z"),
            ts("2026-03-01T16:00:00Z"),
            1,
            0.0,
            "2026-03-01",
        ),
        (
            session_id("u3", "e5"),
            "u3",
            ts("2026-03-01T11:00:00Z"),
            ts("2026-03-01T11:20:00Z"),
            2,
            1200.0,
            "2026-03-01",
        ),
    ]


# active_users, events, new_users, returning_users, active_users_7d, active_users_28d, dt
EXPECTED_DAU = [(3, 8, 3, 0, 3, 3, "2026-03-01"), (1, 1, 0, 1, 3, 3, "2026-03-02")]


def expected_quarantine(src: dict[str, str]) -> list[tuple]:
    """record, reason, source_file, ingested_at, dt (UTC arrival date)."""
    a, b = INGESTED["a"], INGESTED["b"]
    return [
        ("this is not json", "not_json", src["a"], a, "2026-03-01"),
        (BAD_DATE, "invalid_event_time", src["b"], b, "2026-03-01"),
        (BAD_WORD, "invalid_event_time", src["b"], b, "2026-03-01"),
        (NO_USER, "missing_user_id", src["b"], b, "2026-03-01"),
        ("[1,2]", "not_an_object", src["b"], b, "2026-03-01"),
    ]


def expected_table(spark: SparkSession, table: Table, sources: dict[str, str]) -> DataFrame:
    """The rows the end-to-end tests expect of events, sessions, DAU or quarantine, as a frame."""
    rows = {
        EVENTS.name: lambda: expected_events(sources),
        SESSIONS.name: expected_sessions,
        DAILY_ACTIVE_USERS.name: lambda: EXPECTED_DAU,
        QUARANTINE.name: lambda: expected_quarantine(sources),
    }[table.name]()
    return spark.createDataFrame(rows, table_schema(table))
