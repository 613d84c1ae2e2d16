"""`clickstream forget`: two users leave every table, index and state file; the metrics equal a
full run without their records; later batches and rebuilds never bring them back; --purge-raw
rewrites the raw objects that hold them, and the next run reads nothing new."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from clickstream.config import Settings
from clickstream.forgotten_users import add_forgotten, suppression_key
from clickstream.maintenance import maintain
from clickstream.pipeline import writers_of
from clickstream.pipeline.forget import forget
from clickstream.pipeline.runner import rebuild_lake, run_pipeline
from clickstream.privacy import keyed_hash
from clickstream.tables import DELTA_CAPABLE, EVENTS, QUARANTINE, Table
from clickstream.writer import read_table
from tests.pipeline import incremental_helpers as ih
from tests.pipeline.lake_fixture import TITLES_CSV
from tests.pipeline.test_privacy_lake import (
    KEY,
    USERS_RAW,
    _event,
    _texts_under,
    _write,
)

pytestmark = pytest.mark.slow

Check = Callable[..., None]
ALICE, BOB, CAROL = USERS_RAW
FORGOTTEN = (ALICE, CAROL)
# Every event_id of the forgotten users starts so (copies, rejected and cut records included).
THEIR_EVENT_IDS = ("evt-alice-", "evt-carol-")
# A double click within 5 s is kept in _state/repeat_suppressed: state holds the user too.
SETTINGS = ["repeat_window_seconds=5"]
# The tables a full run without their records must equal (quarantine keeps forgotten_user rows).
COMPARED: tuple[Table, ...] = tuple(t for t in ih.COMPARED if t is not QUARANTINE)
SECOND_HOUR = "2026/03/02/09"
LATER_HOUR = "2026/03/03/09"
CURATE = "curate_events"


def _gzip_object(lake: Path, hour: str, stamp: str, lines: list[str]) -> None:
    """A gzip raw object (Firehose's name with .gz)."""
    _write(lake, hour, stamp, lines)
    plain = next((lake / "raw" / "clickstream" / hour).glob(f"*{stamp}*"))
    plain.with_name(plain.name + ".gz").write_bytes(gzip.compress(plain.read_bytes(), mtime=0))
    plain.unlink()


def build(lake: Path) -> None:
    """Three users over three days; the last object (LATER_HOUR) is the later batch."""
    (lake / "ref" / "titles").mkdir(parents=True)
    (lake / "ref" / "titles" / "titles.csv").write_text(TITLES_CSV, encoding="utf-8")
    _write(
        lake,
        "2026/03/01/10",
        "2026-03-01-10-05-00",
        [
            _event("evt-alice-01", ALICE, "2026-03-01T10:00:00Z", email="a@example.com"),
            _event("evt-alice-02", ALICE, "2026-03-01T10:00:02Z"),  # a repeat: suppressed
            _event("evt-bob-01", BOB, "2026-03-01T10:01:00Z"),
            _event("evt-alice-03", ALICE, "2026-03-01T11:00:00Z"),
            _event("evt-carol-01", CAROL, "2026-03-01T12:00:00Z"),
            _event("evt-carol-bad", CAROL, "2026-02-30T01:00:00Z"),  # parses, rejected
            f'{{"event_id":"evt-alice-cut","user_id":"{ALICE}","event_time":',  # not JSON
            f'{{"event_id":"evt-bob-cut","user_id":"{BOB}","event_time":',  # not JSON, kept
        ],
    )
    _gzip_object(
        lake,
        SECOND_HOUR,
        "2026-03-02-09-00-00",
        [
            _event("evt-carol-02", CAROL, "2026-03-02T08:00:00Z"),
            _event("evt-bob-02", BOB, "2026-03-02T08:30:00Z"),
            _event("evt-alice-04", ALICE, "2026-03-01T23:50:00Z"),  # late, for 03-01
            _event("evt-alice-01", ALICE, "2026-03-01T10:00:00Z"),  # a re-delivery
        ],
    )
    _write(
        lake,
        LATER_HOUR,
        "2026-03-03-09-00-00",
        [
            _event("evt-alice-05", ALICE, "2026-03-03T09:00:00Z"),
            _event("evt-bob-03", BOB, "2026-03-03T09:10:00Z"),
            _event("evt-carol-03", CAROL, "2026-03-03T09:20:00Z"),
        ],
    )


def _park(lake: Path, parked: Path, hour: str) -> Path:
    """Move the objects of an arrival hour aside (a later batch); parked."""
    later = [p for p in ih.raw_objects(lake) if ih.relative(p, lake).startswith(hour)]
    ih.copy_objects(later, lake, parked)
    for path in later:
        path.unlink()
    return parked


def _secrets(settings: Settings) -> list[str]:
    """What no file of the lake but the raw zone may hold: their ids, as stored too, and
    their event_ids."""
    pseudonymized = settings.values["pseudonymize_user_id"]
    stored = [keyed_hash(KEY.encode(), u) for u in FORGOTTEN] if pseudonymized else []
    return [*FORGOTTEN, *stored, *THEIR_EVENT_IDS]


def _assert_no_file_holds_them(settings: Settings, texts: dict[Any, str]) -> None:
    for secret in _secrets(settings):
        holders = [str(p) for p, text in texts.items() if secret in text]
        assert holders == [], f"{secret!r} found in {holders}"


def _raw_texts(lake: Path) -> dict[Path, str]:
    """Every raw object's content as text (gzip decompressed)."""
    texts = {}
    for path in ih.raw_objects(lake):
        data = path.read_bytes()
        texts[path] = (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode()
    return texts


def _assert_same_as_without_them(
    spark: SparkSession, actual: Settings, expected: Settings, assert_frames_equal: Check
) -> None:
    for table in COMPARED:
        assert_frames_equal(
            ih.comparable(spark, actual, table), ih.comparable(spark, expected, table)
        )


@pytest.fixture(scope="module")
def without_them(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The expected lake: a full run over every raw object with both users on the suppression
    list before it starts (their records dropped as they are read)."""
    lake = tmp_path_factory.mktemp("without-them")
    build(lake)
    settings = ih.lake_settings(lake, SETTINGS)
    key = suppression_key(settings)
    add_forgotten(settings, key, [key.hash(u) for u in FORGOTTEN])
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    return settings


@pytest.fixture(scope="module", params=["parquet", "delta"])
def forgotten(
    request: pytest.FixtureRequest, spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """A lake curated from the first two days, then both users forgotten, then the later batch
    run: the settings, forget's record and output, and the later run's summary. With Parquet
    the two days come in two runs, so the second's change set has ranges naming the users (the
    change sets are Parquet state in either format)."""
    table_format = request.param
    lake = tmp_path_factory.mktemp(f"forget-{table_format}")
    build(lake)
    later = _park(lake, tmp_path_factory.mktemp("later"), LATER_HOUR)
    settings = ih.lake_settings(lake, [*SETTINGS, f"table_format={table_format}"])
    if table_format == "parquet":
        second = _park(lake, tmp_path_factory.mktemp("second"), SECOND_HOUR)
        run_pipeline(settings, spark=spark, echo=ih.quiet)
        ih.bring_back(second, lake)
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    lines: list[str] = []
    # Delta purges the raw zone at once (the purge on Parquet is a test of its own)
    purge = table_format == "delta"
    record = forget(settings, FORGOTTEN, purge_raw=purge, spark=spark, echo=lines.append)
    ih.bring_back(later, lake)
    later = run_pipeline(settings, spark=spark, echo=ih.quiet)
    yield {"settings": settings, "record": record, "lines": lines, "later": later}


def test_forget_removes_their_rows_and_reports_what_it_did(forgotten: dict[str, Any]) -> None:
    record, lines = forgotten["record"], forgotten["lines"]
    # THEN the erasure record counts the rows removed per table, with hashed ids only
    removed = record["rows_removed"]
    assert removed["events"] == 5  # alice 01, 03, 04; carol 01, 02
    assert removed["repeat_suppressed"] == 1  # alice 02
    assert removed["event_index"] == 6
    assert removed["sessions"] == 5  # alice's three of 03-01 (gaps over 30 min), carol's two
    assert removed["quarantine_clickstream"] == 2  # carol's bad date, alice's cut line
    assert removed["user_activity"] == 3 and removed["users"] == 2
    if forgotten["settings"].table_format == "parquet":  # the second run's ranges of both
        assert removed["change_set_ranges"] == 2
    assert record["daily_active_users_dates_recomputed"] == 2
    assert ALICE not in json.dumps(record) and CAROL not in json.dumps(record)
    if forgotten["settings"].table_format == "parquet":
        # AND without --purge-raw the output names the raw objects still holding them
        assert sorted(record["raw_objects_holding"].values()) == [3, 6]
        assert any("2 raw object(s) still hold their records" in line for line in lines)
    else:
        # AND with it, the two objects that held them are rewritten, reported per object, and
        # the next run reads only the object that arrived since
        rewritten = record["raw_objects_rewritten"]
        assert sorted(r["records_removed"] for r in rewritten) == [3, 6]
        assert sum(line.startswith("  raw ") for line in lines) == 2
        assert forgotten["later"]["jobs"][CURATE]["objects"] == 1
        assert any("Delta: the deletes are commits" in line for line in lines)


def test_metrics_equal_a_full_run_without_their_records(
    spark: SparkSession,
    forgotten: dict[str, Any],
    without_them: Settings,
    assert_frames_equal: Check,
) -> None:
    # THEN events, sessions, DAU, user activity and users equal the full run without them
    _assert_same_as_without_them(spark, forgotten["settings"], without_them, assert_frames_equal)


def test_a_later_batch_with_their_events_curates_none_and_counts_them(
    spark: SparkSession, forgotten: dict[str, Any]
) -> None:
    figures = forgotten["later"]["jobs"]["curate_events"]
    # THEN alice's and carol's later events are forgotten_user, bob's curated
    assert figures["quarantined_by_reason"] == {"forgotten_user": 2}
    assert figures["curated"] == 1
    users = {r.user_id for r in read_table(spark, forgotten["settings"].lake, EVENTS).collect()}
    assert users == {BOB}


def test_no_table_index_or_state_file_holds_their_ids_or_event_ids(
    spark: SparkSession, forgotten: dict[str, Any]
) -> None:
    settings = forgotten["settings"]
    if settings.table_format == "delta":
        # Delta: the old versions' files hold them until maintain vacuums past the retention
        delta = ih.lake_settings(
            Path(settings.lake), [*SETTINGS, "table_format=delta", "delta_retention_days=0"]
        )
        maintain(delta, writers=writers_of(DELTA_CAPABLE), spark=spark, echo=ih.quiet)
    texts = _texts_under(Path(settings.lake))
    # the scan reaches the tables, quarantine, the index and the change sets
    scanned = "\n".join(str(p) for p in texts)
    for part in ("curated/events", "quarantine/clickstream", "_state/event_index", "ranges"):
        assert part in scanned
    if settings.table_format == "delta":  # the Delta log's statistics of removed files aside
        texts = {p: t for p, t in texts.items() if "_delta_log" not in p.parts}
    _assert_no_file_holds_them(settings, texts)
    # AND bob is still there
    assert any(BOB in text for text in texts.values())


def test_rebuild_brings_none_back(
    spark: SparkSession,
    forgotten: dict[str, Any],
    without_them: Settings,
    assert_frames_equal: Check,
) -> None:
    settings = forgotten["settings"]
    if settings.table_format == "delta":
        pytest.skip("the reader drops them whatever the format: one rebuild (Parquet) shows it")
    summary = rebuild_lake(settings, spark=spark, echo=ih.quiet)
    assert summary["jobs"]["curate_events"]["quarantined_by_reason"]["forgotten_user"] == 11
    _assert_same_as_without_them(spark, settings, without_them, assert_frames_equal)


def test_purge_raw_leaves_no_raw_object_holding_them_and_the_next_run_reads_nothing_new(
    spark: SparkSession,
    forgotten: dict[str, Any],
    without_them: Settings,
    assert_frames_equal: Check,
) -> None:
    settings = forgotten["settings"]
    if settings.table_format == "delta":
        pytest.skip("the Delta lake was purged by its first forget (test_forget_removes_...)")
    lake = Path(settings.lake)
    gz = [p for p in ih.raw_objects(lake) if p.suffix == ".gz"]
    # WHEN forget runs again with --purge-raw
    lines: list[str] = []
    record = forget(settings, FORGOTTEN, purge_raw=True, spark=spark, echo=lines.append)
    # THEN every object that held them is rewritten without them, reported per object
    rewritten = {r["object"].split("/")[-1]: r for r in record["raw_objects_rewritten"]}
    assert sorted(r["records_removed"] for r in rewritten.values()) == [2, 3, 6]
    assert sum(line.startswith("  raw ") for line in lines) == 3
    texts = _raw_texts(lake)
    for secret in (*FORGOTTEN, *THEIR_EVENT_IDS):
        assert not [p for p, t in texts.items() if secret in t], secret
    # AND bob's records are all still there, gzip kept gzip
    assert sum(t.count(BOB) for t in texts.values()) == 4
    assert [p for p in ih.raw_objects(lake) if p.suffix == ".gz"] == gz
    # AND the next run reads nothing new
    summary = run_pipeline(settings, [CURATE], spark=spark, echo=ih.quiet)
    assert summary["jobs"][CURATE]["objects"] == 0
    # AND the tables still equal the full run without them
    _assert_same_as_without_them(spark, settings, without_them, assert_frames_equal)
