"""Firehose raw objects to one row per record: split, parse and validate (contract section 2).

Spark's JSON reader keeps only the first value of a line, so objects are read whole with the
``binaryFile`` source and split in Python inside ``mapInArrow``:

* content is gunzipped when it starts with the gzip magic bytes, then decoded as UTF-8 (invalid
  bytes become U+FFFD, a leading byte-order mark is dropped);
* the text is a sequence of JSON values, separated by nothing or by whitespace, each possibly
  spanning lines; blank lines are not records;
* a value is kept when it is followed by whitespace, the end of the object, ``{`` or ``[``, or
  when it closes itself (object, array, string), so ``{..}{..}`` is two records while
  ``2026-03-01 ok`` is not split into numbers;
* on a failure the rejected record runs from the start of the failing value to the end of that
  line (trailing whitespace dropped) and parsing resumes on the next line: in newline-delimited
  content an unparseable line is exactly one rejected record;
* an object whose gzip stream cannot be decompressed is one rejected record (``record`` null).

Per record, Python only scans the JSON value and writes `properties` (the fields beyond the
contract and the promoted ones, re-serialized as JSON); field checks, event_time parsing and the
promoted fields' typing are vectorised over Arrow arrays and NumPy where the types allow.

Promoted fields (config promoted_fields, name -> type) become typed columns. What fits:
``string`` a JSON string, or a number or boolean as its JSON text; ``long`` a JSON number with an
integral value in 64 bits, or a string holding one; ``double`` any finite JSON number, or a string
holding one; ``boolean`` JSON true or false; ``timestamp`` what event_time accepts. Missing or
null gives null. A value that does not fit gives null, stays in ``properties`` as it was, and
sets the field's bit in ``misfits`` (bit i = the i-th promoted field); it never rejects a record.
"""

from __future__ import annotations

import gc
import gzip
import json
import math
import re
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from itertools import repeat
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType, TimestampType

from clickstream.raw_objects import RawObject, ingested_at_ms, name_timestamp_ms
from clickstream.reasons import (
    INVALID_EVENT_TIME,
    INVALID_TITLE_ID,
    MISSING_EVENT_ID,
    MISSING_EVENT_TYPE,
    MISSING_USER_ID,
    NOT_AN_OBJECT,
    NOT_JSON,
    REASONS,
    UNREADABLE_OBJECT,
)
from clickstream.tables import PROMOTED_TYPES

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


# Reason code 0 is a valid record; code i + 1 is REASONS[i].
_REASON_BY_CODE = pa.array([None, *REASONS], pa.string())
_CODE = {reason: code for code, reason in enumerate(REASONS, start=1)}

# Instants Spark can hold as a timestamp: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z.
MIN_EVENT_TIME_US = -62_135_596_800_000_000
MAX_EVENT_TIME_US = 253_402_300_799_999_999
_MIN_MS = -(-MIN_EVENT_TIME_US // 1000)
_MAX_MS = MAX_EVENT_TIME_US // 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)

# ISO-8601 event_time: date 'T' time, optional 1-3 digit fraction, mandatory Z or ±HH:MM offset.
_EVENT_TIME_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,3}))?(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))"
)
_EVENT_TIME_RE2 = "^" + _EVENT_TIME_RE.pattern + "$"
_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)

# The C scanner behind raw_decode: (value, end) of the JSON value starting at an index.
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore
_SKIP_WS = re.compile(r"[ \t\n\r]*").match
_SELF_CLOSING = frozenset('}]"')
_MAY_FOLLOW = frozenset(" \t\n\r{[")
_EMPTY: dict[str, Any] = {}
_GZIP_MAGIC = b"\x1f\x8b"
# properties: compact JSON, non-ASCII text kept as is, NaN/Infinity (which the scanner accepts)
# written back as they came. The C encoder is built once: JSONEncoder.encode builds it per call,
# which doubles the cost of a small object.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def _unserializable(value: object) -> object:
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _make_encoder() -> Callable[[object], str]:
    """The compact JSON encoder of parsed values (dicts, lists, str, int, float, bool, None)."""
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    c_string = getattr(json.encoder, "c_encode_basestring", None)
    if c_make_encoder is None or c_string is None:
        return _ENCODE
    chunks = c_make_encoder(None, _unserializable, c_string, None, ":", ",", False, False, True)
    join = "".join
    return lambda value: join(chunks(value, 0))


_ENCODE_FAST = _make_encoder()
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_FLUSH_RECORDS = 65_536
_LISTING_THRESHOLD = "spark.sql.sources.parallelPartitionDiscovery.threshold"


