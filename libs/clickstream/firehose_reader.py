"""Firehose raw objects to one row per record: split, parse and validate (contract section 2).

Spark's JSON reader keeps only the first value of a line, so objects are split in Python inside
``mapInArrow``. Objects up to a read task's size come whole through the ``binaryFile`` source;
larger ones (and objects an operator skipped) come as a path only, and the Python worker streams
them from storage itself (``raw_content``): the JVM never holds such an object (a binaryFile row
over 2 GiB fails the whole job, and a few hundred MiB can exhaust a small driver).

Per object (``raw_content``, ``record_split``):

* content is gunzipped when it starts with the gzip magic bytes (every member), as a stream of
  chunks; past ``max_object_mib`` decompressed bytes reading stops: the records before the limit
  are kept and the rest is one ``object_too_large`` record;
* a gzip stream cut short (or corrupt past some point) keeps every record decoded before the cut;
  the rest is one ``truncated_object`` record; content of which nothing decodes is one
  ``unreadable_object`` record;
* the text is split into JSON values, a bounded window at a time, with the rules of
  ``record_split`` (whitespace or nothing between values, an unparseable rest of line is one
  ``not_json`` record, a byte-order mark before a value is dropped); a record longer than
  ``max_record_kib`` is ``record_too_large`` and is never parsed whole;
* an object named in ``skipped`` is not read: it is one ``skipped_by_operator`` record whose
  text is the operator's note.

The record of an object-level reason is JSON describing it: ``{"object": path, "offset": n,
...}`` with the decompressed byte offset where the records kept end, and the error met; an
oversized record's is ``{"bytes": n, "head": its first KiB}``. Bytes that are not UTF-8 appear in
``record`` as the four characters ``\\xNN`` (JSON has no ``\\x`` escape, so inside a JSON
string they cannot be mistaken for data).

Per record, Python only scans the JSON value and writes ``properties`` (the fields beyond the
contract and the promoted ones, re-serialized as strict JSON); field checks, event_time parsing,
the plausibility window and the promoted fields' typing are vectorised over Arrow arrays and
NumPy where the types allow. The rules, in REASONS order (a record gets the first it breaks):
``record_too_large``; ``not_json`` (text no JSON parser accepts, or nesting deeper than
MAX_DEPTH); ``not_an_object``; ``missing_event_id``, ``missing_user_id``, ``missing_event_type``
(missing, null or empty); ``invalid_type`` (one of those three present but not a string);
``invalid_encoding`` (event_id, user_id, event_type or title_id holding a byte that is not UTF-8,
a lone surrogate or U+FFFD); ``invalid_event_time``; ``invalid_title_id`` (present, not a
string); ``event_time_in_future`` and ``event_time_too_old`` (more than
``event_time_max_future_minutes`` after, or ``event_time_max_age_days`` before, the record's
``ingested_at``; ``None`` turns a bound off).

``properties`` is strict JSON (RFC 8259): a non-finite number (``NaN``, ``Infinity``, ``1e400``)
is written as its original text, a JSON string (``"NaN"``, ``"1e400"``); a string holding a lone
surrogate or an invalid byte gets U+FFFD in its place.

Promoted fields (config promoted_fields, name -> type) become typed columns. What fits:
``string`` a JSON string, or a number or boolean as its JSON text; ``long`` a JSON number with an
integral value in 64 bits, or a string holding one; ``double`` any finite JSON number, or a string
holding one; ``boolean`` JSON true or false; ``timestamp`` what event_time accepts. Missing or
null gives null. A value that does not fit gives null, stays in ``properties`` as it was, and
sets the field's bit in ``misfits`` (bit i = the i-th promoted field); it never rejects a record.

Field controls (``privacy.FieldControls``: properties_drop, properties_hash, properties_mask_ip,
pseudonymize_user_id) apply to each parsed record before any field is read, so no column, state
file or quarantine record of a parsed object holds an original value: a valid ``user_id`` is
replaced by its keyed hash, a valid record's ``record`` is null, and a rejected record that
parsed as a JSON object is stored as its controlled JSON (re-serialized) instead of its text;
other rejected text gets a best-effort scrub of the controlled names
(``FieldControls.scrub_text``).

Forgotten users (``forgotten_users.ForgottenUsers``, the suppression list of ``clickstream
forget``): a record whose ``user_id`` (a parsed string, or for text that is not a JSON object a
``"user_id": "..."`` found in it) is on the list gets ``forgotten_user`` whatever else it breaks,
and keeps no text and no field: only its object and arrival, to be counted.
"""

from __future__ import annotations

import gc
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from functools import reduce
from itertools import repeat
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BinaryType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from clickstream.forgotten_users import ForgottenUsers
from clickstream.privacy import FieldControls
from clickstream.raw_content import (
    CHUNK_BYTES,
    COMPLETE,
    ContentStatus,
    can_read,
    content_chunks,
    read_raw,
)
from clickstream.raw_objects import RawObject, ingested_at_ms, name_timestamp_ms
from clickstream.reasons import (
    EVENT_TIME_IN_FUTURE,
    EVENT_TIME_TOO_OLD,
    FORGOTTEN_USER,
    INVALID_ENCODING,
    INVALID_EVENT_TIME,
    INVALID_TITLE_ID,
    INVALID_TYPE,
    MISSING_EVENT_ID,
    MISSING_EVENT_TYPE,
    MISSING_USER_ID,
    NOT_AN_OBJECT,
    REASONS,
)
from clickstream.record_split import (
    NOT_JSON_VALUE,
    OBJECT_MARKERS,
    SKIPPED_VALUE,
    TOO_LARGE_VALUE,
    Marker,
    ObjectSplitter,
    raw_text,
    split_records,
    too_large_record,
    utf8_size,
)
from clickstream.tables import PROMOTED_TYPES

