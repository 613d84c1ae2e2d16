"""Listing of the raw zone: every Firehose object with its exact size and modification time."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pyspark.sql import SparkSession

from clickstream.s3_prefix import S3Prefix

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


# The hour layout Firehose writes under the raw root: YYYY/MM/DD/HH/<objects>.
_LEVELS = tuple(re.compile(p) for p in (r"[0-9]{4}", r"[0-9]{2}", r"[0-9]{2}", r"[0-9]{2}"))
_HOUR = re.compile(r"([0-9]{4}/[0-9]{2}/[0-9]{2}/[0-9]{2})/[^/]")


class Lister(Protocol):
    """Lists one folder of a store, a page per call: its sub-folder names and its objects."""

    def folder(self, relative: str) -> tuple[list[str], list[tuple[str, int, int]]]:
        """(sub-folder names, [(name, size, modified_ms)]) directly under root/relative."""
        ...

    def tree(self, relative: str) -> list[tuple[str, int, int]]:
        """[(path below root/relative, size, modified_ms)] of every object under it."""
        ...


class LocalLister:
    """A local folder, read with os.scandir (Hadoop's local listing costs py4j calls per file)."""

    def __init__(self, root: str) -> None:
        self.root = root

    def _entries(self, relative: str) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(os.path.join(self.root, relative)) as entries:
                return list(entries)
        except (FileNotFoundError, NotADirectoryError):
            return []

    def folder(self, relative: str) -> tuple[list[str], list[tuple[str, int, int]]]:
        folders, files = [], []
        for entry in self._entries(relative):
            if entry.is_dir():
                folders.append(entry.name)
            else:
                stat = entry.stat()
                files.append((entry.name, stat.st_size, stat.st_mtime_ns // 1_000_000))
        return folders, files

    def tree(self, relative: str) -> list[tuple[str, int, int]]:
        return _tree_by_folders(self, relative)


class S3Lister(S3Prefix):
    """An S3 prefix, listed with ListObjectsV2 (1,000 keys a call; a delimiter for folders)."""

    def _pages(self, relative: str, **delimiter: str) -> Iterator[dict[str, Any]]:
        key = self.key(relative)
        paginator = self.client.get_paginator("list_objects_v2")
        yield from paginator.paginate(
            Bucket=self.bucket, Prefix=f"{key}/" if key else "", **delimiter
        )

    def folder(self, relative: str) -> tuple[list[str], list[tuple[str, int, int]]]:
        folders, files = [], []
        for page in self._pages(relative, Delimiter="/"):
            folders += [
                p["Prefix"].rstrip("/").rsplit("/", 1)[-1] for p in page.get("CommonPrefixes", [])
            ]
            files += [_s3_object(o, o["Key"].rsplit("/", 1)[-1]) for o in page.get("Contents", [])]
        return folders, [f for f in files if f[0]]

    def tree(self, relative: str) -> list[tuple[str, int, int]]:
        key = self.key(relative)
        strip = len(key) + 1 if key else 0
        found = []
        for page in self._pages(relative):
            found += [_s3_object(o, o["Key"][strip:]) for o in page.get("Contents", [])]
        # A key ending in "/" is a folder marker some tools write, not an object.
        return [f for f in found if f[0] and not f[0].endswith("/")]


def _tree_by_folders(lister: Lister, relative: str) -> list[tuple[str, int, int]]:
    """Every object under relative, one folder listing at a time (stores without a flat listing)."""
    found = []
    pending = [""]
    while pending:
        below = pending.pop()
        folders, files = lister.folder("/".join(p for p in (relative, below) if p))
        prefix = f"{below}/" if below else ""
        found += [(f"{prefix}{name}", size, ms) for name, size, ms in files]
        pending += [f"{prefix}{name}" for name in folders if not _is_hidden(name)]
    return found


def _s3_object(obj: Mapping[str, Any], name: str) -> tuple[str, int, int]:
    modified: datetime = obj["LastModified"]
    return name, int(obj["Size"]), (modified - _EPOCH) // _ONE_MS


class HadoopLister:
    """Any other Hadoop file system (hdfs://, ...), through FileSystem.listStatus over py4j."""

    def __init__(self, jvm: Any, fs: Any, root: str) -> None:
        self.jvm, self.fs, self.root = jvm, fs, root

    def _statuses(self, relative: str) -> list[Any]:
        path = self.jvm.org.apache.hadoop.fs.Path("/".join(p for p in (self.root, relative) if p))
        return list(self.fs.listStatus(path)) if self.fs.exists(path) else []

    def folder(self, relative: str) -> tuple[list[str], list[tuple[str, int, int]]]:
        folders, files = [], []
        for status in self._statuses(relative):
            name = status.getPath().getName()
            if status.isDirectory():
                folders.append(name)
            else:
                files.append((name, int(status.getLen()), int(status.getModificationTime())))
        return folders, files

    def tree(self, relative: str) -> list[tuple[str, int, int]]:
        return _tree_by_folders(self, relative)


def qualified_root(spark: SparkSession, root: str) -> str:
    """The root as Hadoop qualifies it (file:/..., s3://bucket/...), the prefix of listed paths."""
    return _qualified_root(spark, root)[0]


def _qualified_root(spark: SparkSession, root: str) -> tuple[str, Lister]:
    """The root as Hadoop qualifies it (the form source_file and bookmarks keep) and its lister."""
    jvm = spark._jvm  # type: ignore[attr-defined]
    conf = spark._jsc.hadoopConfiguration()  # type: ignore[attr-defined]
    root_path = jvm.org.apache.hadoop.fs.Path(root)
    fs = root_path.getFileSystem(conf)
    qualified = fs.makeQualified(root_path)
    text = str(qualified.toString()).rstrip("/")
    scheme = text.split(":", 1)[0].lower()
    if scheme == "file":
        return text, LocalLister(str(qualified.toUri().getPath()))
    if scheme in ("s3", "s3a", "s3n"):
        return text, S3Lister(text)
    return text, HadoopLister(jvm, fs, text)


def hour_of(relative: str) -> str | None:
    """The arrival hour folder (YYYY/MM/DD/HH) of a path below the raw root; None outside it."""
    match = _HOUR.match(relative)
    return match.group(1) if match else None


def list_raw_objects(
    spark: SparkSession, root: str, *, from_hour: str | None = None
) -> list[RawObject]:
    """The non-hidden objects under root, sorted by path; a missing root is empty.

    With from_hour (YYYY/MM/DD/HH), only the hour folders from that hour on are listed: the walk
    lists year, month, day and hour folders with a delimiter and descends only into those at or
    after from_hour, so it costs the hours listed, not the history. Objects outside the hour
    layout (other names, files above the hour level) are always listed.
    """
    qualified, lister = _qualified_root(spark, root)
    found = [
        RawObject(f"{qualified}/{relative}", size, modified_ms)
        for relative, size, modified_ms in walk(lister, from_hour)
    ]
    found.sort(key=lambda obj: obj.path)
    return found


def walk(lister: Lister, from_hour: str | None = None) -> Iterator[tuple[str, int, int]]:
    """(path below the root, size, mtime) of the non-hidden objects in the hours from from_hour
    on (all when None), and of every object outside the hour layout."""
    return (found for found in _walk(lister, "", 0, from_hour) if not _is_hidden(found[0]))


def _walk(
    lister: Lister, relative: str, level: int, from_hour: str | None
) -> Iterator[tuple[str, int, int]]:
    """(path below root, size, mtime) of the objects under relative, a folder at depth level of
    the hour layout (0: the root, 4: an hour folder, whose whole tree is its hour's)."""
    prefix = f"{relative}/" if relative else ""
    if level == 4:
        yield from ((f"{prefix}{name}", size, ms) for name, size, ms in lister.tree(relative))
        return
    folders, files = lister.folder(relative)
    yield from ((f"{prefix}{name}", size, ms) for name, size, ms in files)
    for name in sorted(folders):
        if _is_hidden(name):
            continue
        path = f"{prefix}{name}"
        if not _LEVELS[level].fullmatch(name):
            # Outside the hour layout: listed whole, every run.
            yield from ((f"{path}/{sub}", size, ms) for sub, size, ms in lister.tree(path))
        elif from_hour is None or path >= from_hour[: len(path)]:
            yield from _walk(lister, path, level + 1, from_hour)


def find_raw_objects(spark: SparkSession, root: str, paths: list[str]) -> dict[str, RawObject]:
    """Those of paths (fully-qualified, under root) that exist, by path; one listing per folder."""
    qualified, lister = _qualified_root(spark, root)
    by_folder: dict[str, set[str]] = {}
    for path in paths:
        if path.startswith(f"{qualified}/"):
            folder, _, name = path[len(qualified) + 1 :].rpartition("/")
            by_folder.setdefault(folder, set()).add(name)
    found: dict[str, RawObject] = {}
    for folder, names in sorted(by_folder.items()):
        prefix = "/".join(p for p in (qualified, folder) if p)
        for name, size, modified_ms in lister.folder(folder)[1]:
            if name in names:
                found[f"{prefix}/{name}"] = RawObject(f"{prefix}/{name}", size, modified_ms)
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
