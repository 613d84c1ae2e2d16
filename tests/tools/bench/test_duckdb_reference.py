"""The DuckDB reference agrees with the Spark reader and transforms on a tiny generated sample."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import duckdb
import pytest
from pyspark.sql import DataFrame, SparkSession

from clickstream.firehose_reader import ReaderLimits, read_firehose, split_valid
from clickstream.raw_objects import list_raw_objects
from clickstream.transforms import daily_active_users, dedup_events, sessionize
from clickstream_tools.bench.duckdb_reference import _SESSIONIZE, connect, run_reference
from clickstream_tools.sample import SampleReport, generate_sample

DAU = "dt string, active_users long, events long"
Check = Callable[..., None]
MakeFrame = Callable[..., DataFrame]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SampleReport]:
    """A 2,000-event sample lake with every raw layout, re-deliveries and malformed records."""
    root = tmp_path_factory.mktemp("bench-lake")
    return root, generate_sample(root, events=2000, users=40, days=2, seed=5)


@pytest.fixture(scope="module")
def reference(
    lake: tuple[Path, SampleReport],
) -> tuple[duckdb.DuckDBPyConnection, dict[str, Any]]:
    """The DuckDB reference run on the lake (no Parquet written); its tables stay in con."""
    con = connect(threads=2)
    return con, run_reference(con, str(lake[0]))


@pytest.fixture(scope="module")
def spark_events(spark: SparkSession, lake: tuple[Path, SampleReport]) -> DataFrame:
    """Valid events of the lake through the project's reader and dedup_events, cached."""
    objects = list_raw_objects(spark, f"{lake[0]}/raw/clickstream")
    valid, _ = split_valid(read_firehose(spark, objects))
    return dedup_events(valid).cache()


def test_reference_reads_every_record_like_the_generator(
    lake: tuple[Path, SampleReport], reference: tuple[duckdb.DuckDBPyConnection, dict[str, Any]]
) -> None:
    report, result = lake[1], reference[1]
    assert result["records_read"] == report.records
    assert result["valid"] == report.valid_records
    assert result["curated"] == report.unique_events
    assert result["quarantined_by_reason"] == report.malformed_by_reason


def test_dau_equals_spark_daily_active_users(
    make_frame: MakeFrame,
    spark_events: DataFrame,
    reference: tuple[duckdb.DuckDBPyConnection, dict[str, Any]],
    assert_frames_equal: Check,
) -> None:
    rows = [(r["dt"], r["active_users"], r["events"]) for r in reference[1]["dau"]]
    assert len(rows) >= 2
    counts = daily_active_users(spark_events).select("dt", "active_users", "events")
    assert_frames_equal(counts, make_frame(rows, DAU, expected=True))


def test_sessions_equal_spark_sessionize(
    make_frame: MakeFrame,
    spark_events: DataFrame,
    reference: tuple[duckdb.DuckDBPyConnection, dict[str, Any]],
    assert_frames_equal: Check,
) -> None:
    con, result = reference
    sessions = sessionize(spark_events).select("session_id").distinct()
    ids = [(r[0],) for r in con.execute("SELECT session_id FROM sessions").fetchall()]
    assert len(ids) == result["sessions"]
    # Equal frames have equal row counts: Spark's session count is the reference's too.
    assert_frames_equal(sessions, make_frame(ids, "session_id string", expected=True))


def test_reference_writes_curated_parquet(lake: tuple[Path, SampleReport], tmp_path: Path) -> None:
    con = connect(threads=2)
    result = run_reference(con, str(lake[0]), str(tmp_path))

    def count(table: str, expr: str = "count(*)") -> int:
        files = str(tmp_path / table / "*" / "*.parquet")
        row = con.execute(f"SELECT {expr} FROM read_parquet($f)", {"f": files}).fetchone()
        return int(row[0]) if row else -1

    assert count("curated/events") == result["curated"]
    assert count("curated/daily_active_users", "sum(events)") == result["curated"]
    assert count("curated/sessions") == result["sessions"]
    assert count("quarantine/clickstream") == result["quarantined"]