__all__ = [
    "REASONS",
    "ReaderLimits",
    "event_time_micros",
    "parse_objects",
    "read_firehose",
    "split_records",
    "split_valid",
]

EVENT_COLUMNS = ("event_id", "user_id", "event_type", "event_time", "title_id")
# Columns of the parsed frame that are not event fields: the raw text, the rule broken, misfits.
RECORD_ONLY_COLUMNS = ("record", "reason", "misfits")
# Columns of a valid event without promoted fields (split_valid appends those).
VALID_COLUMNS = (*EVENT_COLUMNS, "ingested_at", "source_file", "properties")
REJECTED_COLUMNS = ("record", "reason", "source_file", "ingested_at")

_TIMESTAMP = pa.timestamp("us", tz="UTC")
_ARROW_TYPES = {
    "string": pa.string(),
    "long": pa.int64(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": _TIMESTAMP,
}


def parsed_schema(promoted: Mapping[str, str] | None = None) -> StructType:
    """Columns of read_firehose: record, origin, contract fields, properties, promoted, misfits,
    reason."""
    return StructType(
        [
            StructField("record", StringType(), True),
            StructField("source_file", StringType(), False),
            StructField("ingested_at", TimestampType(), False),
            StructField("event_id", StringType(), True),
            StructField("user_id", StringType(), True),
            StructField("event_type", StringType(), True),
            StructField("event_time", TimestampType(), True),
            StructField("title_id", StringType(), True),
            StructField("properties", StringType(), True),
            *(StructField(n, PROMOTED_TYPES[t], True) for n, t in (promoted or {}).items()),
            StructField("misfits", LongType(), False),
            StructField("reason", StringType(), True),
        ]
    )


PARSED_SCHEMA = parsed_schema()


def _arrow_schema(promoted: Mapping[str, str]) -> pa.Schema:
    """The Arrow schema of parsed_schema(promoted)."""
    fixed = [
        ("record", pa.string()),
        ("source_file", pa.string()),
        ("ingested_at", _TIMESTAMP),
        ("event_id", pa.string()),
        ("user_id", pa.string()),
        ("event_type", pa.string()),
        ("event_time", _TIMESTAMP),
        ("title_id", pa.string()),
        ("properties", pa.string()),
    ]
    typed = [(name, _ARROW_TYPES[kind]) for name, kind in promoted.items()]
    return pa.schema([*fixed, *typed, ("misfits", pa.int64()), ("reason", pa.string())])


@dataclass(frozen=True)
class ReaderLimits:
    """The reader's settings (config keys of the same names): how far event_time may lie from
    ingested_at (None: no bound), and the largest object and record read."""

    event_time_max_future_minutes: int | None = 1440
    event_time_max_age_days: int | None = 30
    max_object_mib: int = 1024
    max_record_kib: int = 1000

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> ReaderLimits:
        """The limits named in a settings mapping (config.Settings.values)."""
        return cls(**{f.name: values[f.name] for f in fields(cls)})

    @property
    def max_object_bytes(self) -> int:
        """The most decompressed bytes read from one object."""
        return self.max_object_mib << 20

    @property
    def max_record_bytes(self) -> int:
        """The longest record kept, in UTF-8 bytes."""
        return self.max_record_kib << 10


READER_KEYS = tuple(f.name for f in fields(ReaderLimits))
# Nesting deeper than this is not_json: the properties encoder and the scanner never overflow.
MAX_DEPTH = 512

# Reason code 0 is a valid record; code i + 1 is REASONS[i].
_REASON_BY_CODE = pa.array([None, *REASONS], pa.string())
_CODE = {reason: code for code, reason in enumerate(REASONS, start=1)}

# Instants Spark can hold as a timestamp: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z.
MIN_EVENT_TIME_US = -62_135_596_800_000_000
MAX_EVENT_TIME_US = 253_402_300_799_999_999
_MIN_MS = -(-MIN_EVENT_TIME_US // 1000)
_MAX_MS = MAX_EVENT_TIME_US // 1000

# ISO-8601 event_time: date 'T' time, optional 1-3 digit fraction, mandatory Z or ±HH:MM offset.
_EVENT_TIME_PATTERN = (
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,3}))?(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))$"
)
_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)

_EMPTY: dict[str, Any] = {}
# A lone surrogate: a byte that was not UTF-8, or a \udXXX escape.
_SURROGATE = re.compile("[\ud800-\udfff]")
# properties: compact JSON, non-ASCII text kept as is, non-finite numbers refused (strict JSON;
# the records holding one take the slow path, _strict_properties).
_ENCODE = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), check_circular=False, allow_nan=False
).encode


