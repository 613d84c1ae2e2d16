"""Splitting an object's text into records, one bounded window at a time."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from clickstream.raw_content import ContentStatus, content_chunks
from clickstream.reasons import NOT_JSON, RECORD_TOO_LARGE
from clickstream.record_split import Marker, ObjectSplitter, split_records, too_large_record

# Pieces of content, glued at random: values of every kind, cut tokens, broken values, blank
# and CRLF lines, byte-order marks, NULs, non-ASCII text and bytes that are not UTF-8.
PIECES = [
    '{"a": 1}',
    "[1,2]",
    '"s"',
    "42",
    "-1.5e+3",
    "true",
    "null",
    "nul",
    '{"a": tru}',
    "12.",
    "1e",
    "0x12",
    '{"x":"\\u00e9\\ud83d\\ude00"}',
    '{\n  "p": [1,\n 2]\n}',
    "garbage here",
    '{"a":"b"',
    '\ufeff{"b":2}',
    "NaN",
    "-Infinity",
    '{"k": 1e400}',
    "  ",
    "\n",
    "\r\n",
    "\t",
    '{"deep":' + "[" * 20 + "]" * 20 + "}",
    '"\\"quoted\\""',
    '{"z":"\\\\"}',
    "{}{}",
    "[][]",
    "\x00",
    '{"a":"\x00"}',
    "x\x00y",
    "ä",
    "오징어",
    "\udcff",
    '{"id":"x\udcfe"}',
]


class Sink:
    """Records and values as the reader's batch keeps them."""

    def __init__(self) -> None:
        self.records: list[str | None] = []
        self.values: list[Any] = []
        self.chars = 0


def whole(text: str) -> tuple[list[str | None], list[Any]]:
    """The records and values of the text split at once."""
    records: list[str | None] = []
    values: list[Any] = []
    split_records(text, records, values)
    return records, values


def windowed(
    data: bytes, chunk: int, max_record_bytes: int = 1 << 30
) -> tuple[list[str | None], list[Any]]:
    """The records and values of the content split window by window, chunk bytes at a time."""
    sink, status = Sink(), ContentStatus()
    splitter = ObjectSplitter(sink, max_record_bytes)
    for _ in splitter.windows(content_chunks([data], status, limit=1 << 40, chunk=chunk), status):
        pass
    return sink.records, sink.values


def comparable(values: list[Any]) -> list[str]:
    """Values compared by their JSON-ish form (NaN equals NaN), markers by reason."""
    return [v.reason if isinstance(v, Marker) else repr(v) for v in values]


def test_windows_of_any_size_give_exactly_the_records_of_the_whole_text() -> None:
    # GIVEN 1,500 random contents glued from every kind of piece
    rng = random.Random(7)
    for _ in range(1500):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randrange(1, 25)))
        data = text.encode("utf-8", "surrogateescape")
        expected_records, expected_values = whole(text)
        # WHEN split in windows of 1 to 64 bytes
        for chunk in (1, 2, 3, 5, 13, 64):
            records, values = windowed(data, chunk)
            # THEN every window size gives the same records and values as the whole text
            assert records == expected_records, (chunk, text)
            assert comparable(values) == comparable(expected_values), (chunk, text)


def test_a_byte_order_mark_before_any_value_is_dropped() -> None:
    # GIVEN byte-order marks before the first value, a later line's value and a glued value
    text = '\ufeff{"a":1}\n\ufeff{"b":2}\ufeff{"c":3}\n\ufeff\n'
    # WHEN split / THEN three records, none holding a mark, and no record for the mark alone
    assert whole(text) == (['{"a":1}', '{"b":2}', '{"c":3}'], [{"a": 1}, {"b": 2}, {"c": 3}])


def test_nesting_too_deep_for_the_scanner_is_one_not_json_record_not_an_error() -> None:
    # GIVEN a value nested 5,000 deep between two good lines
    deep = "[" * 5000 + "]" * 5000
    # WHEN split / THEN it is one not_json record (no RecursionError) and parsing resumes
    records, values = whole(f'{{"a":1}}\n{deep}\n{{"b":2}}')
    assert records == ['{"a":1}', deep, '{"b":2}']
    assert comparable(values) == ["{'a': 1}", NOT_JSON, "{'b': 2}"]


def oversized(head: str, size: int) -> str:
    return too_large_record(head, size)


@pytest.mark.parametrize("chunk", [7, 100, 4096])
def test_an_oversized_line_is_one_record_too_large_and_the_next_lines_parse(chunk: int) -> None:
    # GIVEN a 5,000-byte event between two small ones, newline-delimited, with a limit of 1 KiB (the least max_record_kib)
    big = json.dumps({"event_id": "big", "pad": "x" * 5000})
    data = f'{{"a":1}}\n{big}  \r\n{{"b":2}}\n'.encode()
    # WHEN split in windows much smaller than the record
    records, values = windowed(data, chunk, max_record_bytes=1024)
    # THEN the oversized record is described (length without trailing spaces, first KiB) and
    # skipped unparsed; the records around it are intact
    assert records == ['{"a":1}', oversized(big, len(big)), '{"b":2}']
    assert comparable(values) == ["{'a': 1}", RECORD_TOO_LARGE, "{'b': 2}"]
    assert json.loads(records[1] or "") == {"bytes": len(big), "head": big[:1024]}


@pytest.mark.parametrize("chunk", [7, 100, 4096])
def test_an_oversized_value_in_concatenated_content_ends_where_it_closes(chunk: int) -> None:
    # GIVEN concatenated values (the Firehose default: one line), one of them oversized, with
    # brackets and escaped quotes inside its strings
    big = json.dumps({"event_id": "big", "pad": ['}"]\\' * 600, {"x": "{[" * 300}]})
    data = f'{{"a":1}}{big}{{"b":2}}[3]'.encode()
    # WHEN split in windows smaller than it
    records, values = windowed(data, chunk, max_record_bytes=1024)
    # THEN it is one record_too_large of its exact length, and the values after it parse
    assert records == ['{"a":1}', oversized(big, len(big)), '{"b":2}', "[3]"]
    assert comparable(values) == ["{'a': 1}", RECORD_TOO_LARGE, "{'b': 2}", "[3]"]


def test_an_oversized_line_that_is_not_json_runs_to_its_line_end() -> None:
    # GIVEN a 3,000-character line of text that is not JSON, then an event
    junk = "GET /" + "a" * 3000
    records, values = windowed(f'{junk}\n{{"b":2}}'.encode(), 256, max_record_bytes=1024)
    # WHEN / THEN it is one record_too_large up to its line end, and the event parses
    assert records == [oversized(junk, len(junk)), '{"b":2}']
    assert comparable(values) == [RECORD_TOO_LARGE, "{'b': 2}"]


def test_an_oversized_record_is_described_by_its_bytes_and_first_kib_with_raw_bytes_escaped() -> (
    None
):
    # GIVEN an oversized record of Korean text holding a byte that is not UTF-8
    text = "\udcff" + "가" * 2000
    # WHEN described / THEN its size counts bytes, the head is at most 1 KiB of whole
    # characters, and the invalid byte is written \xff
    described = json.loads(too_large_record(text, 6001))
    assert described["bytes"] == 6001
    assert described["head"] == "\\xff" + "가" * 341
    assert len(("\xff" + "가" * 341).encode()) <= 1024 + 1
