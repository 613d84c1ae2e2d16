"""Know what changed: the rows recomputed inside the ranges against their stored versions.

Each recomputed row is the kept copy of its event_id:
- a copy from the batch (or from repeat_suppressed): new, written whole. When a stored copy of
  the same event_id lost to it, the stored row is deleted;
- the stored copy itself: unchanged, or updated when its title, genre or session_id changed
  (its other columns are the stored ones by construction: context_reads).
A stored row inside the ranges that is no recomputed row's copy (it became a repeat, or lost to
a batch copy) is deleted. Only new, updated and deleted rows are written: the files holding an
updated or deleted row are rewritten, new rows go to new files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from clickstream.pipeline.curate.context_reads import DERIVED, FILE, STORED
from clickstream.tables import PARTITION_COLUMN

NEW, UPDATED, DELETED = "new", "updated", "deleted"


@dataclass
class RowChanges:
    """New rows (whole), updated stored rows (event_id, DERIVED, dt, FILE), deleted stored rows
    (event_id, dt, FILE); their counts, the files holding an updated or deleted row, and the
    dates of those rows."""

    new: DataFrame
    updated: DataFrame
    deleted: DataFrame
    counts: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    touched_dts: list[str] = field(default_factory=list)

    @property
    def only_new(self) -> bool:
        """No stored row changes: the new rows are appended."""
        return not (self.counts.get(UPDATED) or self.counts.get(DELETED))


def row_changes(recomputed: DataFrame, stored_in: DataFrame, columns: list[str]) -> RowChanges:
    """Compare the recomputed rows (cached: read several times) with the stored rows inside the
    ranges; columns are the events table's, dt included. One small aggregation counts them."""
    new = recomputed.where(~F.col(STORED)).select(*columns)
    winners = recomputed.where(F.col(STORED)).select("event_id", *DERIVED)
    before = stored_in.select(
        "event_id", *(F.col(c).alias(f"_stored_{c}") for c in DERIVED), PARTITION_COLUMN, FILE
    )
    same = [F.col(c).eqNullSafe(F.col(f"_stored_{c}")) for c in DERIVED]
    updated = (
        winners.join(before, "event_id")
        .where(~(same[0] & same[1] & same[2]))
        .select("event_id", *DERIVED, PARTITION_COLUMN, FILE)
    )
    deleted = before.join(winners, "event_id", "left_anti").select(
        "event_id", PARTITION_COLUMN, FILE
    )
    summary = (
        new.select(
            F.lit(NEW).alias("kind"), F.lit(None).cast("string").alias(FILE), PARTITION_COLUMN
        )
        .unionByName(updated.select(F.lit(UPDATED).alias("kind"), FILE, PARTITION_COLUMN))
        .unionByName(deleted.select(F.lit(DELETED).alias("kind"), FILE, PARTITION_COLUMN))
        .groupBy("kind", FILE, PARTITION_COLUMN)
        .count()
        .collect()
    )
    counts = {
        kind: sum(r["count"] for r in summary if r["kind"] == kind)
        for kind in (NEW, UPDATED, DELETED)
    }
    changed = [r for r in summary if r["kind"] != NEW]
    return RowChanges(
        new,
        updated,
        deleted,
        counts,
        sorted({r[FILE] for r in changed if r[FILE] is not None}),
        sorted({r[PARTITION_COLUMN] for r in changed}),
    )