def _unserializable(value: object) -> object:
    """The encoder's hook for a value that is not JSON (parsed values never are)."""
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _make_encoder() -> Callable[[object], str]:
    """The compact JSON encoder of parsed values (dicts, lists, str, int, float, bool, None).

    json.encoder.c_make_encoder is private; JSONEncoder.encode builds the same C encoder on every
    call, which costs 10% of parse_objects on the bench sample (reader_micro --variants
    public_encoder: 1.105x, idle machine). The public encoder is the fallback when the C one is
    missing (another Python).
    """
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    c_string = getattr(json.encoder, "c_encode_basestring", None)
    if c_make_encoder is None or c_string is None:
        return _ENCODE
    chunks = c_make_encoder(None, _unserializable, c_string, None, ":", ",", False, False, False)
    join = "".join
    return lambda value: join(chunks(value, 0))


_ENCODE_FAST = _make_encoder()
# Non-finite numbers parsed as their own text (a str), so they are written as JSON strings.
_VERBATIM = json.JSONDecoder(
    parse_constant=str, parse_float=lambda text: f if math.isfinite(f := float(text)) else text
)
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
# A batch is handed to Spark once it holds this many characters of record text or records: its
# parsed values are at most ~30x its text (objects of empty objects), so this bounds a worker's
# memory whatever the objects (an object may span batches). Smaller batches are also faster
# than the 64k records of old (better cache use): 2 MiB measured best of 0.5 to 16 MiB.
_FLUSH_CHARS = 2 << 20
_FLUSH_RECORDS = 65_536
_LISTING_THRESHOLD = "spark.sql.sources.parallelPartitionDiscovery.threshold"
_MAX_PARTITION_BYTES = "spark.sql.files.maxPartitionBytes"
# An object larger than a read task (maxPartitionBytes), and never larger than this, is streamed
# by the worker instead of coming whole through binaryFile.
INLINE_MAX_BYTES = 128 << 20


def event_time_micros(value: object) -> int | None:
    """event_time as epoch µs, or None when it is not a valid instant (one value of the rule)."""
    micros, valid = _vector_event_time([value])
    return int(micros[0]) if valid[0] else None


def _vector_event_time(values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """The event_time rule over a column: (epoch microseconds, valid mask).

    A string must match ISO-8601 as the contract writes it and name a real proleptic Gregorian
    instant from 0001-01-01 to 9999-12-31 UTC; an int is epoch milliseconds in that range. The
    fields are read from the UTF-8 bytes with NumPy and the calendar computed by hand
    (days_from_civil): no public vectorised parser is strict enough (Arrow's cast stops at the
    first bad value, strptime is the platform's and lenient), and a datetime per value makes
    the whole of parse_objects 1.38x slower on the bench sample (reader_micro --variants
    scalar_event_time, idle machine).
    """
    texts = _string_array([v if type(v) is str else None for v in values])
    millis = pa.array(
        [v if type(v) is int and _MIN_MS <= v <= _MAX_MS else None for v in values], pa.int64()
    )
    # The strict pattern fixes the layout, so the fields are read from the UTF-8 bytes directly.
    valid = pc.fill_null(pc.match_substring_regex(texts, _EVENT_TIME_PATTERN), False)
    valid = valid.to_numpy(zero_copy_only=False)
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int32)[texts.offset :][: len(texts) + 1]
    data = np.frombuffer(texts.buffers()[2] or b"", dtype=np.uint8)
    data = np.concatenate([data, np.zeros(32, dtype=np.uint8)])
    start = np.where(valid, offsets[:-1], 0)
    end = np.where(valid, offsets[1:], 32)

    def digits(first: np.ndarray, count: int) -> np.ndarray:
        """The number written by count ASCII digits from each start index."""
        number = np.zeros(len(first), dtype=np.int64)
        for i in range(count):
            number = number * 10 + data[first + i] - 48
        return number

    year, month, day = digits(start, 4), digits(start + 5, 2), digits(start + 8, 2)
    hour, minute, second = digits(start + 11, 2), digits(start + 14, 2), digits(start + 17, 2)
    zulu = data[end - 1] == ord("Z")
    off_len = np.where(zulu, 1, 6)
    frac_len = np.maximum(end - start - 20 - off_len, 0)  # digits after the '.', 0 when none
    milli = np.zeros(len(start), dtype=np.int64)
    for i in range(3):
        digit = data[np.minimum(start + 20 + i, end - 1)].astype(np.int64) - 48
        digit = np.where(frac_len > i, digit, 0)
        milli = milli * 10 + digit
    off_h = np.where(zulu, 0, digits(end - 5, 2))
    off_m = np.where(zulu, 0, digits(end - 2, 2))
    negative = ~zulu & (data[end - 6] == ord("-"))
    month_index = np.clip(month, 1, 12) - 1
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _DAYS_IN_MONTH[month_index] + ((month_index == 1) & leap)
    valid &= (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days)
    valid &= (hour <= 23) & (minute <= 59) & (second <= 59) & (off_h <= 23) & (off_m <= 59)
    # Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month_index + np.where(month_index >= 2, -2, 10)) + 2) // 5 + day - 1
    days = era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468
    offset_s = (off_h * 3600 + off_m * 60) * np.where(negative, -1, 1)
    seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s
    micros = (seconds * 1000 + milli) * 1000
    valid &= (micros >= MIN_EVENT_TIME_US) & (micros <= MAX_EVENT_TIME_US)
    from_millis = millis.is_valid().to_numpy(zero_copy_only=False)
    ms = pc.fill_null(millis, 0).to_numpy(zero_copy_only=False)
    return np.where(valid, micros, ms * 1000), valid | from_millis


