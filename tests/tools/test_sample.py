"""Sample raw zone: deterministic, Firehose-shaped, realistic, and its report accounts for it."""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from clickstream.firehose_reader import (
    REASONS,
    decode_object,
    event_time_micros,
    read_firehose,
    split_records,
)
from clickstream.raw_objects import list_raw_objects, name_timestamp_ms
from clickstream_tools.sample import SampleReport, generate_sample

EVENTS = 3000
FIREHOSE_NAME = re.compile(
    r"clickstream-1-(\d{4})-(\d{2})-(\d{2})-(\d{2})-\d{2}-\d{2}"
    r"-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}(\.gz)?"
)
SEOUL = timedelta(hours=9)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SampleReport]:
    """One small sample lake shared by the read-only tests of this module."""
    lake = tmp_path_factory.mktemp("sample-lake")
    return lake, generate_sample(lake, events=EVENTS, users=300, seed=11)


def _files(lake: Path) -> dict[str, bytes]:
    """Every file under lake by relative path, with its bytes."""
    return {
        str(p.relative_to(lake)): p.read_bytes() for p in sorted(lake.rglob("*")) if p.is_file()
    }


def _records(lake: Path) -> Iterator[tuple[Path, str, Any]]:
    """(object, raw text, parsed value) of every record of the raw zone, in pure Python."""
    for path in sorted((lake / "raw").rglob("*")):
        if path.is_file():
            records: list[str | None] = []
            values: list[Any] = []
            split_records(decode_object(path.read_bytes()) or "", records, values)
            for record, value in zip(records, values, strict=True):
                yield path, record or "", value


def _events(lake: Path) -> list[tuple[Path, dict[str, Any], int]]:
    """(object, event, event_time in epoch µs) of every record whose event_time is valid."""
    found = []
    for path, _, value in _records(lake):
        if isinstance(value, dict) and (micros := event_time_micros(value.get("event_time"))):
            found.append((path, value, micros))
    return found


def test_the_same_seed_writes_byte_identical_files(tmp_path: Path) -> None:
    # GIVEN two lakes generated with the same arguments
    first = generate_sample(tmp_path / "a", events=EVENTS, users=300, seed=5)
    second = generate_sample(tmp_path / "b", events=EVENTS, users=300, seed=5)

    # WHEN / THEN the same files, names and bytes are written, and the same report
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert {**first.__dict__, "lake_root": ""} == {**second.__dict__, "lake_root": ""}


def test_a_different_seed_writes_a_different_sample(tmp_path: Path) -> None:
    generate_sample(tmp_path / "a", events=500, users=50, seed=1)
    generate_sample(tmp_path / "b", events=500, users=50, seed=2)
    assert _files(tmp_path / "a") != _files(tmp_path / "b")


def test_reading_the_sample_accounts_for_every_record(
    spark: SparkSession, sample: tuple[Path, SampleReport]
) -> None:
    # GIVEN the generated sample and what its report says was written
    lake, report = sample

    # WHEN the raw zone is listed and read
    parsed = read_firehose(spark, list_raw_objects(spark, str(lake / "raw/clickstream")))
    by_reason = {
        row["reason"]: (row["records"], row["event_ids"])
        for row in parsed.groupBy("reason")
        .agg(F.count("*").alias("records"), F.countDistinct("event_id").alias("event_ids"))
        .collect()
    }

    # THEN records read == records written; rejected == malformed, reason by reason
    assert sum(records for records, _ in by_reason.values()) == report.records
    assert by_reason.pop(None) == (report.valid_records, report.unique_events)
    assert {reason: n for reason, (n, _) in by_reason.items()} == report.malformed_by_reason
    assert sum(report.malformed_by_reason.values()) == report.malformed
    assert set(report.malformed_by_reason) <= set(REASONS)
    assert report.records == report.unique_events + report.redeliveries + report.malformed
    assert report.redeliveries > EVENTS * 0.03
    assert report.malformed > EVENTS * 0.005


