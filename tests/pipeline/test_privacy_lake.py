"""Privacy through the whole pipeline: pseudonymous ids and field controls leave no original
anywhere under the lake root but the raw zone; quarantine retention; owner-only local modes."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from clickstream.config import Settings
from clickstream.pipeline.runner import run_pipeline
from clickstream.privacy import keyed_hash
from clickstream.tables import (
    DAILY_ACTIVE_USERS,
    EVENTS,
    QUARANTINE,
    SESSIONS,
    USER_ACTIVITY,
    USERS,
)
from clickstream.writer import read_table
from tests.pipeline import incremental_helpers as ih
from tests.pipeline.lake_fixture import TITLES_CSV

pytestmark = pytest.mark.slow

Check = Callable[..., None]
KEY_ENV = "TEST_PRIVACY_LAKE_KEY"
KEY = "a-test-key-of-forty-characters-for-hmac"
USERS_RAW = ("alice@example.com", "bob.smith-42", "carol+7781")
EMAIL, IP, DEVICE = "alice.private@example.com", "203.0.113.77", "device-serial-XYZ-981"
CONTROLS = [
    "pseudonymize_user_id=true",
    f"pseudonymize_key_env={KEY_ENV}",
    "properties_drop=email",
    "properties_hash=$.device.id",
    "properties_mask_ip=context.ip",
    # a double click within 5 s is kept in _state/repeat_suppressed: state holds the user too
    "repeat_window_seconds=5",
]


def _event(event_id: str, user: str, at: str, **extra: object) -> str:
    record = {"event_id": event_id, "user_id": user, "event_type": "play", "event_time": at}
    return json.dumps({**record, "title_id": "t1", **extra})


def _write(lake: Path, hour: str, stamp: str, lines: list[str]) -> None:
    folder = lake / "raw" / "clickstream" / hour
    folder.mkdir(parents=True, exist_ok=True)
    name = f"clickstream-1-{stamp}-0a0a0a0a-0000-4000-8000-{stamp[-2:] * 6}"
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def build(lake: Path) -> None:
    """Two days of events of three users, personal properties, rejected records naming users."""
    (lake / "ref" / "titles").mkdir(parents=True)
    (lake / "ref" / "titles" / "titles.csv").write_text(TITLES_CSV, encoding="utf-8")
    alice, bob, carol = USERS_RAW
    personal = {"email": EMAIL, "context": {"ip": IP, "page": "home"}, "device": {"id": DEVICE}}
    _write(
        lake,
        "2026/03/01/10",
        "2026-03-01-10-05-00",
        [
            _event("e1", alice, "2026-03-01T10:00:00Z", **personal),
            _event("e2", alice, "2026-03-01T10:00:02Z"),  # a repeat: suppressed, kept in state
            _event("e3", bob, "2026-03-01T10:01:00Z"),
            _event("e4", alice, "2026-03-01T11:00:00Z"),
            _event("bad1", carol, "2026-02-30T01:00:00Z", email=EMAIL),  # parses, rejected
            f'{{"event_id":"bad2","user_id":"{bob}","event_time":',  # cut short: not JSON
        ],
    )
    _write(
        lake,
        "2026/03/02/09",
        "2026-03-02-09-00-00",
        [
            _event("e5", carol, "2026-03-02T08:00:00Z", context={"ip": IP}),
            _event("e6", bob, "2026-03-02T08:30:00Z"),
            _event("e7", alice, "2026-03-01T23:50:00Z"),
        ],
    )


def _pseudonymized(frame: DataFrame, column: str = "user_id") -> DataFrame:
    """frame with user_id replaced by its keyed hash (what the pseudonymized lake stores)."""
    pseudonym = F.udf(lambda u: keyed_hash(KEY.encode(), u), "string")
    return frame.withColumn(column, pseudonym(column))


def _texts_under(root: Path) -> dict[Path, str]:
    """Every file under the lake root but the raw zone, as text (Parquet: its string values)."""
    found = {}
    for path in root.rglob("*"):
        if not path.is_file() or path.suffix == ".crc" or "raw" in path.relative_to(root).parts[:1]:
            continue
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            found[path] = json.dumps(table.to_pylist(), default=str, ensure_ascii=False)
        else:
            found[path] = path.read_bytes().decode("utf-8", "replace")
    return found


@pytest.fixture
def lakes(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Settings, Settings]:
    """The same raw zone curated twice: with raw ids, and pseudonymized with field controls."""
    monkeypatch.setenv(KEY_ENV, KEY)
    plain, private = tmp_path / "plain", tmp_path / "private"
    build(plain)
    build(private)
    a = ih.lake_settings(plain, ["repeat_window_seconds=5"])
    b = ih.lake_settings(private, CONTROLS)
    run_pipeline(a, spark=spark, echo=ih.quiet)
    run_pipeline(b, spark=spark, echo=ih.quiet)
    return a, b


def test_a_pseudonymized_lake_has_the_sessions_and_metrics_of_the_raw_ids(
    spark: SparkSession, lakes: tuple[Settings, Settings], assert_frames_equal: Check
) -> None:
    plain, private = lakes
    # THEN DAU (new, returning, 7/28-day actives) is the same table
    assert_frames_equal(
        read_table(spark, private.lake, DAILY_ACTIVE_USERS),
        read_table(spark, plain.lake, DAILY_ACTIVE_USERS),
    )
    # AND sessions, user activity and users are those of the raw ids under their pseudonyms
    # (session_id derives from the stored user_id, so it differs)
    for table in (SESSIONS, USER_ACTIVITY, USERS):
        mine = read_table(spark, private.lake, table)
        raw = _pseudonymized(read_table(spark, plain.lake, table))
        if table is SESSIONS:
            mine, raw = mine.drop("session_id"), raw.drop("session_id")
        assert_frames_equal(mine, raw)
    # AND the events are the same events, each with its user's pseudonym
    events = read_table(spark, private.lake, EVENTS).select("event_id", "user_id")
    expected = _pseudonymized(read_table(spark, plain.lake, EVENTS).select("event_id", "user_id"))
    assert_frames_equal(events, expected)


def test_no_raw_user_id_or_controlled_value_is_left_under_the_lake_root_but_in_raw(
    spark: SparkSession, lakes: tuple[Settings, Settings]
) -> None:
    _, private = lakes
    texts = _texts_under(Path(private.lake))
    # the lake has events, quarantine and state files (the repeat-suppressed event included)
    parts = {p.relative_to(private.lake).parts[0] for p in texts}
    assert {"curated", "quarantine", "_state", "_runs"} <= parts
    assert any("repeat_suppressed" in str(p) for p in texts)
    for secret in (*USERS_RAW, EMAIL, IP, DEVICE):
        holders = [str(p) for p, text in texts.items() if secret in text]
        assert holders == [], f"{secret!r} found in {holders}"
    # AND the raw zone still holds them (it is never rewritten)
    raw = "".join(p.read_text() for p in (Path(private.lake) / "raw").rglob("*") if p.is_file())
    assert all(secret in raw for secret in (*USERS_RAW, EMAIL, IP, DEVICE))


def test_field_controls_shape_properties_and_quarantine_records(
    spark: SparkSession, lakes: tuple[Settings, Settings]
) -> None:
    _, private = lakes
    key = KEY.encode()
    events = {r.event_id: r for r in read_table(spark, private.lake, EVENTS).collect()}
    # THEN the email is gone, the IP masked, the device id a keyed hash, the rest kept
    assert json.loads(events["e1"].properties) == {
        "context": {"ip": "203.0.113.0", "page": "home"},
        "device": {"id": keyed_hash(key, DEVICE)},
    }
    assert json.loads(events["e5"].properties) == {"context": {"ip": "203.0.113.0"}}
    # AND the rejected records are stored controlled: JSON re-serialized, a cut line scrubbed
    quarantine = {r.reason: r.record for r in read_table(spark, private.lake, QUARANTINE).collect()}
    assert json.loads(quarantine["invalid_event_time"]) == {
        "event_id": "bad1",
        "user_id": keyed_hash(key, "carol+7781"),
        "event_type": "play",
        "event_time": "2026-02-30T01:00:00Z",
        "title_id": "t1",
    }
    cut = f'{{"event_id":"bad2","user_id":"{keyed_hash(key, "bob.smith-42")}","event_time":'
    assert quarantine["not_json"].strip() == cut


def test_local_quarantine_state_and_run_records_are_owner_only(
    lakes: tuple[Settings, Settings],
) -> None:
    _, private = lakes
    root = Path(private.lake)
    for name in ("quarantine", "_state", "_runs"):
        assert stat.S_IMODE((root / name).stat().st_mode) == 0o700, name
    records = [p for p in (root / "_runs").rglob("*.json")] + [root / "_state" / "rules.json"]
    assert records and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in records)


@pytest.mark.parametrize("table_format", ["parquet", "delta"])
def test_quarantine_dates_past_the_retention_are_dropped_and_counted(
    spark: SparkSession, tmp_path: Path, table_format: str
) -> None:
    # GIVEN a rejected record arriving on 2026-03-01, and one 40 days later
    lake = tmp_path / "lake"
    (lake / "ref" / "titles").mkdir(parents=True)
    (lake / "ref" / "titles" / "titles.csv").write_text(TITLES_CSV, encoding="utf-8")
    _write(lake, "2026/03/01/10", "2026-03-01-10-05-00", ["not json 1"])
    settings = ih.lake_settings(lake, [f"table_format={table_format}"])
    run_pipeline(settings, ["curate_events"], spark=spark, echo=ih.quiet)
    _write(lake, "2026/04/10/10", "2026-04-10-10-05-00", ["not json 2", "not json 3"])
    # WHEN the next run sees the later arrival (retention 30 days by default)
    summary = run_pipeline(settings, ["curate_events"], spark=spark, echo=ih.quiet)
    # THEN the older arrival date is gone from quarantine, the new one kept, and counted
    dts = sorted({r.dt for r in read_table(spark, settings.lake, QUARANTINE).collect()})
    assert dts == ["2026-04-10"]
    figures = summary["jobs"]["curate_events"]
    assert (figures["quarantine_expired_dates"], figures["quarantine_expired_rows"]) == (1, 1)
    assert figures["quarantined"] == 2
    # AND a run with the retention off keeps everything it writes
    _write(lake, "2027/01/01/10", "2027-01-01-10-05-00", ["not json 4"])
    off = ih.lake_settings(lake, [f"table_format={table_format}", "quarantine_retention_days=null"])
    summary = run_pipeline(off, ["curate_events"], spark=spark, echo=ih.quiet)
    dts = sorted({r.dt for r in read_table(spark, settings.lake, QUARANTINE).collect()})
    assert dts == ["2026-04-10", "2027-01-01"]
    assert "quarantine_expired_rows" not in summary["jobs"]["curate_events"]
