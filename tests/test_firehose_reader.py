"""Firehose objects to records: every value of every layout arrives; rejections give a reason."""

from __future__ import annotations

import gzip
import json
import os
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from clickstream.firehose_reader import (
    PARSED_SCHEMA,
    REASONS,
    VALID_COLUMNS,
    ReaderLimits,
    _vector_event_time,
    event_time_micros,
    misfit_counts,
    parse_objects,
    read_firehose,
    split_records,
    split_valid,
)
from clickstream.raw_objects import list_raw_objects

AssertFrames = Callable[..., None]
NAME = "clickstream-1-2026-03-01-10-00-05-0f8fad5b-d9cb-469f-a165-70867728950e"
ARRIVED = datetime(2026, 3, 1, 10, 0, 5, tzinfo=UTC)
T10 = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)
Row = tuple[Any, ...]
MakeFrame = Callable[..., DataFrame]


def event(event_id: Any, **fields: Any) -> str:
    """A compact JSON event; fields override the defaults (... drops a field, None is null)."""
    record = {"event_id": event_id, "user_id": "u1", "event_type": "view"}
    record["event_time"] = "2026-03-01T10:00:00Z"
    record.update(fields)
    return json.dumps({k: v for k, v in record.items() if v is not ...}, ensure_ascii=False)


def write(folder: Path, content: str | bytes, name: str = NAME) -> str:
    """Write one raw object; its fully-qualified path (the source_file of its records)."""
    path = folder / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return f"file:{path}"


def read(spark: SparkSession, folder: Path) -> DataFrame:
    """List the folder and read every object in it."""
    return read_firehose(spark, list_raw_objects(spark, str(folder)))


def valid(
    record: str,
    source: str,
    event_id: str,
    *,
    user_id: str = "u1",
    event_type: str = "view",
    event_time: datetime = T10,
    title_id: str | None = None,
    ingested_at: datetime = ARRIVED,
    properties: str | None = None,
) -> Row:
    """The parsed row of a valid event (no promoted fields, so no misfits)."""
    fields = (event_id, user_id, event_type, event_time, title_id, properties)
    return (record, source, ingested_at, *fields, 0, None)


def rejected(record: str | None, source: str, reason: str, ingested_at: datetime = ARRIVED) -> Row:
    """The parsed row of a rejected record: text, origin and reason, no event fields."""
    return (record, source, ingested_at, None, None, None, None, None, None, 0, reason)


def frame(make_frame: MakeFrame, rows: list[Row], schema: StructType = PARSED_SCHEMA) -> DataFrame:
    """Expected rows as a DataFrame (the make_frame fixture: through pandas and Arrow, fast)."""
    return make_frame(rows, schema, expected=True)


# --- splitting: every layout of a Firehose object ---------------------------------------------