def test_titles_csv_is_rfc4180_with_korean_commas_quotes_and_duplicate_ids(
    sample: tuple[Path, SampleReport],
) -> None:
    # GIVEN the reference titles of the sample
    lake, report = sample
    with (lake / "ref/titles/titles.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))

    # WHEN / THEN the header, the awkward titles and a few duplicate ids are there
    assert rows[0] == ["title_id", "title", "genre"]
    body = rows[1:]
    assert all(len(row) == 3 for row in body)
    ids = Counter(row[0] for row in body)
    assert len(ids) == report.titles and len(body) == report.title_rows > report.titles
    assert any(re.search("[가-힣]", row[1]) for row in body)
    assert any("," in row[1] for row in body)
    assert any('"' in row[1] for row in body)


def test_objects_are_named_and_foldered_like_firehose_delivery(
    sample: tuple[Path, SampleReport],
) -> None:
    # GIVEN the objects of the raw zone
    lake, report = sample
    objects = [p for p in sorted((lake / "raw/clickstream").rglob("*")) if p.is_file()]

    # WHEN / THEN each sits in the folder of the UTC hour in its name; gzip ones are gzip
    assert len(objects) == report.objects
    for path in objects:
        match = FIREHOSE_NAME.fullmatch(path.name)
        assert match, path.name
        assert path.parent.relative_to(lake).as_posix() == "raw/clickstream/{}/{}/{}/{}".format(
            *match.groups()[:4]
        )
        content = path.read_bytes()
        assert content[:2] == b"\x1f\x8b" if path.suffix == ".gz" else content[:2] != b"\x1f\x8b"
    assert sum(p.suffix == ".gz" for p in objects) == report.gzip_objects > 0
    assert sum(decode_object(p.read_bytes()) == "" for p in objects) == report.empty_objects > 0


def test_objects_mix_every_layout(sample: tuple[Path, SampleReport]) -> None:
    # GIVEN the decoded content of every object
    lake, _ = sample
    texts = [decode_object(p.read_bytes()) or "" for p in (lake / "raw").rglob("*") if p.is_file()]

    # WHEN / THEN concatenated, newline-delimited, CRLF, pretty-printed and blank lines all occur
    assert any("}{" in t for t in texts)
    assert any("}\n{" in t and "}{" not in t for t in texts)
    assert any("}\r\n{" in t for t in texts)
    assert any('{\n  "event_id"' in t for t in texts)
    assert any("\n\n" in t or "\n   \n" in t or "\n\t\n" in t for t in texts)


def test_events_use_every_accepted_event_time_form_and_extra_fields(
    sample: tuple[Path, SampleReport],
) -> None:
    # GIVEN the valid records of the sample
    lake, _ = sample
    events = [value for _, value, _ in _events(lake)]
    times = [e["event_time"] for e in events]

    # WHEN / THEN Z, +09:00, 1-3 digit fractions and epoch ms all occur, with extra fields
    assert any(isinstance(t, int) for t in times)
    assert any(isinstance(t, str) and t.endswith("+09:00") for t in times)
    assert any(isinstance(t, str) and re.search(r":\d\dZ$", t) for t in times)
    for digits in (1, 2, 3):
        assert any(isinstance(t, str) and re.search(rf"\.\d{{{digits}}}Z$", t) for t in times)
    assert {"view", "play", "pause", "search", "click"} <= {e.get("event_type") for e in events}
    assert any("title_id" not in e for e in events)
    assert any(e.get("title_id") is None and "title_id" in e for e in events)
    assert any(str(e.get("title_id", "")).startswith("t9") for e in events)
    assert any("context" in e or "query" in e for e in events)


def test_sessions_cross_midnight_in_utc_and_in_seoul(sample: tuple[Path, SampleReport]) -> None:
    # GIVEN each user's events in time order
    lake, _ = sample
    by_user: dict[str, set[int]] = defaultdict(set)
    for _, value, micros in _events(lake):
        by_user[value["user_id"]].add(micros)

    # WHEN consecutive events less than 30 minutes apart fall on different calendar days
    def crosses(shift: timedelta) -> bool:
        for times in by_user.values():
            ordered = sorted(times)
            for a, b in pairwise(ordered):
                day_a = (datetime.fromtimestamp(a / 1e6, UTC) + shift).date()
                day_b = (datetime.fromtimestamp(b / 1e6, UTC) + shift).date()
                if b - a < 30 * 60 * 10**6 and day_a != day_b:
                    return True
        return False

    # THEN some sessions span midnight UTC and some span midnight in Asia/Seoul
    assert crosses(timedelta(0))
    assert crosses(SEOUL)


def test_redeliveries_and_late_events_arrive_in_later_objects(
    sample: tuple[Path, SampleReport],
) -> None:
    # GIVEN where each event arrived (object name time) and when it happened
    lake, report = sample
    arrivals: dict[str, list[tuple[Path, int]]] = defaultdict(list)
    lateness = []
    for path, value, micros in _events(lake):
        if isinstance(value.get("event_id"), str) and value["event_id"]:
            arrived_ms = name_timestamp_ms(path.name) or 0
            arrivals[value["event_id"]].append((path, arrived_ms))
            lateness.append(arrived_ms - micros // 1000)

    # WHEN / THEN copies are in other, later objects, some hours and some a day later
    copies = {k: v for k, v in arrivals.items() if len(v) > 1}
    assert sum(len(v) - 1 for v in copies.values()) == report.redeliveries
    gaps = []
    for deliveries in copies.values():
        (first_path, first), *others = deliveries
        for path, arrived in others:
            assert path != first_path
            gaps.append(abs(arrived - first))
    assert max(gaps) >= 20 * 3_600_000
    assert any(3_600_000 <= g < 12 * 3_600_000 for g in gaps)
    # late events: arriving more than an hour after their event_time
    assert sum(late > 3_600_000 for late in lateness) >= report.late_events > 0


def test_objects_of_a_busy_hour_are_hundreds_of_kilobytes(tmp_path: Path) -> None:
    # GIVEN a 60,000-event sample over one day (about 2,500 events an hour)
    report = generate_sample(tmp_path, events=60_000, users=3000, days=1, start=date(2026, 3, 1))

    # WHEN / THEN objects are Firehose-sized, not one file per event
    sizes = [p.stat().st_size for p in (tmp_path / "raw").rglob("*") if p.is_file()]
    assert max(sizes) > 200_000
    assert len(sizes) == report.objects < 24 * 4