def event_time_micros(value: object) -> int | None:
    """Reference rule (scalar): event_time as epoch µs, or None when it is not a valid instant."""
    if type(value) is int:
        return value * 1000 if _MIN_MS <= value <= _MAX_MS else None
    if type(value) is not str:
        return None
    match = _EVENT_TIME_RE.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    if int(off_m or 0) > 59:  # timezone() would accept +09:70 as +10:10
        return None
    try:
        offset = timedelta(hours=int(off_h or 0), minutes=int(off_m or 0))
        tz = UTC if zulu else timezone(-offset if sign == "-" else offset)
        instant = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "").ljust(3, "0")) * 1000,
            tzinfo=tz,
        )
    except ValueError:
        return None
    micros = (instant - _EPOCH) // _ONE_US
    return micros if MIN_EVENT_TIME_US <= micros <= MAX_EVENT_TIME_US else None


def _vector_event_time(values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """event_time_micros over a column at once: (epoch microseconds, valid mask)."""
    texts = _string_array([v if type(v) is str else None for v in values])
    millis = pa.array(
        [v if type(v) is int and _MIN_MS <= v <= _MAX_MS else None for v in values], pa.int64()
    )
    # The strict pattern fixes the layout, so the fields are read from the UTF-8 bytes directly.
    valid = pc.fill_null(pc.match_substring_regex(texts, _EVENT_TIME_RE2), False)
    valid = valid.to_numpy(zero_copy_only=False)
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int32)[texts.offset :][: len(texts) + 1]
    data = np.frombuffer(texts.buffers()[2] or b"", dtype=np.uint8)
    data = np.concatenate([data, np.zeros(32, dtype=np.uint8)])
    start = np.where(valid, offsets[:-1], 0)
    end = np.where(valid, offsets[1:], 32)

    def digits(first: np.ndarray, count: int) -> np.ndarray:
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
    """A string array; strings Arrow cannot encode (lone surrogates) get U+FFFD instead."""
    try:
        return pa.array(values, pa.string())
    except (UnicodeEncodeError, pa.ArrowException):
        return pa.array(
            [
                v.encode("utf-8", "replace").decode("utf-8") if isinstance(v, str) else v
                for v in values
            ],
            pa.string(),
        )


def split_records(text: str, records: list[str | None], values: list[Any]) -> None:
    """Append each JSON value of text (or each rejected rest-of-line) to records and values."""
    scan, skip, n = _SCAN, _SKIP_WS, len(text)
    add_record, add_value = records.append, values.append
    self_closing, may_follow = _SELF_CLOSING, _MAY_FOLLOW
    pos = 0
    while True:
        pos = skip(text, pos).end()
        if pos >= n:
            return
        try:
            value, end = scan(text, pos)
        except (StopIteration, ValueError, RecursionError):
            end = -1
        else:
            if end < n and text[end - 1] not in self_closing and text[end] not in may_follow:
                end = -1
        if end < 0:
            end = text.find("\n", pos)
            if end < 0:
                end = n
            add_record(text[pos:end].rstrip())
            add_value(_NOT_JSON_VALUE)
        else:
            add_record(text[pos:end])
            add_value(value)
        pos = end


class _Sentinel:
    """A marker value for records that are not JSON values."""


_NOT_JSON_VALUE = _Sentinel()
_UNREADABLE_VALUE = _Sentinel()


def decode_object(data: bytes) -> str | None:
    """The text of a raw object: gunzipped when it starts with 1f 8b; None when undecodable."""
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return None
    text = data.decode("utf-8", "replace")
    return text[1:] if text[:1] == "\ufeff" else text


def _field_strings(dicts: list[dict[str, Any]], key: str, raw: list[Any] | None = None) -> pa.Array:
    """The key's value of each record as a string array; null when missing or not a string."""
    if raw is None:
        raw = list(map(dict.get, dicts, repeat(key)))
    try:
        return pa.array(raw, pa.string())
    except (pa.ArrowException, UnicodeEncodeError):
        return _string_array([v if type(v) is str else None for v in raw])


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


