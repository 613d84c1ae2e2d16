"""Firehose objects to records: every value of every layout arrives; rejections give a reason."""

from __future__ import annotations

import gzip
import json
import os
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from clickstream.firehose_reader import (
    PARSED_SCHEMA,
    REASONS,
    VALID_COLUMNS,
    _vector_event_time,
    event_time_micros,
    misfit_counts,
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


def test_vectorised_event_time_agrees_with_the_datetime_reference_rule() -> None:
    # GIVEN thousands of near-valid event_time values: every character position mutated
    rng = random.Random(3)
    seeds = ["2024-02-29T23:59:59.999+09:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.9Z"]
    seeds += ["2026-12-31T00:00:00.05-23:59", "1970-01-01T00:00:00Z", "2100-02-28T12:00:00Z"]
    values: list[object] = [1772325000500, -1, True, None, 2.5, 10**15, -(10**15)]
    for seed in seeds:
        values.append(seed)
        for _ in range(400):
            chars = list(seed)
            chars[rng.randrange(len(chars))] = rng.choice("0123456789:+-.TZ x")
            values.append("".join(chars))
        for day in range(26, 33):
            values.append(f"{seed[:5]}02-{day:02d}{seed[10:]}")

    # WHEN the vectorised rule runs over all of them
    micros, ok = _vector_event_time(values)

    # THEN it gives exactly what regex + datetime construction gives, value by value
    actual = [int(m) if k else None for m, k in zip(micros, ok, strict=True)]
    assert actual == [event_time_micros(v) for v in values]
    assert sum(v is not None for v in actual) > 100
