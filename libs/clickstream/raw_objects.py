"""Listing of the raw zone: every Firehose object with its exact size and modification time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pyspark.sql import SparkSession

# Firehose object name: <stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>[.gz] (UTC arrival time).
_FIREHOSE_NAME = re.compile(
    r"-[0-9]+-([0-9]{4})-([0-9]{2})-([0-9]{2})-([0-9]{2})-([0-9]{2})-([0-9]{2})"
    r"-[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}(?:\.[a-z0-9]+)*$",
    re.IGNORECASE | re.ASCII,
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


@dataclass(frozen=True)
class RawObject:
    """One raw object: fully-qualified URI, size in bytes, modification time in epoch ms."""

    path: str
    size: int
    modified_ms: int


def _is_hidden(relative: str) -> bool:
    """A path is hidden when any of its parts (below the listed root) starts with '_' or '.'."""
    return any(part[:1] in ("_", ".") for part in relative.split("/") if part)


def _walk(fs: Any, path: Any) -> Iterator[Any]:
    """FileStatus of every file under path (path itself when it is a file)."""
    if fs.getScheme() != "file":
        # Object stores list a whole prefix in pages; one recursive call is the fast way there.
        files = fs.listFiles(path, True)
        while files.hasNext():
            yield files.next()
        return
    # Locally, listFiles builds LocatedFileStatus, which forks a process per file to read its
    # permissions; a plain listStatus walk reads only what is asked for.
    pending = [path]
    while pending:
        for status in fs.listStatus(pending.pop()):
            if status.isDirectory():
                if not _is_hidden(status.getPath().getName()):
                    pending.append(status.getPath())
            else:
                yield status


def list_raw_objects(spark: SparkSession, root: str) -> list[RawObject]:
    """Every non-hidden object under root, recursively, sorted by path; a missing root is empty."""
    jvm = spark._jvm  # type: ignore[attr-defined]
    conf = spark._jsc.hadoopConfiguration()  # type: ignore[attr-defined]
    root_path = jvm.org.apache.hadoop.fs.Path(root)
    fs = root_path.getFileSystem(conf)
    if not fs.exists(root_path):
        return []
    qualified_root = fs.makeQualified(root_path).toString().rstrip("/")
    found: list[RawObject] = []
    for status in _walk(fs, root_path):
        path = status.getPath().toString()
        relative = path[len(qualified_root) :] if path.startswith(qualified_root) else path
        if _is_hidden(relative or path.rsplit("/", 1)[-1]):
            continue
        found.append(RawObject(path, int(status.getLen()), int(status.getModificationTime())))
    found.sort(key=lambda obj: obj.path)
    return found


def name_timestamp_ms(path: str) -> int | None:
    """The UTC arrival time in a Firehose object name, in epoch ms; None when the name has none."""
    match = _FIREHOSE_NAME.search(path.rsplit("/", 1)[-1])
    if match is None:
        return None
    try:
        stamp = datetime(*(int(part) for part in match.groups()), tzinfo=UTC)  # type: ignore[misc]
    except ValueError:
        return None
    return (stamp - _EPOCH) // _ONE_MS


def ingested_at_ms(path: str, modified_ms: int) -> int:
    """Arrival time in epoch ms: the timestamp in the object's name, else its modification time."""
    from_name = name_timestamp_ms(path)
    return modified_ms if from_name is None else from_name


def ingested_at_of(path: str, modified_ms: int) -> datetime:
    """Arrival time (UTC) of an object: the timestamp in its name, else its modification time."""
    return _EPOCH + timedelta(milliseconds=ingested_at_ms(path, modified_ms))