def _extra_fields(
    dicts: list[dict[str, Any]], promoted: Mapping[str, str]
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
    for d in dicts:
        rest = {k: v for k, v in d.items() if k not in leave}
        add(encode(rest) if rest else None)
    # A promoted value that does not fit stays in properties as it came (rare: by index).
    for i in np.flatnonzero(misfits):
        kept = {names[b] for b in range(len(names)) if misfits[i] >> b & 1}
        d = dicts[i]
        texts[i] = encode({k: v for k, v in d.items() if k not in leave or k in kept})
    return _string_array(texts), columns, misfits


def _to_batch(
    records: list[str | None],
    values: list[Any],
    sources: list[str],
    ingested_us: list[int],
    counts: list[int],
    promoted: Mapping[str, str],
    schema: pa.Schema,
) -> pa.RecordBatch:
    """Validate the parsed values column-wise and build the output Arrow batch."""
    n = len(values)
    # Records that are not JSON objects are rare: find them once, by index.
    odd = [i for i, t in enumerate(map(type, values)) if t is not dict]
    dicts = values
    if odd:
        dicts = list(values)
        for i in odd:
            dicts[i] = _EMPTY
    event_id = _field_strings(dicts, "event_id")
    user_id = _field_strings(dicts, "user_id")
    event_type = _field_strings(dicts, "event_type")
    raw_title = list(map(dict.get, dicts, repeat("title_id")))
    title_id = _field_strings(dicts, "title_id", raw_title)
    event_micros, time_ok = _vector_event_time(list(map(dict.get, dicts, repeat("event_time"))))
    properties, typed, misfits = _extra_fields(dicts, promoted)

    code = np.zeros(n, dtype=np.int8)
    # Assign from the last rule to the first, so the first rule a record breaks wins.
    if title_id.null_count != raw_title.count(None):
        bad_titles = [i for i, v in enumerate(raw_title) if v is not None and type(v) is not str]
        code[bad_titles] = _CODE[INVALID_TITLE_ID]
    code[~time_ok] = _CODE[INVALID_EVENT_TIME]
    for array, reason in (
        (event_type, MISSING_EVENT_TYPE),
        (user_id, MISSING_USER_ID),
        (event_id, MISSING_EVENT_ID),
    ):
        present = pc.fill_null(pc.greater(pc.binary_length(array), 0), False)
        code[~present.to_numpy(zero_copy_only=False)] = _CODE[reason]
    for i in odd:
        value = values[i]
        code[i] = _CODE[
            NOT_JSON
            if value is _NOT_JSON_VALUE
            else UNREADABLE_OBJECT
            if value is _UNREADABLE_VALUE
            else NOT_AN_OBJECT
        ]

    owner = np.repeat(np.arange(len(counts)), counts)
    rejected = code != 0
    fields = [event_id, user_id, event_type, pa.array(event_micros, _TIMESTAMP, mask=~time_ok)]
    fields += [title_id, properties, *typed]
    if rejected.any():
        # A rejected record carries no event fields: only its text, origin and reason.
        keep = pa.array(~rejected)
        fields = [pc.if_else(keep, f, pa.scalar(None, f.type)) for f in fields]
        misfits = np.where(rejected, 0, misfits)
    columns = [
        _string_array(records),
        pa.array(sources, pa.string()).take(owner),
        pa.array(np.asarray(ingested_us, dtype=np.int64)[owner], _TIMESTAMP),
        *fields,
        pa.array(misfits, pa.int64()),
        _REASON_BY_CODE.take(pa.array(code)),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def parse_objects(
    batches: Iterator[pa.RecordBatch],
    modified_ms: Mapping[str, int] | None = None,
    promoted: Mapping[str, str] | None = None,
) -> Iterator[pa.RecordBatch]:
    """binaryFile batches (path, modificationTime, content) to batches of parsed records."""
    # Parsed records hold no reference cycles; the cyclic GC would only rescan them (~30% time).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield from _parse_objects(batches, modified_ms or {}, dict(promoted or {}))
    finally:
        if gc_was_enabled:
            gc.enable()


def _parse_objects(
    batches: Iterator[pa.RecordBatch], modified_ms: Mapping[str, int], promoted: dict[str, str]
) -> Iterator[pa.RecordBatch]:
    """Split every object of every batch; emit a batch each ~64k records (objects stay whole)."""
    schema = _arrow_schema(promoted)
    records: list[str | None] = []
    values: list[Any] = []
    sources: list[str] = []
    ingested: list[int] = []
    counts: list[int] = []
    for batch in batches:
        paths = batch.column("path").to_pylist()
        mtimes = pc.cast(batch.column("modificationTime"), pa.int64()).to_pylist()
        contents = batch.column("content")
        for i, path in enumerate(paths):
            before = len(records)
            text = decode_object(contents[i].as_py() or b"")
            if text is None:
                records.append(None)
                values.append(_UNREADABLE_VALUE)
            else:
                split_records(text, records, values)
            if len(records) == before:
                continue
            mtime_ms = modified_ms.get(path, (mtimes[i] or 0) // 1000)
            sources.append(path)
            ingested.append(ingested_at_ms(path, mtime_ms) * 1000)
            counts.append(len(records) - before)
            if len(records) >= _FLUSH_RECORDS:
                yield _to_batch(records, values, sources, ingested, counts, promoted, schema)
                records, values, sources, ingested, counts = [], [], [], [], []
    if records:
        yield _to_batch(records, values, sources, ingested, counts, promoted, schema)


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


def read_firehose(
    spark: SparkSession,
    objects: Sequence[RawObject],
    promoted: Mapping[str, str] | None = None,
) -> DataFrame:
    """One row per record of the given raw objects: raw text, source, arrival, fields, reason.

    promoted (field name -> type) adds the typed columns; see the module docstring.
    """
    promoted = dict(promoted or {})
    schema = parsed_schema(promoted)
    by_path = {obj.path: obj for obj in objects}
    if not by_path:
        return spark.createDataFrame(spark.sparkContext.emptyRDD(), schema)
    # Objects named without a timestamp fall back to the listed modification time.
    modified = {p: o.modified_ms for p, o in by_path.items() if name_timestamp_ms(p) is None}
    raw = _load_binary(spark, list(by_path)).select("path", "modificationTime", "content")

    def parse(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return parse_objects(batches, modified, promoted)

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
