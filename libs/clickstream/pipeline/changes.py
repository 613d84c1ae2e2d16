"""Change sets: what a curate_events run rewrites, for the jobs that derive tables from events.

A change set names the event dates (dt) the run rewrites and, per user, the time ranges whose
sessions it recomputes (see clickstream.pipeline.ranges). A "full" change set has no ranges:
nothing was curated near its dates before, so every session there is new. curate_events publishes
the change set before it writes, so a run that dies halfway still leaves a record of what it may
have changed, and marks it ready only once the events it describes are committed. Derived jobs
read ready sets only; the next curate run completes a set a dead run left unready.

State objects go through clickstream.state_store: the manifest and the ready mark are each
created once and never rewritten.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StringType, StructField, StructType, TimestampType

from clickstream import fs
from clickstream.config import ConfigError
from clickstream.pipeline.ranges import RANGE_COLUMNS
from clickstream.state_store import store_for

FORMAT = 3
# Sets written before ready marks existed (format 2) were published by runs that rewrote their
# dates whole on any rerun: they count as ready.
READY_FORMATS = (2,)
RANGES_SCHEMA = StructType(
    [
        StructField("user_id", StringType(), False),
        StructField("range_start", TimestampType(), False),
        StructField("range_end", TimestampType(), False),
    ]
)


CHANGES = "_state/changes"
# The ranges of the sets a change set absorbed (publish), beside its own (ranges/).
ABSORBED_RANGES = "absorbed_ranges"


def changes_root(lake: str) -> str:
    """Folder of the change sets under the lake root."""
    return f"{lake}/{CHANGES}"


def new_change_id() -> str:
    """A sortable, unique change set id."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class ChangeSet:
    """The dates one curate_events run rewrites; full when all their sessions are new."""

    change_id: str
    dts: tuple[str, ...]
    full: bool
    ready: bool = False
    # Raw objects the run curated (for recovering dates whose files a crash lost).
    sources: tuple[str, ...] = ()
    # Unready sets of failed or dead runs this set took over (their dates are among its own).
    absorbs: tuple[str, ...] = ()


def ranges_path(lake: str, change_id: str) -> str:
    return f"{changes_root(lake)}/{change_id}/ranges"


def publish(
    lake: str,
    change_id: str,
    dts: list[str],
    ranges: DataFrame | None,
    sources: list[str] | None = None,
    absorbs: Sequence[ChangeSet] = (),
) -> ChangeSet:
    """Write the change set, not ready: ranges first, the manifest last (a change set without one
    is ignored).

    absorbs: unready sets this run completes (a failed or dead run's); their dates must be among
    dts. Their ranges are kept beside this set's (absorbed_ranges), and the set is full when one
    of them was, so consumers recompute everything those runs may have changed. They are deleted
    once this manifest exists, so reruns of a failing batch leave one unready set, not one more
    per run; until deleted, listings ignore them.
    """
    root = f"{changes_root(lake)}/{change_id}"
    spark = ranges.sparkSession if ranges is not None else SparkSession.getActiveSession()
    assert spark is not None
    if ranges is not None:
        ranges.select(*RANGE_COLUMNS).coalesce(1).write.mode("overwrite").parquet(f"{root}/ranges")
    full = ranges is None or any(cs.full for cs in absorbs)
    if absorbs and not full:
        absorbed = read_ranges(spark, lake, list(absorbs))
        absorbed.coalesce(1).write.mode("overwrite").parquet(f"{root}/{ABSORBED_RANGES}")
    manifest = {
        "change_id": change_id,
        "format": FORMAT,
        "dts": sorted(dts),
        "full": full,
        "sources": sorted(sources or []),
        "absorbs": sorted(cs.change_id for cs in absorbs),
    }
    store = store_for(lake)
    if not store.create(f"{CHANGES}/{change_id}/manifest.json", json.dumps(manifest)):
        raise RuntimeError(f"change set {change_id} exists already")
    _delete_sets(spark, lake, manifest["absorbs"])
    return ChangeSet(
        change_id,
        tuple(sorted(dts)),
        full,
        False,
        tuple(manifest["sources"]),
        tuple(manifest["absorbs"]),
    )


def _delete_sets(spark: SparkSession, lake: str, change_ids: list[str]) -> None:
    """Delete change sets, each manifest first (a half-deleted set is already ignored)."""
    store = store_for(lake)
    for cid in change_ids:
        store.delete(f"{CHANGES}/{cid}/manifest.json")
        fs.delete(spark, f"{changes_root(lake)}/{cid}")


def mark(lake: str, change_id: str, name: str) -> None:
    """Record a step of a change set: "events_written" (events and repeat_suppressed are
    written) or "ready" (its run committed; derived jobs may read it). Idempotent."""
    store_for(lake).create(f"{CHANGES}/{change_id}/{name}", "")


