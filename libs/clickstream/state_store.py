"""Small state objects under the lake (bookmarks, change sets, leases, run records), without Spark.

Every write is all-or-nothing and conditional, so state survives a crash at any point and two
writers cannot overwrite each other unseen:
- create(key, text): only when the key does not exist (S3 `If-None-Match: *`; locally a temporary
  file hard-linked to the key, which fails when the key exists).
- replace(key, text, etag): only when the key still holds the version read (S3 `If-Match`;
  locally under an exclusive lock on a sidecar file, then an atomic rename).
Nothing here deletes a state object before its replacement exists; callers write new versions
under new keys and prune old ones afterwards.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from clickstream.aws_clients import error_code
from clickstream.s3_prefix import S3Prefix

_S3_SCHEMES = ("s3://", "s3a://", "s3n://")


@dataclass(frozen=True)
class StateObject:
    """A state object's text and the version tag a conditional replace must name."""

    text: str
    etag: str


class StateStore(Protocol):
    """Conditional reads and writes of small text objects under a root."""

    root: str

    def read(self, key: str) -> StateObject | None:
        """The object's text and version tag, or None when it does not exist."""
        ...

    def create(self, key: str, text: str) -> str | None:
        """Write the object only when the key does not exist: its new version tag, or None."""
        ...

    def replace(self, key: str, text: str, etag: str) -> str | None:
        """Overwrite the object only when it still has version etag: the new tag, or None."""
        ...

    def list(self, prefix: str) -> list[str]:
        """Keys (relative to the root) of the objects under prefix, sorted."""
        ...

    def delete(self, key: str) -> None:
        """Delete the object (nothing when it does not exist)."""
        ...


def store_for(lake: str) -> StateStore:
    """The state store of a lake root: S3 for s3:// (s3a://) roots, the local filesystem else."""
    if lake.startswith(_S3_SCHEMES):
        return S3Store(lake)
    return LocalStore(lake.removeprefix("file://").removeprefix("file:"))


def _etag(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Modes of what a local store writes: owner-only.
OWNER_DIR = 0o700
OWNER_FILE = 0o600


class LocalStore:
    """State objects as files under a local folder."""

    def __init__(self, root: str) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return Path(self.root) / key

    def read(self, key: str) -> StateObject | None:
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        return StateObject(data.decode("utf-8"), _etag(data))

    def _temporary(self, path: Path, data: bytes) -> Path:
        path.parent.mkdir(mode=OWNER_DIR, parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
        # State and run records are the owner's only (0600): they may name users' objects.
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_FILE), "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        return tmp

    def create(self, key: str, text: str) -> str | None:
        path, data = self._path(key), text.encode("utf-8")
        tmp = self._temporary(path, data)
        try:
            os.link(tmp, path)  # atomic, and fails when the key exists: an exclusive create
        except FileExistsError:
            return None
        finally:
            tmp.unlink()
        return _etag(data)

    def replace(self, key: str, text: str, etag: str) -> str | None:
        path, data = self._path(key), text.encode("utf-8")
        path.parent.mkdir(mode=OWNER_DIR, parents=True, exist_ok=True)
        lock_path = path.parent / f".{path.name}.lock"
        with os.fdopen(os.open(lock_path, os.O_WRONLY | os.O_CREAT, OWNER_FILE), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = self.read(key)
            if current is None or current.etag != etag:
                return None
            os.replace(self._temporary(path, data), path)
        return _etag(data)

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if not base.is_dir():
            return []
        root = Path(self.root)
        return sorted(
            str(p.relative_to(root))
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:  # pragma: no cover - a folder in the way
            if exc.errno != errno.EISDIR:
                raise


class S3Store(S3Prefix):
    """State objects under an s3:// prefix (endpoint and credentials from the AWS environment)."""

    def read(self, key: str) -> StateObject | None:
        try:
            got = self.client.get_object(Bucket=self.bucket, Key=self.key(key))
        except self.client.exceptions.NoSuchKey:
            return None
        return StateObject(got["Body"].read().decode("utf-8"), got["ETag"])

    def _put(self, key: str, text: str, **condition: str) -> str | None:
        """A conditional put: the new version tag, or None when the condition failed.

        botocore retries a put whose answer was lost (a timeout, a reset connection); when the
        lost attempt had succeeded, the retry fails its own condition (412). So a failed
        condition is checked once: an object holding exactly this text is this writer's own
        write (every conditional text here names its writer and time), and its tag is returned.
        """
        from botocore.exceptions import ClientError

        try:
            put = self.client.put_object(
                Bucket=self.bucket, Key=self.key(key), Body=text.encode("utf-8"), **condition
            )
        except ClientError as exc:
            if error_code(exc) in ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey"):
                found = self.read(key)
                return found.etag if found is not None and found.text == text else None
            raise
        return str(put["ETag"])

    def create(self, key: str, text: str) -> str | None:
        return self._put(key, text, IfNoneMatch="*")

    def replace(self, key: str, text: str, etag: str) -> str | None:
        return self._put(key, text, IfMatch=etag)

    def list(self, prefix: str) -> list[str]:
        full = self.key(prefix).rstrip("/") + "/"
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=full
        ):
            keys += [o["Key"][strip:] for o in page.get("Contents", [])]
        return sorted(keys)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(key))


def write_pointer(store: StateStore, key: str, text: str) -> None:
    """Point key at the newest state (e.g. a latest-run record): replaced whole, never deleted.

    Of two writers racing, the later one wins; the conditional write only keeps a replace from
    landing on a version it did not read.
    """
    for _ in range(5):
        current = store.read(key)
        written = (
            store.create(key, text) if current is None else store.replace(key, text, current.etag)
        )
        if written is not None:
            return
    raise RuntimeError(f"could not write {key}: it kept changing under this writer")


def newest_version(store: StateStore, prefix: str) -> tuple[int, StateObject] | None:
    """The highest-numbered version object under prefix (keys <prefix>/<number>.json)."""
    versions = _versions(store, prefix)
    while versions:  # a version pruned between list and read: take the next newest
        number, key = versions.pop()
        found = store.read(key)
        if found is not None:
            return number, found
    return None


def write_version(store: StateStore, prefix: str, number: int, text: str) -> bool:
    """Create version number under prefix; False when that version already exists (a race)."""
    return store.create(f"{prefix}/{number:012d}.json", text) is not None


def prune_versions(store: StateStore, prefix: str, keep: int) -> list[str]:
    """Delete all but the newest keep versions under prefix (the newest always stays)."""
    versions = _versions(store, prefix)
    old = [key for _, key in versions[: max(len(versions) - max(keep, 1), 0)]]
    for key in old:
        store.delete(key)
    return old


def _versions(store: StateStore, prefix: str) -> list[tuple[int, str]]:
    found = []
    for key in store.list(prefix):
        name = key.rsplit("/", 1)[-1]
        stem = name.removesuffix(".json")
        if name.endswith(".json") and stem.isdigit() and key.count("/") == prefix.count("/") + 1:
            found.append((int(stem), key))
    return sorted(found)
