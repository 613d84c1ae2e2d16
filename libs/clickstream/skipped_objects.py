"""Raw objects an operator set aside: `clickstream skip-object PATH --why "..."`.

A run that cannot get past one object (an unknown failure in its content) is a stuck pipeline.
The valve: the operator names the object and why; from then on every read of it (the next run,
a rebuild) quarantines it whole as one `skipped_by_operator` record, whose `record` says who set
it aside, why and when, instead of reading its content. Nothing is lost: the object stays in the
raw zone, and deleting its note (`_state/skipped_objects/<key>.json`) lets a later read curate
it (with `clickstream bookmarks reset curate_events` or a rebuild, as it was processed already).
Notes survive `clickstream rebuild`: they are operator decisions, not derived state.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from clickstream.config import ConfigError, Settings
from clickstream.s3_prefix import S3Prefix
from clickstream.state_store import store_for, write_pointer

SKIPPED = "_state/skipped_objects"
RAW = "raw/clickstream"
_S3 = ("s3://", "s3a://", "s3n://")


@dataclass(frozen=True)
class SkipNote:
    """One object set aside: its path below the raw zone, who, why and when (UTC, ISO-8601)."""

    path: str
    by: str
    why: str
    at: str

    def record(self) -> str:
        """The quarantine record of the skipped object: this note as JSON."""
        return json.dumps(
            {
                "skipped_by_operator": {
                    "object": self.path,
                    "by": self.by,
                    "why": self.why,
                    "at": self.at,
                }
            },
            ensure_ascii=False,
        )


def raw_relative(settings: Settings, path: str) -> str:
    """The object's path below the raw zone, from a path or URI under it, or one already
    relative to it; ConfigError when it lies elsewhere."""
    roots = [settings.path(RAW)]
    if settings.is_local_lake:
        local = os.path.abspath(settings.lake.removeprefix("file://").removeprefix("file:"))
        roots += [f"{local}/{RAW}", f"file:{local}/{RAW}", f"file://{local}/{RAW}"]
    else:
        rest = settings.lake.split("://", 1)[1]
        roots += [f"{scheme}{rest}/{RAW}" for scheme in _S3]
    for root in roots:
        if path.startswith(f"{root}/"):
            return path[len(root) + 1 :]
    if "://" in path or path.startswith(("/", "file:")):
        raise ConfigError(
            f"skip-object {path}: not under the raw zone {settings.path(RAW)}; give the object's "
            "full path there or its path below it (YYYY/MM/DD/HH/<name>)"
        )
    return path.strip("/")


def _exists(settings: Settings, relative: str) -> bool:
    uri = settings.path(RAW, relative)
    if settings.is_local_lake:
        return os.path.isfile(uri.removeprefix("file://").removeprefix("file:"))
    prefix = S3Prefix(uri)
    try:
        prefix.client.head_object(Bucket=prefix.bucket, Key=prefix.prefix)
    except Exception:
        return False
    return True


def _key(relative: str) -> str:
    return f"{SKIPPED}/{hashlib.sha256(relative.encode('utf-8')).hexdigest()[:32]}.json"


def skip_object(
    settings: Settings, path: str, why: str, *, by: str | None = None, now: datetime | None = None
) -> SkipNote:
    """Set the object aside (see the module docstring); the note written. A second note for the
    same object replaces the first."""
    if not why.strip():
        raise ConfigError("skip-object: --why is required: say why the object is set aside")
    relative = raw_relative(settings, path)
    if not _exists(settings, relative):
        raise ConfigError(f"skip-object: no raw object {settings.path(RAW, relative)}")
    who = by or os.environ.get("CLICKSTREAM_OPERATOR") or getpass.getuser()
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    note = SkipNote(relative, who, why.strip(), stamp)
    text = json.dumps({"path": note.path, "by": note.by, "why": note.why, "at": note.at})
    write_pointer(store_for(settings.lake), _key(relative), text)
    return note


def skipped_objects(lake: str) -> dict[str, SkipNote]:
    """The objects set aside, by path below the raw zone (one listing; a note per object)."""
    store = store_for(lake)
    notes: dict[str, SkipNote] = {}
    for key in store.list(SKIPPED):
        found = store.read(key)
        if found is not None:
            doc = json.loads(found.text)
            notes[doc["path"]] = SkipNote(doc["path"], doc["by"], doc["why"], doc["at"])
    return notes