def test_reference_applies_the_session_cap_like_spark(
    spark: SparkSession, make_frame: MakeFrame, assert_frames_equal: Check
) -> None:
    # GIVEN an always-on client (an event every 25 minutes for 60 hours) and a short visitor
    con = connect(threads=1)
    con.execute(
        "CREATE TEMP TABLE deduped AS SELECT 'e' || lpad(i::VARCHAR, 3, '0') AS event_id, "
        "'u1' AS user_id, 'view' AS event_type, "
        "TIMESTAMPTZ '2026-03-01 00:00:00+00' + i * INTERVAL 25 MINUTE AS event_time, "
        "NULL::VARCHAR AS title_id, TIMESTAMPTZ '2026-03-04 00:00:00+00' AS ingested_at, "
        "'f' AS source_file FROM range(144) t(i) "
        "UNION ALL SELECT 'x1', 'u2', 'view', TIMESTAMPTZ '2026-03-01 05:00:00+00', NULL, "
        "TIMESTAMPTZ '2026-03-04 00:00:00+00', 'f'"
    )
    rows = con.execute("SELECT event_id, user_id, event_type, event_time FROM deduped").fetchall()
    # WHEN both sessionize with a 24-hour cap
    con.execute(
        _SESSIONIZE.replace("{timeout_us}", str(30 * 60 * 1_000_000)).replace(
            "{cap_us}", str(24 * 3600 * 1_000_000)
        )
    )
    duck = con.execute("SELECT event_id, session_id FROM events").fetchall()
    frame = make_frame(
        [(e, u, k, t.astimezone(UTC)) for e, u, k, t in rows],
        "event_id string, user_id string, event_type string, event_time timestamp",
    )
    sessions = sessionize(frame, max_session_hours=24).select("event_id", "session_id")
    # THEN they give the same session of every event: 3 capped sessions for u1, 1 for u2
    assert_frames_equal(
        sessions, make_frame(duck, "event_id string, session_id string", expected=True)
    )
    assert len({s for _, s in duck}) == 4


def test_reference_gives_the_readers_reasons_for_types_sizes_and_the_time_window(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN one object of records breaking the rules issue 25 added, beside valid ones
    def record(event_id: object, event_time: object, **extra: object) -> str:
        fields = {"event_id": event_id, "user_id": "u1", "event_type": "view"}
        return json.dumps({**fields, "event_time": event_time, **extra})

    records = [
        record(123, "2026-03-01T09:00:00Z"),  # invalid_type
        json.dumps({"event_id": 1, "event_type": "v", "event_time": 0}),  # missing_user_id
        record("f", "2026-03-02T10:00:06Z"),  # in the future by 1 day and 1 s
        record("o", "2026-01-30T10:00:04Z"),  # older than 30 days by 1 s
        record("big", "2026-03-01T09:00:00Z", pad="x" * 2000),  # record_too_large (1 KiB)
        record("ok1", "2026-03-02T10:00:05Z"),  # exactly a day ahead
        record("ok2", "2026-01-30T10:00:05Z"),  # exactly 30 days back
    ]
    folder = tmp_path / "raw" / "clickstream" / "2026" / "03" / "01" / "10"
    folder.mkdir(parents=True)
    name = "clickstream-1-2026-03-01-10-00-05-0f8fad5b-d9cb-469f-a165-70867728950e"
    (folder / name).write_text("\n".join(records) + "\n")

    # WHEN the reference and the reader read it with a 1 KiB record limit
    result = run_reference(connect(threads=1), str(tmp_path), max_record_kib=1)
    objects = list_raw_objects(spark, str(tmp_path / "raw" / "clickstream"))
    parsed = read_firehose(spark, objects, limits=ReaderLimits(max_record_kib=1))
    spark_reasons = Counter(r["reason"] for r in parsed.collect())

    # THEN both give every record the same reason, counted alike
    assert result["quarantined_by_reason"] == {
        "event_time_in_future": 1,
        "event_time_too_old": 1,
        "invalid_type": 1,
        "missing_user_id": 1,
        "record_too_large": 1,
    }
    assert result["quarantined_by_reason"] == {k: n for k, n in spark_reasons.items() if k}
    assert result["valid"] == spark_reasons[None] == 2
