"""The raw objects holding forgotten users' records, and rewriting them without those records.

Finding them is one parse of the whole raw zone (the reader of every run, without field controls
or the suppression list, so the raw ids are seen): a valid record's user_id, or the `"user_id"`
of a rejected record's text. Objects an operator set aside are not read (never curated either).

A rewrite (`clickstream forget --purge-raw`) splits the object with the reader's own splitter,
drops the users' records and writes the rest, one record a line (the contract reads either
layout), gzip again when it was gzip. The new content replaces the object under the same key in
one step (locally a hidden temporary file renamed over it, on S3 one PUT of the key), so there is
never a moment with both copies or neither, and the object keeps its name: its arrival time
(from the name), the events' source_file and dedup's tie rule stay as they were for every other
record. Its fingerprint (size, modification time) changes, so the rewrite is recorded in
curate_events' bookmark (bookmarks.record_rewrites): no run reads it as new. An object that
cannot be read whole (cut gzip, past max_object_mib) or holds a record over max_record_kib is
not rewritten (its text could not be reproduced): it is reported, for an operator.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

from clickstream.firehose_reader import ReaderLimits, read_firehose
from clickstream.raw_content import COMPLETE, GZIP_MAGIC, ContentStatus, content_chunks, read_raw
from clickstream.raw_content import local_path as raw_local_path
from clickstream.raw_objects import find_raw_objects, list_raw_objects, qualified_root
from clickstream.record_split import NOT_JSON_VALUE, TOO_LARGE_VALUE, Marker, ObjectSplitter
from clickstream.s3_prefix import S3Prefix
from clickstream.skipped_objects import skipped_objects

# The user_id of a record's text (JSON, or text cut short), and of an oversized record's head.
_USER_ID = r'"user_id"\s*:\s*"((?:[^"\\]|\\.)*)"'


def names_user(record: Column, ids: Collection[str]) -> Column:
    """Whether a raw or quarantined record's text names one of the user ids: its parsed
    user_id, a `"user_id": "..."` in text that is not JSON, or in an oversized record's head."""
    wanted = sorted(ids)
    candidates = [
        F.get_json_object(record, "$.user_id"),
        F.regexp_extract(record, _USER_ID, 1),
        F.regexp_extract(F.get_json_object(record, "$.head"), _USER_ID, 1),
    ]
    found = F.lit(False)
    for candidate in candidates:
        found = found | F.coalesce(candidate.isin(wanted), F.lit(False))
    return found


def objects_holding(
    spark: SparkSession, raw_root: str, lake: str, ids: Collection[str], limits: ReaderLimits
) -> dict[str, int]:
    """The raw objects holding records of the (raw) user ids: path -> records."""
    objects = list_raw_objects(spark, raw_root)
    if not objects or not ids:
        return {}
    notes = skipped_objects(lake)
    root = qualified_root(spark, raw_root) + "/"
    skipped = {
        o.path: notes[o.path[len(root) :]].record()
        for o in objects
        if o.path.startswith(root) and o.path[len(root) :] in notes
    }
    parsed = read_firehose(spark, objects, {}, limits=limits, skipped=skipped)
    wanted = sorted(ids)
    hit = F.coalesce(F.col("user_id").isin(wanted), F.lit(False)) | names_user(F.col("record"), ids)
    counts = parsed.where(hit).groupBy("source_file").count().collect()
    return {r["source_file"]: int(r["count"]) for r in counts}


@dataclass
class _Records:
    """A record sink for the splitter (record_split.RecordSink)."""

    records: list[str | None] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    chars: int = 0


@dataclass(frozen=True)
class Rewrite:
    """One raw object's rewrite: records before and removed, bytes before and after; or why it
    was left as it is (problem)."""

    path: str
    records: int
    removed: int
    bytes_before: int
    bytes_after: int
    problem: str = ""


def _names(value: Any, text: str | None, ids: Collection[str]) -> bool:
    """Whether a split record (value, text) belongs to one of the ids."""
    if type(value) is dict:
        return value.get("user_id") in ids
    if text is None or (type(value) is Marker and value is not NOT_JSON_VALUE):
        return False
    for literal in re.findall(_USER_ID, text):
        try:
            if json.loads(f'"{literal}"') in ids:
                return True
        except ValueError:
            continue
    return False


def rewrite_without(path: str, ids: Collection[str], limits: ReaderLimits) -> Rewrite:
    """Rewrite the raw object without the records of the (raw) user ids (module docstring)."""
    data = b"".join(read_raw(path))
    status = ContentStatus()
    sink = _Records()
    splitter = ObjectSplitter(sink, limits.max_record_bytes)
    chunks = content_chunks([data], status, limit=limits.max_object_bytes)
    for _ in splitter.windows(chunks, status):
        pass
    if status.outcome != COMPLETE or any(v is TOO_LARGE_VALUE for v in sink.values):
        why = status.outcome if status.outcome != COMPLETE else "record_too_large"
        problem = f"not rewritten ({why}): its text cannot be reproduced; edit or delete it by hand"
        return Rewrite(path, len(sink.records), 0, len(data), len(data), problem)
    kept = [
        r for r, v in zip(sink.records, sink.values, strict=True) if r and not _names(v, r, ids)
    ]
    removed = len(sink.records) - len(kept)
    if not removed:
        return Rewrite(path, len(sink.records), 0, len(data), len(data))
    body = "".join(f"{r}\n" for r in kept).encode("utf-8", "surrogateescape")
    if data[:2] == GZIP_MAGIC:
        body = gzip.compress(body, mtime=0)
    _replace(path, body)
    return Rewrite(path, len(sink.records), removed, len(data), len(body))


def _replace(path: str, body: bytes) -> None:
    """Put body at path in one step: a hidden temporary file renamed over a local object (its
    modification time kept: an object without a Firehose name arrives at it), one PUT on S3."""
    if "://" in path and not path.startswith("file:"):
        prefix = S3Prefix(path)
        head = prefix.client.head_object(Bucket=prefix.bucket, Key=prefix.prefix)
        extra = {}
        if head.get("ServerSideEncryption"):
            extra["ServerSideEncryption"] = head["ServerSideEncryption"]
        if head.get("SSEKMSKeyId"):
            extra["SSEKMSKeyId"] = head["SSEKMSKeyId"]
        prefix.client.put_object(Bucket=prefix.bucket, Key=prefix.prefix, Body=body, **extra)
        return
    local = raw_local_path(path)
    folder, name = os.path.split(local)
    before = os.stat(local)
    tmp = os.path.join(folder, f".{name}.forget.tmp")
    with open(tmp, "wb") as out:
        out.write(body)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(tmp, before.st_mode & 0o777)
    os.utime(tmp, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(tmp, local)


def fingerprints(spark: SparkSession, raw_root: str, paths: list[str]) -> dict[str, str]:
    """The bookmark fingerprints (size:modification time) of raw objects, as listed now."""
    found = find_raw_objects(spark, raw_root, paths)
    return {p: f"{o.size}:{o.modified_ms}" for p, o in found.items()}
