"""Job bookmarks like AWS Glue's for runtimes without them (local, EMR), kept under the lake.

A bookmark records the inputs a job has processed, each with a fingerprint (for raw objects:
size and modification time). Options follow Glue's --job-bookmark-option:
- job-bookmark-enable: process new or changed inputs; advance the state after a successful run.
- job-bookmark-disable: process every input; leave the state untouched.
- job-bookmark-pause: process new or changed inputs; leave the state untouched.
The state is written only by commit(), which the runner calls after the job's outputs are written,
as a new immutable version (<lake>/_state/bookmarks/<job>/<n>.json; the highest n is current).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.sql import SparkSession

from clickstream.state_store import (
    StateStore,
    newest_version,
    prune_versions,
    store_for,
    write_version,
)

ENABLE, DISABLE, PAUSE = "job-bookmark-enable", "job-bookmark-disable", "job-bookmark-pause"
# Versions of a bookmark kept after a commit (the newest is the state; older ones are history).
KEEP_VERSIONS = 10


class BookmarkConflict(RuntimeError):
    """Another run committed the bookmark since this run loaded it."""


def bookmark_path(lake: str, job: str) -> str:
    """The folder of a job's bookmark versions under the lake root (<n>.json, newest wins)."""
    return f"{lake}/{_prefix(job)}"


def _prefix(job: str) -> str:
    return f"_state/bookmarks/{job}"


def _legacy_key(job: str) -> str:
    """Where a lake written before versioned bookmarks kept the state (read, never written)."""
    return f"_state/bookmarks/{job}.json"


def _current(store: StateStore, job: str) -> tuple[int, dict[str, object] | None]:
    """The newest version number (0: none) and its document (None when never committed)."""
    found = newest_version(store, _prefix(job))
    if found is not None:
        return found[0], json.loads(found[1].text)
    legacy = store.read(_legacy_key(job))
    return 0, (json.loads(legacy.text) if legacy else None)


@dataclass
class Bookmark:
    """A job's processed inputs (id -> fingerprint) and what the current run has taken on."""

    spark: SparkSession
    lake: str
    job: str
    option: str
    processed: dict[str, str] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)
    version: int = 0

    @classmethod
    def load(cls, spark: SparkSession, lake: str, job: str, option: str) -> Bookmark:
        """Read the job's bookmark state (empty when the job never committed)."""
        version, doc = _current(store_for(lake), job)
        processed = dict(doc["processed"]) if doc else {}  # type: ignore[call-overload]
        return cls(spark, lake, job, option, processed, version=version)

    def select(self, inputs: Mapping[str, str]) -> list[str]:
        """The inputs this run must process: all when disabled, else the new or changed ones."""
        chosen = [
            key
            for key, fingerprint in inputs.items()
            if self.option == DISABLE or self.processed.get(key) != fingerprint
        ]
        self.pending.update({key: inputs[key] for key in chosen})
        return sorted(chosen)

    def commit(self) -> bool:
        """Record the run's inputs as processed (only with enable); True when state changed.

        The state is a new version object, created only if no run committed since this one
        loaded (else BookmarkConflict); versions beyond KEEP_VERSIONS are pruned afterwards.
        """
        if self.option != ENABLE or not self.pending:
            return False
        processed = {**self.processed, **self.pending}
        store = store_for(self.lake)
        if not write_version(
            store, _prefix(self.job), self.version + 1, _document(self.job, processed)
        ):
            raise BookmarkConflict(
                f"bookmark {self.job}: version {self.version + 1} was committed by another run "
                "since this run started; run again to process what is left"
            )
        self.processed, self.pending, self.version = processed, {}, self.version + 1
        prune_versions(store, _prefix(self.job), KEEP_VERSIONS)
        return True


def _document(job: str, processed: Mapping[str, str]) -> str:
    doc = {
        "job": job,
        "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "processed": dict(sorted(processed.items())),
    }
    return json.dumps(doc, indent=1)


def reset(spark: SparkSession, lake: str, jobs: Iterable[str]) -> list[str]:
    """Forget what the jobs processed (like Glue's reset-job-bookmark); returns those reset.

    A reset is a new, empty version: the previous state stays until pruned.
    """
    store = store_for(lake)
    done = []
    for job in jobs:
        version, doc = _current(store, job)
        if doc and doc.get("processed"):
            if not write_version(store, _prefix(job), version + 1, _document(job, {})):
                raise BookmarkConflict(f"bookmark {job}: changed during the reset; reset again")
            done.append(job)
    return done


def show(spark: SparkSession, lake: str, job: str) -> dict[str, object]:
    """A job's bookmark state as a document (empty processed set when never committed)."""
    _, doc = _current(store_for(lake), job)
    return doc if doc else {"job": job, "processed": {}}