def test_every_object_of_a_concatenated_object_arrives(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN three events concatenated with no delimiter (the Firehose default)
    records = [event("e1"), event("e2"), event("e3")]
    source = write(tmp_path, "".join(records))

    # WHEN the object is read
    actual = read(spark, tmp_path)

    # THEN all three arrive, each with its own raw text
    expected = [valid(r, source, f"e{i}") for i, r in enumerate(records, start=1)]
    assert_frames_equal(actual, frame(make_frame, expected))


def test_spark_json_reader_keeps_only_the_first_object_of_a_line(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN the same concatenated object
    write(tmp_path, event("e1") + event("e2") + event("e3"))

    # WHEN Spark's own JSON reader reads it
    kept = spark.read.json(str(tmp_path)).where("event_id is not null").count()

    # THEN it silently drops events, which is why objects are split in Python
    assert kept < 3


def test_newline_delimited_values_are_one_record_per_line(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN one event per line, with LF and with CRLF line ends
    source = write(tmp_path, f"{event('e1')}\n{event('e2')}\r\n{event('e3')}\n")

    # WHEN / THEN each line is one record, without its line end
    expected = [valid(event(f"e{i}"), source, f"e{i}") for i in (1, 2, 3)]
    assert_frames_equal(read(spark, tmp_path), frame(make_frame, expected))


def test_pretty_printed_values_spanning_lines_are_one_record_each(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN two pretty-printed events, one right after the other
    first = json.dumps(json.loads(event("e1")), indent=2)
    second = json.dumps(json.loads(event("e2")), indent=4)
    source = write(tmp_path, f"{first}{second}\n")

    # WHEN / THEN each multi-line value is one record whose text spans its lines
    expected = [valid(first, source, "e1"), valid(second, source, "e2")]
    assert_frames_equal(read(spark, tmp_path), frame(make_frame, expected))


def test_concatenated_and_newline_delimited_mixed_in_one_object(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN values concatenated, space-separated and newline-separated in one object
    e = [event(f"e{i}") for i in range(1, 6)]
    source = write(tmp_path, f"{e[0]}{e[1]}\n{e[2]} {e[3]}\n\n{e[4]}")

    # WHEN / THEN all five arrive
    expected = [valid(r, source, f"e{i}") for i, r in enumerate(e, start=1)]
    assert_frames_equal(read(spark, tmp_path), frame(make_frame, expected))


def test_gzip_objects_are_decompressed(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN a gzip object named .gz and one whose name does not say so (magic bytes decide)
    gz = write(tmp_path, gzip.compress((event("e1") + event("e2")).encode()), NAME + ".gz")
    plain_name = NAME.replace("10-00-05", "11-00-05")
    unnamed = write(tmp_path, gzip.compress(f"{event('e3')}\n".encode()), plain_name)

    # WHEN / THEN their records arrive decompressed
    later = datetime(2026, 3, 1, 11, 0, 5, tzinfo=UTC)
    expected = [
        valid(event("e1"), gz, "e1"),
        valid(event("e2"), gz, "e2"),
        valid(event("e3"), unnamed, "e3", ingested_at=later),
    ]
    assert_frames_equal(read(spark, tmp_path), frame(make_frame, expected))


def test_empty_objects_hold_no_records(spark: SparkSession, tmp_path: Path) -> None:
    # GIVEN an empty object, an empty gzip object and a whitespace-only object
    write(tmp_path, b"")
    write(tmp_path, gzip.compress(b""), NAME + ".gz")
    write(tmp_path, "\n \n\r\n", "whitespace-only")

    # WHEN / THEN there are no records
    assert read(spark, tmp_path).collect() == []


def test_blank_lines_are_not_records(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN blank and whitespace-only lines around and between events
    source = write(tmp_path, f"\n\n{event('e1')}\n   \n\t\n\n{event('e2')}\n\n")

    # WHEN / THEN only the events are records
    expected = [valid(event("e1"), source, "e1"), valid(event("e2"), source, "e2")]
    assert_frames_equal(read(spark, tmp_path), frame(make_frame, expected))


def test_an_unparseable_line_is_one_rejected_record_and_the_next_line_parses(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN newline-delimited content with a truncated event, a log line and a dated line
    truncated = event("e0")[:30]
    lines = [event("e1"), truncated, "GET /health 200 ok", "2026-03-01 10:00:00 oops", event("e2")]
    source = write(tmp_path, "\n".join(lines) + "\n")

    # WHEN / THEN each bad line is exactly one not_json record and parsing resumes after it
    expected = [
        valid(event("e1"), source, "e1"),
        rejected(truncated.rstrip(), source, "not_json"),
        rejected("GET /health 200 ok", source, "not_json"),
        rejected("2026-03-01 10:00:00 oops", source, "not_json"),
        valid(event("e2"), source, "e2"),
    ]
    assert_frames_equal(read(spark, tmp_path), frame(make_frame, expected))


def test_a_failure_in_concatenated_content_rejects_the_rest_of_that_line(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN a concatenated line broken in its second value, then a good line
    broken = '{"event_id": "e2", "user_id": }'
    source = write(tmp_path, f"{event('e1')}{broken}{event('e3')}\n{event('e4')}")

    # WHEN / THEN values before the failure are kept, the rest of the line is one rejected record
    expected = [
        valid(event("e1"), source, "e1"),
        rejected(broken + event("e3"), source, "not_json"),
        valid(event("e4"), source, "e4"),
    ]
    assert_frames_equal(read(spark, tmp_path), frame(make_frame, expected))


def test_a_gzip_object_cut_short_keeps_its_records_before_the_cut_and_one_truncated_record(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN a gzip object of 2,000 events cut short in the middle of its compressed bytes
    events = [event(f"e{i:04d}") for i in range(2000)]
    content = gzip.compress("\n".join(events).encode(), mtime=0)
    cut = content[: len(content) // 2]
    source = write(tmp_path, cut, NAME + ".gz")

    # WHEN read
    rows = read(spark, tmp_path).orderBy("event_id").collect()

    # THEN every event decoded before the cut is valid, in order and exactly once ...
    kept = [r for r in rows if r["reason"] is None]
    assert 100 < len(kept) < 2000
    assert [r["event_id"] for r in kept] == [f"e{i:04d}" for i in range(len(kept))]
    # ... and the rest (the cut event too) is one truncated_object record naming the object and
    # the decompressed byte offset where the kept records end
    truncated = [r for r in rows if r["reason"] is not None]
    assert [r["reason"] for r in truncated] == ["truncated_object"]
    description = json.loads(truncated[0]["record"])
    offset = len("\n".join(events[: len(kept)]).encode()) + 1
    assert description == {
        "object": source,
        "offset": offset,
        "read_bytes": len(cut),
        "error": "the gzip stream ends before its end",
    }
    assert truncated[0]["source_file"] == source


def test_content_that_starts_like_gzip_and_does_not_decode_is_one_unreadable_record(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN an object starting with the gzip magic bytes followed by text
    content = b"\x1f\x8b" + event("e1").encode()
    source = write(tmp_path, content, NAME + ".gz")

    # WHEN / THEN nothing decodes: one unreadable_object record describing the error
    description = {
        "object": source,
        "offset": 0,
        "read_bytes": len(content),
        "error": "Error -3 while decompressing data: unknown compression method",
    }
    expected = [rejected(json.dumps(description), source, "unreadable_object")]
    assert_frames_equal(read(spark, tmp_path), frame(make_frame, expected))


def test_invalid_bytes_outside_the_contract_fields_become_u_fffd_and_the_event_is_valid(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN an event whose extra field holds a byte that is not UTF-8, after a byte-order mark
    content = b"\xef\xbb\xbf" + event("e1", note="u-X").encode().replace(b"X", b"\xff")
    source = write(tmp_path, content)

    # WHEN / THEN the event is valid, properties has U+FFFD for the byte, and the raw record
    # keeps the byte as \xff
    record = event("e1", note="u-X").replace("X", "\\xff")
    expected = [valid(record, source, "e1", properties='{"note":"u-\ufffd"}')]
    assert_frames_equal(read(spark, tmp_path), frame(make_frame, expected))


# --- validation: one test per reason code ------------------------------------------------------


def _assert_rejected(
    spark: SparkSession,
    make_frame: MakeFrame,
    folder: Path,
    records: list[str],
    reason: str,
    assert_frames: AssertFrames,
) -> None:
    """Every record (one per line) is rejected with reason and carries no event fields."""
    source = write(folder, "\n".join(records) + "\n")
    expected = [rejected(r, source, reason) for r in records]
    assert_frames(read(spark, folder), frame(make_frame, expected))


def test_text_that_is_not_json_is_not_json(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN text that no JSON parser accepts, one per line
    # WHEN read / THEN each is one rejected record with that rule's reason
    records = ["not json", "{'event_id': 'single'}", '{"event_id": "e1" "user_id": "u1"}', "nul"]
    _assert_rejected(spark, make_frame, tmp_path, records, "not_json", assert_frames_equal)


def test_a_json_value_that_is_not_an_object_is_not_an_object(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN JSON values that are arrays, numbers, strings, null or booleans, one per line
    # WHEN read / THEN each is one rejected record with that rule's reason
    records = [f"[{event('e1')}]", "42", '"a string"', "null", "true", "-1.5e3"]
    _assert_rejected(spark, make_frame, tmp_path, records, "not_an_object", assert_frames_equal)


def test_missing_null_or_empty_event_id_is_missing_event_id(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN event_id missing, null or empty, one per line
    # WHEN read / THEN each is one rejected record with that rule's reason
    records = [event(...), event(None), event("")]
    _assert_rejected(spark, make_frame, tmp_path, records, "missing_event_id", assert_frames_equal)


def test_missing_null_or_empty_user_id_is_missing_user_id(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN user_id missing, null or empty, one per line
    # WHEN read / THEN each is one rejected record with that rule's reason
    records = [event("e1", user_id=v) for v in (..., None, "")]
    _assert_rejected(spark, make_frame, tmp_path, records, "missing_user_id", assert_frames_equal)


def test_missing_null_or_empty_event_type_is_missing_event_type(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN event_type missing, null or empty, one per line
    # WHEN read / THEN each is one rejected record with that rule's reason
    records = [event("e1", event_type=v) for v in (..., None, "")]
    _assert_rejected(
        spark, make_frame, tmp_path, records, "missing_event_type", assert_frames_equal
    )


def test_a_number_bool_object_or_array_as_event_id_user_id_or_event_type_is_invalid_type(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN each contract string field holding a number, a boolean, an object or an array
    wrong = (123, 1.5, False, {"id": "x"}, ["e1"])
    records = [event(v) for v in wrong]
    records += [event("e1", user_id=v) for v in wrong]
    records += [event("e1", event_type=v) for v in wrong]
    # WHEN read / THEN each is invalid_type: present, but not a string (never missing_*)
    _assert_rejected(spark, make_frame, tmp_path, records, "invalid_type", assert_frames_equal)


def test_an_event_time_that_is_not_a_valid_instant_is_invalid_event_time(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN event_time values that are not a valid instant (no lenient roll-over), one per line
    # WHEN read / THEN each is one rejected record with that rule's reason
    times = (
        ...,  # missing
        None,
        "2026-02-30T01:00:00Z",  # no such day: no roll-over to March
        "2025-02-29T01:00:00Z",  # not a leap year
        "yesterday",
        "2026-03-01T24:00:00Z",
        "2026-03-01T10:60:00Z",
        "2026-03-01T10:00:60Z",  # no leap seconds
        "2026-03-01T10:00:00",  # offset is mandatory
        "2026-03-01 10:00:00Z",
        "2026-03-01T10:00:00.1234Z",  # more than milliseconds
        "2026-03-01T10:00:00z",
        "2026-03-01T10:00:00+0900",
        "2026-03-01T10:00:00+24:00",
        "2026-03-01",
        "",
        1772359200000.0,  # float, not an integer
        True,
        10**20,  # beyond any timestamp
        {"ms": 1772359200000},
    )
    records = [event("e1", event_time=t) for t in times]
    _assert_rejected(
        spark, make_frame, tmp_path, records, "invalid_event_time", assert_frames_equal
    )


def test_a_title_id_that_is_present_and_not_a_string_is_invalid_title_id(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN title_id present, not null and not a string, one per line
    # WHEN read / THEN each is one rejected record with that rule's reason
    records = [event("e1", title_id=v) for v in (42, ["t1"], {"id": "t1"}, True)]
    _assert_rejected(spark, make_frame, tmp_path, records, "invalid_title_id", assert_frames_equal)


def test_the_first_failing_rule_wins(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN records breaking several rules at once
    everything = event("", user_id="", event_type="", event_time="bad", title_id=1)
    no_user = event("e1", user_id=None, event_type=None, event_time="bad", title_id=1)
    no_type = event("e1", event_type=None, event_time="bad", title_id=1)
    bad_time = event("e1", event_time="bad", title_id=1)
    source = write(tmp_path, "\n".join([everything, no_user, no_type, bad_time]))

    # WHEN / THEN each gets the reason of the first rule it breaks, in REASONS order
    _, bad = split_valid(read(spark, tmp_path))
    expected = [
        (everything, "missing_event_id", source, ARRIVED),
        (no_user, "missing_user_id", source, ARRIVED),
        (no_type, "missing_event_type", source, ARRIVED),
        (bad_time, "invalid_event_time", source, ARRIVED),
    ]
    assert_frames_equal(bad, frame(make_frame, expected, bad.schema))
    assert REASONS.index("missing_event_id") < REASONS.index("invalid_title_id")


# --- accepted values ---------------------------------------------------------------------------


def test_each_accepted_event_time_form_is_stored_as_the_utc_instant(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN the same instant, 2026-03-01T00:30:00.5Z, in every accepted form
    forms = {
        "zulu": "2026-03-01T00:30:00.500Z",
        "seoul": "2026-03-01T09:30:00.5+09:00",  # next calendar day in Seoul, same instant
        "new_york": "2026-02-28T19:30:00.50-05:00",
        "india": "2026-03-01T06:00:00.500+05:30",
        "epoch_ms": 1772325000500,
    }
    records = [event(name, event_time=value) for name, value in forms.items()]
    records.append(event("seconds_only", event_time="2026-03-01T00:30:00Z"))
    source = write(tmp_path, "\n".join(records))

    # WHEN / THEN every form is the same UTC instant (the last one without the fraction)
    instant = datetime(2026, 3, 1, 0, 30, 0, 500000, tzinfo=UTC)
    expected = [
        valid(r, source, n, event_time=instant) for r, n in zip(records, forms, strict=False)
    ]
    expected.append(
        valid(records[-1], source, "seconds_only", event_time=instant.replace(microsecond=0))
    )
    assert_frames_equal(read(spark, tmp_path), frame(make_frame, expected))


def test_extra_fields_are_kept_in_properties_and_title_id_may_be_missing_or_null(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN events with extra fields (Korean, numbers) and with or without title_id
    with_extras = event("e1", title_id="t1", query="오징어 게임", n=1.5, flag=False, none=None)
    null_title = event("e2", title_id=None)
    source = write(tmp_path, f"{with_extras}\n{null_title}\n{event('e3')}")

    # WHEN / THEN all are valid; the extras (a null one too) are the properties, none gives null
    extras = '{"query":"오징어 게임","n":1.5,"flag":false,"none":null}'
    expected = [
        valid(with_extras, source, "e1", title_id="t1", properties=extras),
        valid(null_title, source, "e2"),
        valid(event("e3"), source, "e3"),
    ]
    assert_frames_equal(read(spark, tmp_path), frame(make_frame, expected))


def test_nested_properties_keep_their_keys_values_and_nesting(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN an event with nested objects, arrays, unicode keys, big and negative numbers
    nested = {
        "context": {"page": {"name": "home", "row": [1, {"deep": [None, True, -0.5]}]}},
        "화면": "홈",
        "big": 12345678901234567890,
        "empty": {},
        "list": [],
    }
    source_text = event("e1", **nested)
    write(tmp_path, source_text)

    # WHEN read
    row = read(spark, tmp_path).first()

    # THEN properties parses to exactly the fields beyond the contract, nested as they came
    assert row is not None
    assert json.loads(row["properties"]) == nested
    assert list(json.loads(row["properties"])) == list(nested)


def test_promoted_fields_take_their_type_and_leave_properties(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN promoted fields of every type, each given a value that fits
    promoted = {"app": "string", "n": "long", "d": "double", "ok": "boolean", "at": "timestamp"}
    records = [
        event("e1", app="1.2", n=7, d=2.5, ok=True, at="2026-03-01T19:00:00+09:00", x=1),
        event("e2", app=3, n="-42", d="1e3", ok=False, at=1772359200000),
        event("e3", app=True, n=5.0, d=4, at="2026-03-01T10:00:00.5Z"),
        event("e4", app=1.5, n="1e2", d="-0.25", app_only=None),
        event("e5", n=None),
    ]
    write(tmp_path, "\n".join(records))

    # WHEN read with the promoted fields
    parsed = read_firehose(spark, list_raw_objects(spark, str(tmp_path)), promoted)
    rows = {r["event_id"]: r for r in parsed.collect()}

    # THEN each fits its type (numbers and booleans as JSON text for string) ...
    ten = datetime(2026, 3, 1, 10, 0)  # collected as naive UTC (the session time zone)
    assert [tuple(rows[e][f] for f in promoted) for e in ("e1", "e2", "e3", "e4", "e5")] == [
        ("1.2", 7, 2.5, True, ten),
        ("3", -42, 1000.0, False, ten),
        ("true", 5, 4.0, None, ten + timedelta(milliseconds=500)),
        ("1.5", 100, -0.25, None, None),
        (None, None, None, None, None),
    ]
    # ... none stays in properties, and missing or null counts as no misfit
    assert [rows[e]["properties"] for e in ("e1", "e2", "e3", "e4", "e5")] == [
        '{"x":1}',
        None,
        None,
        '{"app_only":null}',
        None,
    ]
    assert {r["misfits"] for r in rows.values()} == {0}
    assert parsed.columns[-8:] == ["properties", *promoted, "misfits", "reason"]


def test_a_type_mismatch_is_null_in_its_column_and_kept_verbatim_in_properties(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN promoted fields and values that do not fit them
    promoted = {"app": "string", "n": "long", "d": "double", "ok": "boolean", "at": "timestamp"}
    misfits = [
        {"app": {"v": 1}, "n": 1.5, "d": "abc", "ok": "true", "at": "yesterday"},
        {"app": [1], "n": 2**63, "d": True, "ok": 1, "at": "2026-02-30T01:00:00Z"},
        {"n": "12 ", "d": "NaN"},
        {"n": True, "d": " 1"},
    ]
    write(tmp_path, "\n".join(event(f"e{i}", **m) for i, m in enumerate(misfits)))

    # WHEN read with the promoted fields
    parsed = read_firehose(spark, list_raw_objects(spark, str(tmp_path)), promoted)
    rows = sorted(parsed.collect(), key=lambda r: r["event_id"])

    # THEN the event is valid, every promoted column is null, the values stay as they came ...
    assert [r["reason"] for r in rows] == [None] * 4
    assert all(r[f] is None for r in rows for f in promoted)
    assert [json.loads(r["properties"]) for r in rows] == misfits
    # ... and each misfit sets its field's bit (bit i = the i-th promoted field)
    counts = parsed.agg(*misfit_counts(promoted)).first()
    assert counts is not None
    assert counts.asDict() == {
        "misfit_app": 2,
        "misfit_n": 4,
        "misfit_d": 4,
        "misfit_ok": 2,
        "misfit_at": 2,
    }


def test_a_rejected_record_has_no_properties_promoted_values_or_misfits(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN a record without user_id that has extra and promoted (misfit) fields
    write(tmp_path, json.dumps({"event_id": "e1", "event_type": "v", "n": "x", "x": 1}))

    # WHEN read with a promoted field
    parsed = read_firehose(spark, list_raw_objects(spark, str(tmp_path)), {"n": "long"})

    # THEN it is rejected and carries only its text, origin and reason
    row = parsed.first()
    assert row is not None
    assert (row["reason"], row["properties"], row["n"], row["misfits"]) == (
        "missing_user_id",
        None,
        None,
        0,
    )


def test_ingested_at_comes_from_the_name_else_from_the_modification_time(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN a Firehose-named object and an object named without a timestamp, both with an mtime
    named = write(tmp_path, event("e1"))
    unnamed = write(tmp_path, event("e2"), "part-00000.json")
    mtime_ns = 1_772_400_000_250 * 1_000_000
    for path in tmp_path.iterdir():
        os.utime(path, ns=(mtime_ns, mtime_ns))

    # WHEN / THEN the name's timestamp wins; the other falls back to the exact mtime
    from_mtime = datetime(2026, 3, 1, 21, 20, 0, 250000, tzinfo=UTC)
    expected = [
        valid(event("e1"), named, "e1"),
        valid(event("e2"), unnamed, "e2", ingested_at=from_mtime),
    ]
    assert_frames_equal(read(spark, tmp_path), frame(make_frame, expected))


def test_split_valid_separates_events_from_rejected_records(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN a valid event and a rejected line
    source = write(tmp_path, f"{event('e1', title_id='t1')}\noops\n")

    # WHEN the parsed records are split
    good, bad = split_valid(read(spark, tmp_path))

    # THEN events keep their fields plus arrival and origin; rejections keep text and reason
    expected_good = frame(
        make_frame, [("e1", "u1", "view", T10, "t1", ARRIVED, source, None)], good.schema
    )
    assert good.columns == list(VALID_COLUMNS)
    assert_frames_equal(good, expected_good)
    assert bad.columns == ["record", "reason", "source_file", "ingested_at"]
    assert_frames_equal(bad, frame(make_frame, [("oops", "not_json", source, ARRIVED)], bad.schema))


def test_object_names_with_glob_characters_are_read_literally(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN an object named x[1] and an object x1, which the glob x[1] would match
    literal = write(tmp_path, event("e1"), "x[1]")
    write(tmp_path, event("e2"), "x1")
    arrived_ns = int(ARRIVED.timestamp()) * 10**9
    for path in tmp_path.iterdir():
        os.utime(path, ns=(arrived_ns, arrived_ns))  # the event is not too old for its arrival
    objects = [o for o in list_raw_objects(spark, str(tmp_path)) if o.path == literal]

    # WHEN only x[1] is read
    actual = read_firehose(spark, objects)

    # THEN exactly its record arrives (mtime fallback, as the name has no timestamp)
    arrived = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=objects[0].modified_ms)
    expected = [valid(event("e1"), literal, "e1", ingested_at=arrived)]
    assert_frames_equal(actual, frame(make_frame, expected))


def test_reading_no_objects_gives_an_empty_frame_with_the_schema(spark: SparkSession) -> None:
    # GIVEN no objects / WHEN read / THEN an empty frame of the parsed schema
    parsed = read_firehose(spark, [])
    assert parsed.schema == PARSED_SCHEMA
    assert parsed.collect() == []


# --- pure Python rules -------------------------------------------------------------------------


def test_split_records_keeps_self_delimited_values_and_rejects_glued_scalars() -> None:
    # GIVEN values glued in various ways on single lines
    text = '{"a":1}[2]"s"{"b":2}\n42{"c":3}\n123abc\nnullx\n{"d":4} tail\n'

    # WHEN split
    records: list[str | None] = []
    values: list[Any] = []
    split_records(text, records, values)

    # THEN self-delimited values split cleanly; a scalar glued to text fails the whole rest of line
    assert records == [
        *('{"a":1}', "[2]", '"s"', '{"b":2}', "42", '{"c":3}'),
        *("123abc", "nullx", '{"d":4}', "tail"),
    ]


def _datetime_oracle(value: object) -> int | None:
    """The event_time rule written independently with datetime: the test's oracle."""
    if type(value) is int:
        micros = value * 1000
    elif type(value) is str:
        match = re.fullmatch(
            r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
            r"(?:\.([0-9]{1,3}))?(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))",
            value,
        )
        if match is None:
            return None
        y, mo, d, h, mi, sec, frac, zulu, sign, off_h, off_m = match.groups()
        try:
            offset = timedelta(hours=int(off_h or 0), minutes=int(off_m or 0))
            if int(off_m or 0) > 59 or offset >= timedelta(days=1):
                return None
            zone = UTC if zulu else timezone(-offset if sign == "-" else offset)
            millis = int((frac or "").ljust(3, "0")) * 1000
            instant = datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec), millis, zone)
        except ValueError:
            return None
        micros = (instant - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    else:
        return None
    low, high = -62_135_596_800_000_000, 253_402_300_799_999_999
    return micros if low <= micros <= high else None


def test_the_event_time_rule_agrees_with_a_datetime_oracle_value_by_value() -> None:
    # GIVEN thousands of near-valid event_time values: every character position mutated
    rng = random.Random(3)
    seeds = ["2024-02-29T23:59:59.999+09:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.9Z"]
    seeds += ["2026-12-31T00:00:00.05-23:59", "1970-01-01T00:00:00Z", "2100-02-28T12:00:00Z"]
    values: list[object] = [1772325000500, -1, True, None, 2.5, 10**15, -(10**15)]
    values += [-62_135_596_800_000, -62_135_596_800_001, 253_402_300_799_999, 253_402_300_800_000]
    for seed in seeds:
        values.append(seed)
        for _ in range(400):
            chars = list(seed)
            chars[rng.randrange(len(chars))] = rng.choice("0123456789:+-.TZ x")
            values.append("".join(chars))
        for day in range(26, 33):
            values.append(f"{seed[:5]}02-{day:02d}{seed[10:]}")

    # WHEN the rule runs over all of them, as a column and value by value
    micros, ok = _vector_event_time(values)
    actual = [int(m) if k else None for m, k in zip(micros, ok, strict=True)]

    # THEN it gives exactly what regex + datetime construction gives, and one value is the same
    assert actual == [_datetime_oracle(v) for v in values]
    assert [event_time_micros(v) for v in values[:50]] == actual[:50]
    assert sum(v is not None for v in actual) > 100


# --- parse_objects in-process: hostile records, one edge case per test -------------------------

_INPUT = pa.schema(
    [("path", pa.string()), ("modificationTime", pa.timestamp("us")), ("content", pa.binary())]
)
_OUT = "file:/raw/" + NAME
AT_MS = int(ARRIVED.timestamp() * 1000)


def _batch(objects: dict[str, bytes | None]) -> pa.RecordBatch:
    """One binaryFile-like batch of these objects (content None: read by path)."""
    return pa.RecordBatch.from_arrays(
        [
            pa.array(list(objects), pa.string()),
            pa.array([0] * len(objects), pa.timestamp("us")),
            pa.array(list(objects.values()), pa.binary()),
        ],
        schema=_INPUT,
    )


def parse(
    content: str | bytes | None,
    *,
    path: str = _OUT,
    more: dict[str, bytes | None] | None = None,
    **options: Any,
) -> list[dict[str, Any]]:
    """parse_objects over one binaryFile-like batch (content None: read by path); output rows."""
    objects = {path: content.encode() if isinstance(content, str) else content, **(more or {})}
    batches = parse_objects(iter([_batch(objects)]), **options)
    return [row for out in batches for row in out.to_pylist()]


def reasons(rows: list[dict[str, Any]]) -> list[str | None]:
    return [row["reason"] for row in rows]


def at(minutes: float = 0, *, days: float = 0) -> str:
    """An ISO-8601 event_time this far from the objects' arrival (ARRIVED), in milliseconds."""
    instant = ARRIVED + timedelta(minutes=minutes, days=days)
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def lines(*records: str) -> str:
    return "\n".join(records) + "\n"


def test_an_event_time_more_than_the_future_bound_after_ingested_at_is_event_time_in_future() -> (
    None
):
    # GIVEN events exactly at, and 1 ms past, 1,440 minutes after their object's arrival
    limit = event("e1", event_time=at(1440))
    past = event("e2", event_time=at(1440 + 1 / 60_000))
    epoch_ms = event("e3", event_time=int((ARRIVED + timedelta(days=2)).timestamp() * 1000))
    # WHEN parsed with the default bounds / THEN only the records past the bound are rejected
    assert reasons(parse(lines(limit, past, epoch_ms))) == [
        None,
        "event_time_in_future",
        "event_time_in_future",
    ]


def test_an_event_time_more_than_the_age_bound_before_ingested_at_is_event_time_too_old() -> None:
    # GIVEN events exactly 30 days, and 30 days and 1 ms, before their object's arrival
    limit = event("e1", event_time=at(days=-30))
    past = event("e2", event_time=at(-1 / 60_000, days=-30))
    # WHEN parsed with the default bounds / THEN only the older one is rejected
    assert reasons(parse(lines(limit, past))) == [None, "event_time_too_old"]


def test_the_bounds_are_measured_from_each_objects_own_arrival() -> None:
    # GIVEN the same 2026-03-01 event in an object that arrived then and in one a year later
    later = NAME.replace("2026-03-01", "2027-03-01")
    rows = parse(event("e1"), more={"file:/raw/" + later: event("e2").encode()})
    # WHEN parsed / THEN the backfilled object's event is judged against its own arrival
    assert [(r["event_id"], r["reason"]) for r in rows] == [
        ("e1", None),
        (None, "event_time_too_old"),
    ]


def test_an_object_named_without_a_timestamp_is_judged_against_its_modification_time() -> None:
    # GIVEN an unnamed object modified a year after the event, and the same event named at it
    year_later = int((ARRIVED + timedelta(days=365)).timestamp() * 1000)
    rows = parse(event("e1"), path="file:/raw/part-0000.json", modified_ms={})
    modified = {"file:/raw/part-0000.json": year_later}
    late = parse(event("e1"), path="file:/raw/part-0000.json", modified_ms=modified)
    # WHEN / THEN ingested_at (the mtime) decides: too old a year later, not at epoch 0 + 0
    assert reasons(late) == ["event_time_too_old"]
    assert reasons(rows) == ["event_time_in_future"]  # mtime 0: 1970, the event is far ahead


def test_null_bounds_accept_every_instant_from_year_0001_to_9999() -> None:
    # GIVEN the issue's implausible times, beside a plausible one
    times = [
        "9999-12-31T23:59:59.999Z",
        "0001-01-01T00:00:00Z",
        "1500-06-15T00:00:00Z",
        "2031-03-02T10:00:00Z",
        0,
        at(),
    ]
    records = [event(f"e{i}", event_time=t) for i, t in enumerate(times)]
    off = ReaderLimits(event_time_max_future_minutes=None, event_time_max_age_days=None)
    # WHEN parsed with both bounds off / THEN every one is valid, at its exact instant
    rows = parse(lines(*records), limits=off)
    assert reasons(rows) == [None] * 6
    assert rows[0]["event_time"] == datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
    assert rows[1]["event_time"] == datetime(1, 1, 1, tzinfo=UTC)


def test_the_default_bounds_quarantine_the_issues_implausible_times_and_keep_the_rest() -> None:
    # GIVEN the same records with the default bounds
    times = ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "1500-06-15T00:00:00Z"]
    times += ["2031-03-02T10:00:00Z", 0, at(-90)]
    records = [event(f"e{i}", event_time=t) for i, t in enumerate(times)]
    # WHEN parsed / THEN future and old instants get their own reasons, the plausible one stays
    assert reasons(parse(lines(*records))) == [
        "event_time_in_future",
        "event_time_too_old",
        "event_time_too_old",
        "event_time_in_future",
        "event_time_too_old",
        None,
    ]


def test_one_bound_off_leaves_the_other_on() -> None:
    # GIVEN a far-future and a far-past event
    records = lines(event("e1", event_time="2031-03-02T10:00:00Z"), event("e2", event_time=0))
    # WHEN parsed with only the future bound off / THEN only the old one is rejected
    no_future = ReaderLimits(event_time_max_future_minutes=None)
    assert reasons(parse(records, limits=no_future)) == [None, "event_time_too_old"]


def test_a_contract_break_wins_over_an_implausible_time() -> None:
    # GIVEN far-future events that also miss user_id, have a numeric event_type, or a bad title
    future = "2031-03-02T10:00:00Z"
    records = [
        event("e1", user_id=None, event_time=future),
        event("e2", event_type=7, event_time=future),
        event("e3", title_id=5, event_time=future),
    ]
    # WHEN parsed / THEN each gets the contract rule's reason: plausibility comes last
    assert reasons(parse(lines(*records))) == [
        "missing_user_id",
        "invalid_type",
        "invalid_title_id",
    ]


def test_a_missing_field_wins_over_another_fields_wrong_type() -> None:
    # GIVEN a numeric event_id with no user_id, and a numeric user_id with no event_type
    records = lines(event(1, user_id=...), event("e2", user_id=2, event_type=None))
    # WHEN parsed / THEN every missing_* rule comes before invalid_type
    assert reasons(parse(records)) == ["missing_user_id", "missing_event_type"]


# --- encodings --------------------------------------------------------------------------------


def test_ids_that_differ_only_in_invalid_bytes_are_invalid_encoding_and_never_merge() -> None:
    # GIVEN two events whose event_ids are x\xff\xfe and x\xfd\xfc: not UTF-8
    first = event("x__").encode().replace(b"x__", b"x\xff\xfe")
    second = event("x__").encode().replace(b"x__", b"x\xfd\xfc")
    # WHEN parsed
    rows = parse(first + b"\n" + second)
    # THEN both are invalid_encoding, each keeping its own bytes as \xNN in record
    assert reasons(rows) == ["invalid_encoding", "invalid_encoding"]
    assert [r["record"] for r in rows] == [
        event("x__").replace("x__", "x\\xff\\xfe"),
        event("x__").replace("x__", "x\\xfd\\xfc"),
    ]
    # AND the raw bytes come back from the record exactly
    escaped = re.compile(rb"\\x([0-9a-f]{2})")
    raw = [escaped.sub(lambda m: bytes.fromhex(m[1].decode()), r["record"].encode()) for r in rows]
    assert raw == [first, second]


def test_invalid_bytes_in_user_id_event_type_or_title_id_are_invalid_encoding() -> None:
    # GIVEN a byte that is not UTF-8 in each other contract field
    records = [
        event("e1", user_id="u__"),
        event("e2", event_type="v__"),
        event("e3", title_id="t__"),
    ]
    content = "\n".join(records).encode().replace(b"__", b"\xc3")
    # WHEN parsed / THEN each is invalid_encoding
    assert reasons(parse(content)) == ["invalid_encoding"] * 3


def test_a_lone_surrogate_escape_in_a_contract_field_is_invalid_encoding() -> None:
    # GIVEN \udXXX escapes of lone surrogates (high, low, reversed pair) in contract fields
    records = [
        '{"event_id": "a\\ud800", "user_id": "u1", "event_type": "v", "event_time": 0}',
        '{"event_id": "e2", "user_id": "\\udfff", "event_type": "v", "event_time": 0}',
        '{"event_id": "e3", "user_id": "u", "event_type": "\\ude00\\ud83d", "event_time": 0}',
        '{"event_id": "e4", "user_id": "u", "event_type": "v", "title_id": "\\udc80",'
        ' "event_time": 0}',
    ]
    # WHEN parsed / THEN each is invalid_encoding, its escape kept verbatim in record
    rows = parse(lines(*records))
    assert reasons(rows) == ["invalid_encoding"] * 4
    assert [r["record"] for r in rows] == records


def test_a_replacement_character_in_a_contract_field_is_invalid_encoding() -> None:
    # GIVEN U+FFFD in an event_id as UTF-8 bytes, and as a \ufffd escape in a user_id
    records = [event("x\ufffd"), '{"event_id": "e2", "user_id": "\\ufffd", "event_type": "v"}']
    # WHEN parsed / THEN both are invalid_encoding: a replacement may hide distinct ids
    assert reasons(parse(lines(*records))) == ["invalid_encoding"] * 2


def test_a_surrogate_pair_escape_is_one_character_and_the_event_is_valid() -> None:
    # GIVEN an event_id escaped as a valid surrogate pair (an emoji) and a Korean user_id
    record = '{"event_id": "e\\ud83d\\ude00", "user_id": "사용자", "event_type": "v", '
    record += f'"event_time": {AT_MS}}}'
    # WHEN parsed / THEN it is valid, the pair decoded to one character
    rows = parse(record)
    assert (rows[0]["reason"], rows[0]["event_id"], rows[0]["user_id"]) == (None, "e😀", "사용자")


def test_a_lone_surrogate_in_properties_or_a_promoted_string_becomes_u_fffd_not_a_question_mark() -> (
    None
):
    # GIVEN lone surrogate escapes in an extra field (value and key) and in a promoted string
    content = event("e1", event_time=at(), note="a_b", app="v_")[:-1] + ', "k_": 1}'
    content = content.replace("a_b", "a\\ud800b").replace("v_", "v\\udfff")
    content = content.replace("k_", "k\\udc00")
    # WHEN parsed with app promoted to string
    rows = parse(content, promoted={"app": "string"})
    # THEN the event is valid and each lone surrogate is U+FFFD (never '?')
    assert rows[0]["reason"] is None
    assert json.loads(rows[0]["properties"]) == {"note": "a\ufffdb", "k\ufffd": 1}
    assert rows[0]["app"] == "v\ufffd"


# --- strict JSON, types and byte-order marks ----------------------------------------------------


def _strict(text: str) -> Any:
    """JSON as RFC 8259 has it: NaN and Infinity refused."""

    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_in_properties_are_written_as_their_original_text() -> None:
    # GIVEN extra fields holding NaN, Infinity, -Infinity and 1e400, nested too, and a finite one
    record = (
        f'{{"event_id": "e1", "user_id": "u1", "event_type": "v", "event_time": {AT_MS}, '
        '"a": NaN, "b": [Infinity, -Infinity, 1.5], "c": {"d": 1e400, "e": -1E+999}}'
    )
    # WHEN parsed
    rows = parse(record)
    # THEN the event is valid and properties is strict JSON, each such number its text
    assert rows[0]["reason"] is None
    assert _strict(rows[0]["properties"]) == {
        "a": "NaN",
        "b": ["Infinity", "-Infinity", 1.5],
        "c": {"d": "1e400", "e": "-1E+999"},
    }


def test_a_non_finite_promoted_double_is_a_misfit_kept_as_its_text_in_properties() -> None:
    # GIVEN a promoted double field holding NaN
    record = f'{{"event_id": "e1", "user_id": "u1", "event_type": "v", "event_time": {AT_MS}, '
    rows = parse(record + '"d": NaN}', promoted={"d": "double"})
    # WHEN parsed / THEN the column is null, the misfit bit set, and properties stays strict
    assert (rows[0]["d"], rows[0]["misfits"], _strict(rows[0]["properties"])) == (
        None,
        1,
        {"d": "NaN"},
    )


def test_a_byte_order_mark_at_the_start_of_a_later_line_is_dropped() -> None:
    # GIVEN marks before the first record, a later line's record and a concatenated record
    bom = "\ufeff"
    content = f"{bom}{event('e1', event_time=at())}\n{bom}{event('e2', event_time=at())}"
    content += f"{bom}{event('e3', event_time=at())}\n"
    # WHEN parsed / THEN three valid events, their records without the mark
    rows = parse(content)
    assert [(r["reason"], r["record"][:1]) for r in rows] == [(None, "{")] * 3


# --- sizes and nesting --------------------------------------------------------------------------


def test_a_record_longer_than_max_record_kib_is_record_too_large_with_its_length_and_first_kib() -> (
    None
):
    # GIVEN a 1 KiB limit, an event of 1,024 bytes exactly, one of 1,025, then a small one
    def sized(event_id: str, size: int) -> str:
        text = event(event_id, event_time=at(), pad="")
        return text.replace('"pad": ""', '"pad": "' + "x" * (size - len(text)) + '"')

    fits, over = sized("e1", 1024), sized("e2", 1025)
    limits = ReaderLimits(max_record_kib=1)
    # WHEN parsed
    rows = parse(lines(fits, over, event("e3", event_time=at())), limits=limits)
    # THEN the exact fit is valid, the longer one is described by its bytes and first KiB
    assert reasons(rows) == [None, "record_too_large", None]
    assert json.loads(rows[1]["record"]) == {"bytes": 1025, "head": over[:1024]}


def test_an_object_past_max_object_mib_keeps_its_records_before_the_limit_and_one_record() -> None:
    # GIVEN a 1 MiB limit and a gzip object of ~1.5 MiB of newline-delimited events
    line = event("e", event_time=at()) + "\n"
    count = (3 << 19) // len(line)
    text = "".join(line.replace('"e"', f'"e{i:06d}"') for i in range(count))
    content = gzip.compress(text.encode(), mtime=0)
    # WHEN parsed
    rows = parse(content, limits=ReaderLimits(max_object_mib=1))
    # THEN the events wholly within the first MiB are valid, the rest is one object_too_large
    kept = (1 << 20) // (len(line) + 6)
    assert reasons(rows) == [None] * kept + ["object_too_large"]
    assert json.loads(rows[-1]["record"]) == {
        "object": _OUT,
        "offset": kept * (len(line) + 6),
        "read_bytes": len(content),
        "max_object_bytes": 1 << 20,
    }


def test_an_object_of_exactly_max_object_mib_is_read_whole() -> None:
    # GIVEN an object of exactly 1 MiB of whitespace-padded events
    text = event("e1", event_time=at()) + "\n"
    text += " " * ((1 << 20) - len(text))
    # WHEN parsed with a 1 MiB limit / THEN its one record is valid and nothing else comes
    assert reasons(parse(text, limits=ReaderLimits(max_object_mib=1))) == [None]


def test_nesting_of_512_is_valid_and_of_513_is_not_json() -> None:
    # GIVEN an extra field nested so the record is 512 deep, and one 513 deep
    def nested(depth: int) -> str:
        inner = "[" * (depth - 1) + "]" * (depth - 1)
        return event("e1", event_time=at())[:-1] + f', "deep": {inner}}}'

    # WHEN parsed / THEN 512 levels (the record's object included) are valid, 513 are not JSON
    rows = parse(lines(nested(512), nested(513)))
    assert reasons(rows) == [None, "not_json"]
    assert rows[0]["properties"].count("[") == 511


def test_a_value_nested_thousands_deep_is_not_json_and_never_a_recursion_error() -> None:
    # GIVEN values nested 990 deep (once fatal in the properties encoder) and 5,000 deep
    records = [
        event("e1", event_time=at())[:-1] + f', "d": {"[" * n}{"]" * n}}}' for n in (989, 4999)
    ]
    # WHEN parsed / THEN both are not_json, and the events around them still parse
    rows = parse(lines(event("e0", event_time=at()), *records, event("e2", event_time=at())))
    assert reasons(rows) == [None, "not_json", "not_json", None]


# --- operator skip and streaming by path --------------------------------------------------------


def test_a_skipped_object_is_one_skipped_by_operator_record_holding_the_note() -> None:
    # GIVEN an object an operator skipped (its content would not even decode) and a good one
    note = json.dumps({"who": "ops", "why": "poison", "when": "2026-03-02T00:00:00Z"})
    other = "file:/raw/" + NAME.replace("10-00-05", "11-00-05")
    rows = parse(
        b"\x1f\x8bnot gzip",
        more={other: event("e1", event_time=at()).encode()},
        skipped={_OUT: note},
    )
    # WHEN parsed / THEN it yields exactly one record, the note, and the other object is read
    assert [(r["source_file"], r["reason"], r["record"]) for r in rows] == [
        (_OUT, "skipped_by_operator", note),
        (other, None, event("e1", event_time=at())),
    ]


def test_a_row_without_content_is_read_from_storage_by_its_path(tmp_path: Path) -> None:
    # GIVEN an object on disk, handed over by path only (as objects larger than a task are)
    path = tmp_path / NAME
    path.write_bytes(gzip.compress(lines(event("e1", event_time=at()), "oops").encode()))
    # WHEN parsed / THEN its records are those of its content
    rows = parse(None, path=f"file:{path}")
    assert [(r["event_id"], r["reason"]) for r in rows] == [("e1", None), (None, "not_json")]


def test_megabytes_of_whitespace_hold_no_records_and_give_no_empty_batches() -> None:
    # GIVEN an object of 5 MiB of blank lines, then one event
    content = " \n" * (5 << 19) + event("e1", event_time=at())
    # WHEN parsed in windows of 1 MiB
    out = list(parse_objects(iter([_batch({_OUT: content.encode()})])))
    # THEN one batch holds the one record
    assert [b.num_rows for b in out] == [1]


def test_a_row_without_content_on_s3_is_read_by_ranged_gets(moto: str) -> None:
    # GIVEN a gzip object on the (moto) S3 endpoint of AWS_ENDPOINT_URL, handed over by path
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="lake")
    key = f"raw/clickstream/2026/03/01/10/{NAME}.gz"
    body = gzip.compress(lines(event("e1", event_time=at()), "oops").encode())
    s3.put_object(Bucket="lake", Key=key, Body=body)
    # WHEN parsed with the worker reading it / THEN its records are those of its content
    rows = parse(None, path=f"s3://lake/{key}")
    assert [(r["event_id"], r["reason"]) for r in rows] == [("e1", None), (None, "not_json")]
    assert {r["source_file"] for r in rows} == {f"s3://lake/{key}"}


def test_an_object_spanning_several_output_batches_keeps_every_record_and_its_origin() -> None:
    # GIVEN an object of 70,000 events (more than one output batch holds) and a small one
    text = "".join(event(f"e{i}", event_time=at()) for i in range(70_000))
    other = "file:/raw/" + NAME.replace("10-00-05", "11-00-05")
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array([_OUT, other]),
            pa.array([0, 0], pa.timestamp("us")),
            pa.array([text.encode(), event("x", event_time=at()).encode()], pa.binary()),
        ],
        schema=_INPUT,
    )
    # WHEN parsed
    out = list(parse_objects(iter([batch])))
    # THEN it comes in more than one batch, every record once, each traced to its object
    rows = [row for b in out for row in b.to_pylist()]
    assert len(out) > 1 and len(rows) == 70_001
    assert [r["event_id"] for r in rows] == [f"e{i}" for i in range(70_000)] + ["x"]
    assert {r["source_file"] for r in rows[:-1]} == {_OUT} and rows[-1]["source_file"] == other


# --- through Spark: skipped objects, objects streamed by the worker, a hostile corpus -----------


def test_a_skipped_object_is_never_opened_and_gives_one_record_with_the_note(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN two listed objects, one of which an operator skipped and which is then deleted
    poison = write(tmp_path, b"\x1f\x8b poison", NAME + ".gz")
    good = write(tmp_path, event("e1"), NAME.replace("10-00-05", "10-00-06"))
    objects = list_raw_objects(spark, str(tmp_path))
    os.remove(poison.removeprefix("file:"))
    note = json.dumps({"who": "ops", "why": "worker crash", "when": "2026-03-02T00:00:00Z"})

    # WHEN read with it skipped
    actual = read_firehose(spark, objects, skipped={poison: note, "file:/elsewhere": "x"})

    # THEN it gives exactly one skipped_by_operator record holding the note (reading it would
    # have failed), and the other object is read as usual
    later = ARRIVED + timedelta(seconds=1)
    expected = [
        rejected(note, poison, "skipped_by_operator"),
        valid(event("e1"), good, "e1", ingested_at=later),
    ]
    assert_frames_equal(actual, frame(make_frame, expected))


def test_objects_larger_than_a_read_task_are_streamed_by_the_worker_with_the_same_records(
    spark: SparkSession, tmp_path: Path, assert_frames_equal: AssertFrames
) -> None:
    # GIVEN objects of every layout, some of them larger than 4 KiB
    write(tmp_path, "".join(event(f"a{i}") for i in range(200)))
    write(tmp_path, gzip.compress(lines(*(event(f"b{i}") for i in range(2000))).encode()), "b.gz")
    write(tmp_path, lines(event("c1"), "oops"), "c")
    objects = list_raw_objects(spark, str(tmp_path))
    assert sorted(o.size > 4096 for o in objects) == [False, True, True]
    whole = read_firehose(spark, objects).cache()

    # WHEN read again with read tasks of 4 KiB, so the larger objects come by path
    previous = spark.conf.get("spark.sql.files.maxPartitionBytes")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "4k")
    try:
        streamed = read_firehose(spark, objects)
        plan = streamed._jdf.queryExecution().optimizedPlan().toString()
        # THEN the larger objects come as rows without content (read by the worker), beside
        # one binaryFile scan of the small object ...
        assert "LogicalRDD" in plan and plan.count("binaryFile") == 1
        # ... and the records are exactly those read whole
        assert whole.count() == 2202
        assert_frames_equal(streamed, whole)
    finally:
        spark.conf.set("spark.sql.files.maxPartitionBytes", previous)


Expected = list[tuple[str, str | None, str | None]]


class Corpus:
    """A raw zone being written: each object named a minute after the last, and the expected
    (source_file, event_id, reason) of every record written."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.expected: Expected = []
        self.minute = 0

    def name(self, suffix: str = "") -> str:
        """The next object's name; its arrival is 10:MM:05 on 2026-03-01."""
        self.minute += 1
        return NAME.replace("10-00-05", f"10-{self.minute:02d}-05") + suffix

    def when(self, minutes: float = 0) -> str:
        """An event_time this many minutes from the arrival of the object named last."""
        moment = ARRIVED + timedelta(minutes=self.minute + minutes)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def put(
        self, object_name: str, content: str | bytes, rows: list[tuple[str | None, str | None]]
    ) -> str:
        """Write an object holding records of these (event_id if valid, reason if not)."""
        source = write(self.folder, content, object_name)
        self.expected += [(source, event_id, reason) for event_id, reason in rows]
        return source


def _hostile_corpus(folder: Path) -> tuple[Expected, str, str]:
    """Clean objects beside every hostile case: the expected rows, the path of the object an
    operator skips, and that of the gzip object cut short (whose kept prefix the caller reads)."""
    c = Corpus(folder)
    # Clean objects: newline-delimited, concatenated gzip, pretty-printed in two gzip members.
    name = c.name()
    events = lines(*(event(f"n{i}", event_time=c.when(-i)) for i in range(40)))
    c.put(name, events, [(f"n{i}", None) for i in range(40)])
    name = c.name(".gz")
    events = "".join(event(f"c{i}", event_time=c.when(-i)) for i in range(40))
    c.put(name, gzip.compress(events.encode()), [(f"c{i}", None) for i in range(40)])
    name = c.name(".gz")
    pretty = [
        json.dumps(json.loads(event(f"p{i}", event_time=c.when())), indent=2) for i in range(10)
    ]
    members = gzip.compress("".join(pretty[:5]).encode()) + gzip.compress(
        "".join(pretty[5:]).encode()
    )
    c.put(name, members, [(f"p{i}", None) for i in range(10)])
    # Implausible times beside a plausible one (default bounds).
    name = c.name()
    times = [
        ("9999-12-31T23:59:59Z", "event_time_in_future"),
        ("0001-01-01T00:00:00Z", "event_time_too_old"),
        ("1500-06-15T00:00:00Z", "event_time_too_old"),
        ("2031-03-02T10:00:00Z", "event_time_in_future"),
        (0, "event_time_too_old"),
        (c.when(-60), None),
    ]
    records = [event(f"t{i}", event_time=t) for i, (t, _) in enumerate(times)]
    c.put(
        name,
        lines(*records),
        [(f"t{i}" if r is None else None, r) for i, (_, r) in enumerate(times)],
    )
    # Encodings: ids differing only in invalid bytes, a lone surrogate escape, U+FFFD; and an
    # invalid byte outside the contract fields (valid).
    name = c.name()
    content = b"\n".join(
        [
            event("x__", event_time=c.when()).encode().replace(b"x__", b"x\xff\xfe"),
            event("x__", event_time=c.when()).encode().replace(b"x__", b"x\xfd\xfc"),
            event("s__", event_time=c.when()).encode().replace(b"s__", b"s\\ud800"),
            event("r\ufffd", event_time=c.when()).encode(),
            event("ok", event_time=c.when(), note="__").encode().replace(b"__", b"\xff"),
        ]
    )
    c.put(name, content, [(None, "invalid_encoding")] * 4 + [("ok", None)])
    # An oversized record between two clean ones (max_record_kib=4).
    name = c.name()
    big = event("big", event_time=c.when(), pad="x" * 5000)
    records = [event("o0", event_time=c.when()), big, event("o1", event_time=c.when())]
    c.put(name, lines(*records), [("o0", None), (None, "record_too_large"), ("o1", None)])
    # A gzip object cut short: the rest after the events it keeps is one record.
    name = c.name(".gz")
    events = lines(*(event(f"g{i}", event_time=c.when()) for i in range(3000)))
    content = gzip.compress(events.encode(), mtime=0)
    cut = c.put(name, content[: len(content) // 2], [(None, "truncated_object")])
    # A bomb past max_object_mib=1: one event, then 3 MiB of spaces in ~3 KB.
    name = c.name(".gz")
    bomb = gzip.compress((event("bomb", event_time=c.when()) + " " * (3 << 20)).encode())
    c.put(name, bomb, [("bomb", None), (None, "object_too_large")])
    # Nesting, strict JSON, a wrong type, a byte-order mark, text that is not JSON.
    name = c.name()
    records = [
        event("d", event_time=c.when())[:-1] + ', "d": ' + "[" * 600 + "]" * 600 + "}",
        "[" * 1500 + "]" * 1500,
        event("nan", event_time=c.when())[:-1] + ', "v": NaN}',
        event("num", event_time=c.when(), user_id=42),
        "\ufeff" + event("bom", event_time=c.when()),
        "GET / HTTP/1.1",
        "[1]",
    ]
    rows = [(None, "not_json"), (None, "not_json"), ("nan", None), (None, "invalid_type")]
    rows += [("bom", None), (None, "not_json"), (None, "not_an_object")]
    c.put(name, lines(*records), rows)
    # Content that does not decode, and an object an operator skips (never read).
    c.put(c.name(".gz"), b"\x1f\x8b\x08 not gzip", [(None, "unreadable_object")])
    skipped = c.put(c.name(), b"\x00" * 10_000, [(None, "skipped_by_operator")])
    return c.expected, skipped, cut


def test_a_hostile_corpus_beside_clean_objects_loses_nothing_and_breaks_nothing(
    spark: SparkSession,
    make_frame: MakeFrame,
    tmp_path: Path,
    assert_frames_equal: AssertFrames,
) -> None:
    # GIVEN a raw zone of clean objects and every hostile case, objects over 64 KiB read by the
    # worker, one object skipped by an operator
    expected, skipped, cut = _hostile_corpus(tmp_path)
    objects = list_raw_objects(spark, str(tmp_path))
    limits = ReaderLimits(max_object_mib=1, max_record_kib=4)
    previous = spark.conf.get("spark.sql.files.maxPartitionBytes")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "64k")
    try:
        # WHEN it is read
        parsed = read_firehose(spark, objects, limits=limits, skipped={skipped: '{"why": "x"}'})
        rows = parsed.select("source_file", "event_id", "reason", "record").collect()
    finally:
        spark.conf.set("spark.sql.files.maxPartitionBytes", previous)

    # THEN the cut object kept a prefix of its events, each valid, in order
    kept = [r["event_id"] for r in rows if r["source_file"] == cut and r["reason"] is None]
    assert 0 < len(kept) < 3000 and kept == [f"g{i}" for i in range(len(kept))]
    # AND every record is one row: clean ones valid exactly once, every break with its reason
    expected += [(cut, event_id, None) for event_id in kept]
    actual = parsed.select("source_file", "event_id", "reason")
    schema = "source_file string, event_id string, reason string"
    assert_frames_equal(actual, frame(make_frame, expected, schema))
    # AND every rejected row carries its record and the object it came from
    assert all(r["record"] for r in rows if r["reason"] is not None)
    assert {r["source_file"] for r in rows} == {o.path for o in objects}