def _string_array(values: list[Any]) -> pa.Array:
    """A string array; a lone surrogate (from an invalid byte or a \\udXXX escape) becomes
    U+FFFD."""
    try:
        return pa.array(values, pa.string())
    except (UnicodeEncodeError, pa.ArrowException):
        return pa.array(
            [_SURROGATE.sub("\ufffd", v) if isinstance(v, str) else v for v in values],
            pa.string(),
        )


def _record_array(records: list[str | None]) -> pa.Array:
    """The raw texts as a string array; a byte that was not UTF-8 is written as \\xNN."""
    try:
        return pa.array(records, pa.string())
    except (UnicodeEncodeError, pa.ArrowException):
        return pa.array([raw_text(r) if r is not None else r for r in records], pa.string())


def decode_object(data: bytes) -> str | None:
    """The whole text of a raw object (gunzipped when it starts with 1f 8b, bytes that are not
    UTF-8 as lone surrogates); None when it does not decode to its end. For tools and tests."""
    status = ContentStatus()
    content = b"".join(content_chunks([data], status, limit=len(data) << 12 or 1))
    if status.outcome != COMPLETE:
        return None
    return content.decode("utf-8", "surrogateescape")


def _text_field(dicts: list[dict[str, Any]], key: str) -> tuple[pa.Array, list[int], np.ndarray]:
    """The key's value of each record as a string array (null unless a string; a lone surrogate
    as U+FFFD), the records where it is present but not a string, and those where its text
    holds a lone surrogate or U+FFFD (bytes that were not UTF-8, a \\udXXX escape, a
    replacement)."""
    raw = list(map(dict.get, dicts, repeat(key)))
    try:
        array, wrong = pa.array(raw, pa.string()), []
    except (pa.ArrowException, UnicodeEncodeError):
        wrong = [i for i, v in enumerate(raw) if v is not None and type(v) is not str]
        array = _string_array([v if type(v) is str else None for v in raw])
    return array, wrong, _replaced(array)


def _replaced(array: pa.Array) -> np.ndarray:
    """The rows of a string array holding U+FFFD, found in its UTF-8 bytes (EF BF BD)."""
    data = np.frombuffer(array.buffers()[2] or b"", dtype=np.uint8)
    first = np.flatnonzero(data[:-2] == 0xEF)
    if not len(first):
        return first
    found = first[(data[first + 1] == 0xBF) & (data[first + 2] == 0xBD)]
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset :]
    return np.searchsorted(offsets[: len(array) + 1], found, side="right") - 1


