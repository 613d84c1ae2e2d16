"""Job bookmarks like AWS Glue's for runtimes without them (local, EMR), kept under the lake.

A bookmark records the inputs a job has processed, each with a fingerprint (for raw objects:
size and modification time). Options follow Glue's --job-bookmark-option:
- job-bookmark-enable: process new or changed inputs; advance the state after a successful run.
- job-bookmark-disable: process every input; leave the state untouched.
- job-bookmark-pause: process new or changed inputs; leave the state untouched.
The state is written only by commit(), which the runner calls after the job's outputs are written,
as a new immutable version (<lake>/_state/bookmarks/<job>/<n>.json; the highest n is current).

A source laid out by hour (the raw zone: YYYY/MM/DD/HH) is selected through an HourWindow: the
state keeps the newest hour processed (high_water_hour) and the exact inputs of the
lookback_hours before it; a run lists only the hours from high_water_hour - lookback_hours on.
The state stays bounded whatever the history. An input landing in an hour older than that is
never listed (missed by design; a larger bookmark_lookback_hours for one run, or a reset,
lists it). With job-bookmark-disable, or when nothing was processed yet, every hour is listed.

A source listed whole every run whose inputs are deleted once consumed (change sets, pruned after
state_retention_days) is selected as Listed: a commit forgets the processed inputs the run no
longer listed, so the state holds the inputs that still exist, not every input ever processed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from clickstream.state_store import (
    StateStore,
    newest_version,
    prune_versions,
    store_for,
    write_version,
)

if TYPE_CHECKING:  # show and reset read state files only: no pyspark import, no JVM
    from pyspark.sql import SparkSession

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


@dataclass(frozen=True)
class HourWindow:
    """A source laid out by hour: listing(from_hour) gives its inputs (id -> fingerprint) in the
    hours from from_hour (YYYY/MM/DD/HH) on, every input when None; hour_of(id) an input's hour,
    None for an input outside the layout (always listed, kept exactly)."""

    listing: Callable[[str | None], Mapping[str, str]]
    hour_of: Callable[[str], str | None]
    lookback_hours: int


class Listed(dict[str, str]):
    """Every input of a source that still exists (id -> fingerprint): a commit keeps only the
    processed inputs listed here (an input gone from the listing was deleted, never to return)."""


def window_start(high_water_hour: str | None, lookback_hours: int) -> str | None:
    """The first hour a run lists: lookback_hours before the high-water hour (None: all)."""
    if high_water_hour is None:
        return None
    try:
        start = datetime.strptime(high_water_hour, "%Y/%m/%d/%H") - timedelta(hours=lookback_hours)
    except (ValueError, OverflowError):
        return None
    return f"{start:%Y/%m/%d/%H}" if start.year >= 1000 else None


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
    high_water_hour: str | None = None
    window: HourWindow | None = None
    listed: set[str] | None = None

    @classmethod
    def load(cls, spark: SparkSession, lake: str, job: str, option: str) -> Bookmark:
        """Read the job's bookmark state (empty when the job never committed)."""
        version, doc = _current(store_for(lake), job)
        processed = dict(doc["processed"]) if doc else {}  # type: ignore[call-overload]
        high_water = doc.get("high_water_hour") if doc else None
        return cls(spark, lake, job, option, processed, version=version, high_water_hour=high_water)

    def select(self, inputs: Mapping[str, str] | HourWindow) -> list[str]:
        """The inputs this run must process: all when disabled, else the new or changed ones.

        An HourWindow is listed from the window's start (every hour when disabled or new).
        """
        if isinstance(inputs, HourWindow):
            self.window = inputs
            if self.high_water_hour is None:  # a state written before windows: its newest hour
                hours = [h for h in map(inputs.hour_of, self.processed) if h is not None]
                self.high_water_hour = max(hours, default=None)
            start = None if self.option == DISABLE else self.start_hour()
            inputs = inputs.listing(start)
        elif isinstance(inputs, Listed):
            self.listed = set(inputs)
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
        if self.listed is not None:  # inputs deleted since they were processed are forgotten
            processed = {k: v for k, v in processed.items() if k in self.listed}
        high_water = self.high_water_hour
        if self.window is not None:
            processed, high_water = _bounded(processed, self.window, high_water)
        store = store_for(self.lake)
        document = _document(self.job, processed, high_water, self.window)
        if not write_version(store, _prefix(self.job), self.version + 1, document):
            raise BookmarkConflict(
                f"bookmark {self.job}: version {self.version + 1} was committed by another run "
                "since this run started; run again to process what is left"
            )
        self.processed, self.pending, self.version = processed, {}, self.version + 1
        self.high_water_hour = high_water
        prune_versions(store, _prefix(self.job), KEEP_VERSIONS)
        return True

    def start_hour(self) -> str | None:
        """The first hour an HourWindow run lists (None: every hour)."""
        lookback = self.window.lookback_hours if self.window else 0
        return window_start(self.high_water_hour, lookback)


def _bounded(
    processed: Mapping[str, str], window: HourWindow, high_water: str | None
) -> tuple[dict[str, str], str | None]:
    """The processed inputs a window keeps (hours from the new high-water hour - lookback on, and
    inputs outside the hour layout) and the new high-water hour."""
    hours = {key: window.hour_of(key) for key in processed}
    newest = max((h for h in hours.values() if h is not None), default=None)
    if newest is not None and (high_water is None or newest > high_water):
        high_water = newest
    start = window_start(high_water, window.lookback_hours)
    kept = {
        key: fingerprint
        for key, fingerprint in processed.items()
        if start is None or hours[key] is None or hours[key] >= start  # type: ignore[operator]
    }
    return kept, high_water


def _document(
    job: str,
    processed: Mapping[str, str],
    high_water: str | None = None,
    window: HourWindow | None = None,
) -> str:
    doc: dict[str, object] = {
        "job": job,
        "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if window is not None:
        doc["high_water_hour"] = high_water
        doc["lookback_hours"] = window.lookback_hours
    doc["processed"] = dict(sorted(processed.items()))
    return json.dumps(doc, indent=1)


def reset(spark: SparkSession | None, lake: str, jobs: Iterable[str]) -> list[str]:
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


def show(spark: SparkSession | None, lake: str, job: str) -> dict[str, object]:
    """A job's bookmark state as a document (empty processed set when never committed); spark
    is unused (state files only), None is fine."""
    _, doc = _current(store_for(lake), job)
    return doc if doc else {"job": job, "processed": {}}


def record_rewrites(lake: str, job: str, fingerprints: Mapping[str, str]) -> list[str]:
    """Give inputs the job has processed their new fingerprints (raw objects rewritten in place by
    `clickstream forget --purge-raw`), as a new version, so no run reads them as changed; the
    inputs updated (those the job never processed are left to be read as new)."""
    store = store_for(lake)
    version, doc = _current(store, job)
    processed: dict[str, str] = dict(doc["processed"]) if doc else {}  # type: ignore[call-overload]
    updated = sorted(k for k in fingerprints if k in processed)
    if not doc or not updated:
        return []
    processed.update({k: fingerprints[k] for k in updated})
    document = {
        **doc,
        "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "processed": dict(sorted(processed.items())),
    }
    if not write_version(store, _prefix(job), version + 1, json.dumps(document, indent=1)):
        raise BookmarkConflict(f"bookmark {job}: changed while raw objects were rewritten")
    prune_versions(store, _prefix(job), KEEP_VERSIONS)
    return updated