def has_mark(lake: str, change_id: str, name: str) -> bool:
    """Whether mark() recorded that step."""
    return store_for(lake).read(f"{CHANGES}/{change_id}/{name}") is not None


def mark_ready(lake: str, change_id: str) -> None:
    """Mark a change set ready: the events it describes are committed (idempotent)."""
    mark(lake, change_id, "ready")


def list_change_sets(
    spark: SparkSession,
    lake: str,
    *,
    ready_only: bool = True,
    unready_only: bool = False,
    ids: Collection[str] | None = None,
) -> dict[str, ChangeSet]:
    """The complete change sets under the lake, by id: ready ones only unless ready_only=False,
    unready ones only with unready_only=True, those named in ids only when given.

    One listing of the change sets' keys; a manifest is read only for a set that is wanted
    (a set with a ready mark is known ready, and unready_only skips it unread), so a run costs
    the sets it consumes, not every set ever published.
    """
    store = store_for(lake)
    keys = store.list(CHANGES)
    marked = {k.split("/")[-2] for k in keys if k.endswith("/ready")}
    found = {}
    for key in keys:
        if not key.endswith("/manifest.json"):
            continue
        name = key.split("/")[-2]
        if (ids is not None and name not in ids) or (unready_only and name in marked):
            continue
        text = store.read(key)
        if text is None:
            continue
        doc = json.loads(text.text)
        if doc.get("format") not in (FORMAT, *READY_FORMATS):
            raise ConfigError(
                f"change set {name} was written by an older version; run build_sessions and "
                "daily_active_users once with --set bookmark_option=job-bookmark-disable, "
                f"then delete {changes_root(lake)}/{name}"
            )
        ready = name in marked or doc["format"] in READY_FORMATS
        if (ready or not ready_only) and not (ready and unready_only):
            found[name] = ChangeSet(
                name,
                tuple(doc["dts"]),
                bool(doc["full"]),
                ready,
                tuple(doc.get("sources", ())),
                tuple(doc.get("absorbs", ())),
            )
    absorbed = {cid for cs in found.values() for cid in cs.absorbs}
    return {cid: cs for cid, cs in found.items() if cid not in absorbed}


def ready_change_ids(lake: str) -> list[str]:
    """Ids of the ready change sets, from one listing (manifests read only for sets without a
    ready mark, which may be ready sets of the format before marks)."""
    store = store_for(lake)
    keys = store.list(CHANGES)
    manifests = {k.split("/")[-2] for k in keys if k.endswith("/manifest.json")}
    marked = {k.split("/")[-2] for k in keys if k.endswith("/ready")} & manifests
    unmarked = list_change_sets(None, lake, ids=manifests - marked)  # type: ignore[arg-type]
    return sorted(marked | set(unmarked))


def read_ranges(
    spark: SparkSession, lake: str, change_sets: list[ChangeSet], *, own_only: bool = False
) -> DataFrame:
    """The ranges of the change sets that have them, with those of the sets each absorbed
    (empty when all are full); own_only: each set's own ranges (its run's plan) only."""
    frames = []
    for cs in change_sets:
        if cs.full and not own_only:
            continue
        folders = ["ranges"] if own_only or not cs.absorbs else ["ranges", ABSORBED_RANGES]
        for folder in folders:
            path = f"{changes_root(lake)}/{cs.change_id}/{folder}"
            frames.append(spark.read.schema(RANGES_SCHEMA).parquet(path))
    if not frames:
        return spark.createDataFrame([], RANGES_SCHEMA)
    return reduce(DataFrame.unionByName, frames)


def published_at(change_id: str) -> datetime:
    """When a change set was published (its id starts with the UTC time)."""
    return datetime.strptime(change_id.split("-", 1)[0], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)


def prune(
    spark: SparkSession,
    lake: str,
    consumed: Iterable[Iterable[str]],
    *,
    retention_days: int,
    now: datetime | None = None,
) -> list[str]:
    """Delete the ready change sets every consuming job has processed (consumed: one set of ids
    per job) and that were published more than retention_days ago; their ids, oldest first.

    The manifest goes first, so a set half deleted by a crash is already ignored by readers.
    """
    store = store_for(lake)
    consumers = [set(ids) for ids in consumed]
    if not consumers:
        return []
    by_all = set.intersection(*consumers)
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    keys = store.list(CHANGES)
    ready = {k.split("/")[-2] for k in keys if k.endswith("/ready")}
    doomed = sorted(
        cid
        for cid in ready & by_all
        if f"{CHANGES}/{cid}/manifest.json" in keys and published_at(cid) < cutoff
    )
    _delete_sets(spark, lake, doomed)
    return doomed