def _number_text(value: object) -> str | None:
    """A JSON number's text (JSON booleans as true/false), None for anything else."""
    kind = type(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int or (kind is float and math.isfinite(value)):  # type: ignore[arg-type]
        return _ENCODE(value)
    return None


def _string_long(text: str) -> int | None:
    """The integer a string holds as a JSON number with an integral value, else None."""
    if not _JSON_NUMBER.fullmatch(text):
        return None
    try:
        number = Decimal(text)
        if number != number.to_integral_value():
            return None
        return int(number)
    except (InvalidOperation, OverflowError, ValueError):
        return None


def _as_long(value: object) -> int | None:
    """long: a JSON number with an integral value in 64 bits, or a string holding one."""
    kind = type(value)
    if kind is int:
        number: int | None = value  # type: ignore[assignment]
    elif kind is float:
        number = int(value) if math.isfinite(value) and value.is_integer() else None  # type: ignore
    elif kind is str:
        number = _string_long(value)  # type: ignore[arg-type]
    else:
        return None
    return number if number is not None and _LONG_MIN <= number <= _LONG_MAX else None


def _as_double(value: object) -> float | None:
    """double: any finite JSON number, or a string holding one."""
    kind = type(value)
    if kind is str:
        if not _JSON_NUMBER.fullmatch(value):  # type: ignore[arg-type]
            return None
    elif kind is not int and kind is not float:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _promoted_column(raw: list[Any], kind: str) -> tuple[pa.Array, np.ndarray]:
    """The typed column of one promoted field, and where a present value did not fit."""
    if kind == "timestamp":
        micros, fits = _vector_event_time(raw)
        column = pa.array(micros, _TIMESTAMP, mask=~fits)
    else:
        if kind == "string":
            values = [v if type(v) is str else _number_text(v) for v in raw]
            column = _string_array(values)
        elif kind == "boolean":
            values = [v if type(v) is bool else None for v in raw]
            column = pa.array(values, pa.bool_())
        elif kind == "long":
            values = [_as_long(v) for v in raw]
            column = pa.array(values, pa.int64())
        else:
            values = [_as_double(v) for v in raw]
            column = pa.array(values, pa.float64())
        fits = column.is_valid().to_numpy(zero_copy_only=False)
    present = np.fromiter((v is not None for v in raw), dtype=bool, count=len(raw))
    return column, present & ~fits


def _strict_properties(
    record: str, keep: Callable[[str], bool], controls: FieldControls | None = None
) -> str:
    """The kept fields of a record holding a non-finite number, each such number written as its
    original text (a JSON string): the record is parsed again, from its text (and controlled)."""
    parsed = _VERBATIM.decode(record)
    if controls is not None:
        controls.apply(parsed)
    return _ENCODE({k: v for k, v in parsed.items() if keep(k)})


def _extra_fields(
    dicts: list[dict[str, Any]],
    records: list[str | None],
    promoted: Mapping[str, str],
    controls: FieldControls | None = None,
) -> tuple[pa.Array, list[pa.Array], np.ndarray]:
    """(properties, the promoted columns, misfit bits) of the records."""
    names = list(promoted)
    columns: list[pa.Array] = []
    misfits = np.zeros(len(dicts), dtype=np.int64)
    for bit, name in enumerate(names):
        column, misfit = _promoted_column(list(map(dict.get, dicts, repeat(name))), promoted[name])
        columns.append(column)
        misfits |= misfit.astype(np.int64) << bit
    leave = frozenset((*EVENT_COLUMNS, *names))
    encode = _ENCODE_FAST
    texts: list[str | None] = []
    add = texts.append
    remaining = iter(dicts)
    while True:
        try:
            for d in remaining:
                rest = {k: v for k, v in d.items() if k not in leave}
                add(encode(rest) if rest else None)
            break
        except ValueError:  # a non-finite number (rare): this record takes the slow path
            text = records[len(texts)] or ""
            add(_strict_properties(text, lambda k: k not in leave, controls))
    # A promoted value that does not fit stays in properties as it came (rare: by index).
    for i in np.flatnonzero(misfits):
        kept = {names[b] for b in range(len(names)) if misfits[i] >> b & 1}
        d = dicts[i]
        try:
            texts[i] = encode({k: v for k, v in d.items() if k not in leave or k in kept})
        except ValueError:
            keep = lambda k, kept=kept: k not in leave or k in kept  # noqa: E731
            texts[i] = _strict_properties(records[i] or "", keep, controls)
    return _string_array(texts), columns, misfits


def _depth_over(value: Any, limit: int) -> bool:
    """Whether a parsed JSON value nests containers deeper than limit (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if type(node) is dict else node:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
    return False


def _reject_by_size(
    records: list[str | None], values: list[Any], sizes: np.ndarray, limits: ReaderLimits
) -> bool:
    """Mark records over max_record_kib (record_too_large, described) and values nested deeper
    than MAX_DEPTH (not_json), found by their length; whether a record text changed."""
    changed = False
    for i in np.flatnonzero(sizes > limits.max_record_bytes):
        value = values[i]
        if type(value) is Marker and value is not NOT_JSON_VALUE:
            continue  # an object-level record, an operator's note, an oversized one described
        text = records[i] or ""
        size = utf8_size(text)
        if size > limits.max_record_bytes:
            records[i] = too_large_record(text, size)
            values[i] = TOO_LARGE_VALUE
            changed = True
    # Deeper than MAX_DEPTH takes at least MAX_DEPTH + 1 brackets of each kind.
    for i in np.flatnonzero(sizes > 2 * MAX_DEPTH + 1):
        value, text = values[i], records[i] or ""
        if (
            (type(value) is dict or type(value) is list)
            and text.count("{") + text.count("[") > MAX_DEPTH
            and _depth_over(value, MAX_DEPTH)
        ):
            values[i] = NOT_JSON_VALUE
    return changed


class _Batch:
    """The records read since the last flush: texts, values, and the objects they come from."""

    def __init__(self) -> None:
        """An empty batch."""
        self.clear()

    def clear(self) -> None:
        """Start a new batch (the splitters writing here keep writing to the new one)."""
        self.records: list[str | None] = []
        self.values: list[Any] = []
        self.chars = 0
        self.sources: list[str] = []
        self.ingested_us: list[int] = []
        self.starts: list[int] = []  # per object (or part of one): its first record's index

    def begin(self, path: str, ingested_us: int) -> None:
        """The records added from now on come from this object."""
        self.sources.append(path)
        self.ingested_us.append(ingested_us)
        self.starts.append(len(self.records))

    def add(self, record: str, value: Any) -> None:
        """Add one record of the current object."""
        self.records.append(record)
        self.values.append(value)

    def full(self) -> bool:
        """Whether the batch should go to Spark now (2 MiB of text, or 64k records)."""
        count = len(self.records)
        return count >= _FLUSH_RECORDS or (count > 0 and self.chars >= _FLUSH_CHARS)


def _controlled_record(record: str | None, value: Any, controls: FieldControls) -> str | None:
    """A rejected record's text as stored under field controls: a parsed JSON object as its
    controlled JSON, other text scrubbed (object-level descriptions hold no record data)."""
    if record is None:
        return record
    if value is TOO_LARGE_VALUE:  # {"bytes": n, "head": text}: scrub the head
        doc = json.loads(record)
        return json.dumps({**doc, "head": controls.scrub_text(doc["head"])}, ensure_ascii=False)
    if type(value) is Marker and value is not NOT_JSON_VALUE:
        return record  # an object-level description or an operator's note: no record data
    if type(value) is not dict:
        return controls.scrub_text(record)
    user_id = value.get("user_id")
    if controls.pseudonymize_user_id and type(user_id) is str:
        value = {**value, "user_id": controls.pseudonym(user_id)}
    try:
        return _ENCODE(value)
    except ValueError:  # a non-finite number: from the text, numbers kept as their text
        parsed = controls.apply(_VERBATIM.decode(record))
        if controls.pseudonymize_user_id and type(parsed.get("user_id")) is str:
            parsed["user_id"] = controls.pseudonym(parsed["user_id"])
        return _ENCODE(parsed)


# A "user_id": "..." pair in text that is not a JSON object (a line cut short, an oversized head).
_USER_ID_TEXT = re.compile(r'"user_id"\s*:\s*("(?:[^"\\]|\\.)*")')


def _forgotten(
    user_id: pa.Array,
    values: list[Any],
    records: list[str | None],
    code: np.ndarray,
    forgotten: ForgottenUsers,
) -> np.ndarray:
    """The records of forgotten users: a parsed string user_id on the list (each distinct id
    hashed once), or a rejected text naming one."""
    hits = [u for u in pc.unique(user_id).drop_null().to_pylist() if forgotten.holds(u)]
    found = pc.fill_null(pc.is_in(user_id, pa.array(hits, pa.string())), False)
    gone = np.array(found.to_numpy(zero_copy_only=False), dtype=bool)
    for i in np.flatnonzero((code != 0) & ~gone).tolist():
        value, text = values[i], records[i]
        if type(value) is dict or text is None:
            continue  # a parsed object: its user_id (if a string) was looked up above
        if value is TOO_LARGE_VALUE:
            text = json.loads(text)["head"]
        elif type(value) is Marker and value is not NOT_JSON_VALUE:
            continue  # an object-level description or an operator's note: no record data
        for literal in _USER_ID_TEXT.findall(text):
            try:
                named = json.loads(literal)
            except ValueError:
                continue
            if forgotten.holds(named):
                gone[i] = True
                break
    return gone


def _to_batch(
    batch: _Batch,
    promoted: Mapping[str, str],
    limits: ReaderLimits,
    schema: pa.Schema,
    controls: FieldControls | None = None,
    forgotten: ForgottenUsers | None = None,
) -> pa.RecordBatch:
    """Validate the parsed values column-wise and build the output Arrow batch."""
    records, values = batch.records, batch.values
    n = len(values)
    counts = np.diff(np.append(np.asarray(batch.starts, dtype=np.int64), n))
    owner = np.repeat(np.arange(len(counts)), counts)
    ingested = np.asarray(batch.ingested_us, dtype=np.int64)[owner]
    record_array = _record_array(records)
    sizes = pc.binary_length(record_array).to_numpy(zero_copy_only=False)
    if _reject_by_size(records, values, sizes, limits):
        record_array = _record_array(records)
    # Records that are not JSON objects are rare: find them once, by index.
    odd = [i for i, t in enumerate(map(type, values)) if t is not dict]
    dicts = values
    if odd:
        dicts = list(values)
        for i in odd:
            dicts[i] = _EMPTY
    if controls is not None and (controls.drop or controls.hash or controls.mask_ip):
        for value in values:
            if type(value) is dict:
                controls.apply(value)
    event_id, wrong_id, bad_id = _text_field(dicts, "event_id")
    user_id, wrong_user, bad_user = _text_field(dicts, "user_id")
    event_type, wrong_type, bad_type = _text_field(dicts, "event_type")
    title_id, bad_titles, bad_title_text = _text_field(dicts, "title_id")
    event_micros, time_ok = _vector_event_time(list(map(dict.get, dicts, repeat("event_time"))))
    properties, typed, misfits = _extra_fields(dicts, records, promoted, controls)

    code = np.zeros(n, dtype=np.int8)
    # Assign from the last rule to the first, so the first rule a record breaks wins.
    if limits.event_time_max_age_days is not None:
        oldest = ingested - limits.event_time_max_age_days * 86_400_000_000
        code[time_ok & (event_micros < oldest)] = _CODE[EVENT_TIME_TOO_OLD]
    if limits.event_time_max_future_minutes is not None:
        latest = ingested + limits.event_time_max_future_minutes * 60_000_000
        code[time_ok & (event_micros > latest)] = _CODE[EVENT_TIME_IN_FUTURE]
    code[bad_titles] = _CODE[INVALID_TITLE_ID]
    code[~time_ok] = _CODE[INVALID_EVENT_TIME]
    for bad in (bad_id, bad_user, bad_type, bad_title_text):
        code[bad] = _CODE[INVALID_ENCODING]
    code[[*wrong_id, *wrong_user, *wrong_type]] = _CODE[INVALID_TYPE]
    for array, wrong, reason in (
        (event_type, wrong_type, MISSING_EVENT_TYPE),
        (user_id, wrong_user, MISSING_USER_ID),
        (event_id, wrong_id, MISSING_EVENT_ID),
    ):
        missing = ~pc.fill_null(pc.greater(pc.binary_length(array), 0), False).to_numpy(
            zero_copy_only=False
        )
        missing[wrong] = False
        code[missing] = _CODE[reason]
    for i in odd:
        value = values[i]
        code[i] = _CODE[value.reason if type(value) is Marker else NOT_AN_OBJECT]

    gone = _forgotten(user_id, values, records, code, forgotten) if forgotten else None
    if gone is not None:
        code[gone] = _CODE[FORGOTTEN_USER]
    rejected = code != 0
    if controls is not None:
        if controls.pseudonymize_user_id:
            user_id = pa.array(
                [
                    controls.pseudonym(u) if u is not None and not r else None
                    for u, r in zip(user_id.to_pylist(), rejected.tolist(), strict=True)
                ],
                pa.string(),
            )
        # A valid record's text holds the originals: under controls it is not kept at all.
        records = [
            _controlled_record(r, v, controls) if bad else None
            for r, v, bad in zip(records, values, rejected.tolist(), strict=True)
        ]
        record_array = _record_array(records)
    if gone is not None and gone.any():  # a forgotten user's text is never kept
        records = [None if g else r for r, g in zip(records, gone.tolist(), strict=True)]
        record_array = _record_array(records)
    fields = [event_id, user_id, event_type, pa.array(event_micros, _TIMESTAMP, mask=~time_ok)]
    fields += [title_id, properties, *typed]
    if rejected.any():
        # A rejected record carries no event fields: only its text, origin and reason.
        keep = pa.array(~rejected)
        fields = [pc.if_else(keep, f, pa.scalar(None, f.type)) for f in fields]
        misfits = np.where(rejected, 0, misfits)
    columns = [
        record_array,
        pa.array(batch.sources, pa.string()).take(pa.array(owner)),
        pa.array(ingested, _TIMESTAMP),
        *fields,
        pa.array(misfits, pa.int64()),
        _REASON_BY_CODE.take(pa.array(code)),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def parse_objects(
    batches: Iterator[pa.RecordBatch],
    modified_ms: Mapping[str, int] | None = None,
    promoted: Mapping[str, str] | None = None,
    *,
    limits: ReaderLimits | None = None,
    skipped: Mapping[str, str] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    controls: FieldControls | None = None,
    forgotten: ForgottenUsers | None = None,
) -> Iterator[pa.RecordBatch]:
    """binaryFile batches (path, modificationTime, content) to batches of parsed records.

    A row with null content is read from storage by its path (raw_content.read_raw); a path in
    skipped is not read at all: its one record is the note, reason skipped_by_operator.
    controls (privacy) apply to every parsed record, and records of forgotten users are dropped
    as forgotten_user (see the module docstring).
    """
    # Parsed records hold no reference cycles; the cyclic GC would only rescan them. Measured
    # (reader_micro --variants gc_on, idle machine): no gain on the bench sample's objects of
    # 0.25-3 MB (0.99x-1.02x), 1.16x on objects of one 21 MB line of 100,000 events.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield from _parse_objects(
            batches,
            modified_ms or {},
            dict(promoted or {}),
            limits or ReaderLimits(),
            skipped or {},
            chunk_bytes,
            controls if controls is not None and controls.active else None,
            forgotten if forgotten else None,
        )
    finally:
        if gc_was_enabled:
            gc.enable()


def _parse_objects(
    batches: Iterator[pa.RecordBatch],
    modified_ms: Mapping[str, int],
    promoted: dict[str, str],
    limits: ReaderLimits,
    skipped: Mapping[str, str],
    chunk_bytes: int,
    controls: FieldControls | None,
    forgotten: ForgottenUsers | None = None,
) -> Iterator[pa.RecordBatch]:
    """Split every object of every batch; emit a batch each 2 MiB of record text (or 64k records)."""
    schema = _arrow_schema(promoted)
    out = _Batch()
    for batch in batches:
        paths = batch.column("path").to_pylist()
        mtimes = pc.cast(batch.column("modificationTime"), pa.int64()).to_pylist()
        contents = batch.column("content")
        for i, path in enumerate(paths):
            mtime_ms = modified_ms.get(path, (mtimes[i] or 0) // 1000)
            ingested_us = ingested_at_ms(path, mtime_ms) * 1000
            out.begin(path, ingested_us)
            if path in skipped:
                out.add(skipped[path], SKIPPED_VALUE)
            else:
                content = contents[i].as_buffer()
                for _ in _split_object(path, content, out, limits, chunk_bytes):
                    if out.full():
                        yield _to_batch(out, promoted, limits, schema, controls, forgotten)
                        out.clear()
                        out.begin(path, ingested_us)
            if out.full():
                yield _to_batch(out, promoted, limits, schema, controls, forgotten)
                out.clear()
    if out.records:
        yield _to_batch(out, promoted, limits, schema, controls, forgotten)


def _split_object(
    path: str, content: pa.Buffer | None, out: _Batch, limits: ReaderLimits, chunk_bytes: int
) -> Iterator[None]:
    """Split one object into out's records, yielding between windows; an object-level record
    for what could not be read ends it."""
    status = ContentStatus()
    raw = [memoryview(content)] if content is not None else read_raw(path)
    chunks = content_chunks(raw, status, limit=limits.max_object_bytes, chunk=chunk_bytes)
    splitter = ObjectSplitter(out, limits.max_record_bytes)
    yield from splitter.windows(chunks, status)
    if status.outcome != COMPLETE:
        description: dict[str, Any] = {
            "object": path,
            "offset": status.size - splitter.rest_bytes(),
            "read_bytes": status.read,
        }
        if status.error:
            description["error"] = status.error
        if status.outcome == "too_large":
            description["max_object_bytes"] = limits.max_object_bytes
        out.add(json.dumps(description, ensure_ascii=False), OBJECT_MARKERS[status.outcome])


def _glob_escape(path: str) -> str:
    """A path Spark reads literally even when it holds glob characters."""
    return re.sub(r"([\\{}\[\]*?])", r"\\\1", path)


def _load_binary(spark: SparkSession, paths: list[str]) -> DataFrame:
    """The binaryFile source over exactly these objects (one row per object)."""
    reader = spark.read.format("binaryFile")
    escaped = [_glob_escape(p) for p in paths]
    if not all(p.startswith("file:") for p in paths):
        # On object stores Spark checks the paths with a distributed job: parallel requests.
        return reader.load(escaped)
    # Locally that job is pure overhead (about 0.5 s per 100 objects): check them on the driver.
    previous = spark.conf.get(_LISTING_THRESHOLD)
    spark.conf.set(_LISTING_THRESHOLD, str(len(paths) + 1))
    try:
        return reader.load(escaped)
    finally:
        spark.conf.set(_LISTING_THRESHOLD, previous)


def _inline_max_bytes(spark: SparkSession) -> int:
    """The largest object read through binaryFile: a read task's size, at most INLINE_MAX_BYTES."""
    setting = spark.conf.get(_MAX_PARTITION_BYTES)
    utils = spark._jvm.org.apache.spark.network.util.JavaUtils  # type: ignore[attr-defined]
    return min(int(utils.byteStringAsBytes(setting)), INLINE_MAX_BYTES)


def _by_path(spark: SparkSession, objects: list[RawObject]) -> DataFrame:
    """binaryFile-shaped rows without content, spread over up to 4 tasks a core: the worker
    reads them (one at a time, streamed, so a task's memory does not grow with its share)."""
    schema = StructType(
        [
            StructField("path", StringType(), False),
            StructField("modificationTime", TimestampType(), True),
            StructField("content", BinaryType(), True),
        ]
    )
    tasks = min(len(objects), 4 * max(1, spark.sparkContext.defaultParallelism))
    rows = spark.sparkContext.parallelize([(o.path, None, None) for o in objects], tasks)
    return spark.createDataFrame(rows, schema)


def read_firehose(
    spark: SparkSession,
    objects: Sequence[RawObject],
    promoted: Mapping[str, str] | None = None,
    *,
    limits: ReaderLimits | None = None,
    skipped: Mapping[str, str] | None = None,
    controls: FieldControls | None = None,
    forgotten: ForgottenUsers | None = None,
) -> DataFrame:
    """One row per record of the given raw objects: raw text, source, arrival, fields, reason.

    promoted (field name -> type) adds the typed columns; limits are the reader's settings
    (default: the contract's); an object whose path is in skipped (path -> note) is not read and
    gives one skipped_by_operator record holding the note; controls are the privacy settings'
    field controls (the key travels inside the function, never in Spark's settings); forgotten
    is the suppression list of forgotten users (their records become forgotten_user). See the
    module docstring.
    """
    promoted = dict(promoted or {})
    limits = limits or ReaderLimits()
    schema = parsed_schema(promoted)
    by_path = {obj.path: obj for obj in objects}
    if not by_path:
        return spark.createDataFrame(spark.sparkContext.emptyRDD(), schema)
    skipped = {p: note for p, note in (skipped or {}).items() if p in by_path}
    # Objects named without a timestamp fall back to the listed modification time.
    modified = {p: o.modified_ms for p, o in by_path.items() if name_timestamp_ms(p) is None}
    inline_max = _inline_max_bytes(spark)
    streamed = [
        o for p, o in by_path.items() if p in skipped or (o.size > inline_max and can_read(p))
    ]
    names = {o.path for o in streamed}
    whole = [p for p in by_path if p not in names]
    parts = (
        [_load_binary(spark, whole).select("path", "modificationTime", "content")] if whole else []
    )
    if streamed:
        parts.append(_by_path(spark, streamed))
    raw = reduce(DataFrame.union, parts)

    def parse(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """The function mapInArrow runs in each Python worker."""
        return parse_objects(
            batches,
            modified,
            promoted,
            limits=limits,
            skipped=skipped,
            controls=controls,
            forgotten=forgotten,
        )

    return raw.mapInArrow(parse, schema)


def _is_valid() -> Column:
    """A record is valid when no rule gave it a reason."""
    return F.col("reason").isNull()


def event_columns(parsed: DataFrame) -> list[str]:
    """The event fields of a parsed frame, ingested_at and source_file (not record or reason)."""
    first = list(VALID_COLUMNS)
    return first + [c for c in parsed.columns if c not in (*first, *RECORD_ONLY_COLUMNS)]


def misfit_counts(promoted: Mapping[str, str]) -> list[Column]:
    """Aggregations over a parsed frame: per promoted field, the values that did not fit."""
    return [
        F.sum(F.shiftright("misfits", bit).bitwiseAND(1)).alias(f"misfit_{name}")
        for bit, name in enumerate(promoted)
    ]


def split_valid(parsed: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(valid events with ingested_at and source_file, rejected records with their reason)."""
    valid = parsed.where(_is_valid()).select(*event_columns(parsed))
    rejected = parsed.where(~_is_valid()).select(*REJECTED_COLUMNS)
    return valid, rejected
