"""Completing what a dead run left: change sets published but never marked ready.

A curate run publishes its change set (not ready), writes events and repeat_suppressed, marks
the set "events_written", updates the event_id index, then marks the set ready. The next run
finds a set that is not ready and, before it classifies its own batch:
- marked events_written: the tables are complete and only the index may be torn (a crash while
  its buckets were replaced): the index is rebuilt from the tables.
- not marked: the index is the one from before that run, complete, and the tables may be torn
  (with Parquet, a crash between deleting a partition's files and moving in the new ones). An
  event_id the index places on one of the set's dates but neither table holds was lost: its
  copies are read again from the raw object the index names (events carry their source_file)
  and curated again. Then the index is refreshed from what the tables hold on those dates.
Either way every stored event on the set's dates is planned as changed, so those dates are
recomputed whole, and the set is marked ready once this run's events are committed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from clickstream.pipeline import changes
from clickstream.pipeline.changes import ChangeSet
from clickstream.pipeline.context import JobContext
from clickstream.pipeline.curate import event_index
from clickstream.pipeline.curate.parse_cache import parse, valid_events
from clickstream.pipeline.curate.repeat_suppression import SUPPRESSED
from clickstream.raw_objects import RawObject
from clickstream.tables import EVENTS, PARTITION_COLUMN
from clickstream.transforms.dedup import COPY_ORDER
from clickstream.writer import read_table


class LostEvents(RuntimeError):
    """Events lost from the tables whose raw objects are gone too."""


@dataclass
class Recovery:
    """The unready sets, their dates, the stored rows there as marks (user_id, event_time), the
    rows re-read from raw for lost event_ids, how many, and the surplus copies stored twice."""

    sets: list[ChangeSet]
    dts: list[str]
    marks: DataFrame
    restored: DataFrame | None
    restored_ids: int
    surplus: int
    cached: DataFrame | None = None

    def release(self) -> None:
        """Drop the cached stored rows (they read files the recovery's rewrite replaces)."""
        if self.cached is not None:
            self.cached.unpersist()


def unready_sets(ctx: JobContext) -> list[ChangeSet]:
    """Change sets published by a run that never marked them ready, oldest first."""
    found = changes.list_change_sets(
        ctx.spark, ctx.settings.lake, ready_only=False, unready_only=True
    )
    return [cs for _, cs in sorted(found.items())]


def _stored(ctx: JobContext, dts: list[str]) -> DataFrame:
    columns = ["event_id", "user_id", "event_time", "ingested_at", "source_file", PARTITION_COLUMN]
    lake = ctx.settings.lake
    return (
        read_table(ctx.spark, lake, EVENTS, dts)
        .select(*columns)
        .unionByName(read_table(ctx.spark, lake, SUPPRESSED, dts).select(*columns))
    )


def recover(
    ctx: JobContext,
    sets: list[ChangeSet],
    find: Callable[[list[str]], dict[str, RawObject]],
    indexed: bool,
) -> Recovery:
    """Repair the index or re-read lost events for the unready sets (see the module docstring)."""
    spark, settings = ctx.spark, ctx.settings
    dts = sorted({dt for cs in sets for dt in cs.dts})
    written = [changes.has_mark(settings.lake, cs.change_id, "events_written") for cs in sets]
    torn_tables = sorted(
        {dt for cs, w in zip(sets, written, strict=True) if not w for dt in cs.dts}
    )
    restored, restored_ids = None, 0
    if indexed and torn_tables:
        restored, restored_ids = _reread_lost(ctx, torn_tables, find)
    stored = _stored(ctx, dts).persist()
    counts = stored.agg(
        F.count("*").alias("rows"), F.countDistinct("event_id").alias("ids")
    ).first()
    surplus = int(counts["rows"]) - int(counts["ids"]) if counts else 0
    if indexed:
        ctx.guard()
        if any(written):  # the index may be torn: rebuild it from the tables
            event_index.build(spark, settings)
        else:
            earliest = F.min(F.struct(*COPY_ORDER, PARTITION_COLUMN)).alias("k")
            one_per_id = stored.groupBy("event_id").agg(earliest).select("event_id", "k.*")
            event_index.upsert(spark, settings, one_per_id)
    marks = stored.select("user_id", "event_time")
    ctx.echo(
        f"  completing {len(sets)} unready change set(s) over {len(dts)} date(s): "
        f"{restored_ids} lost event(s) re-read from raw, {surplus} surplus cop(ies)"
    )
    return Recovery(sets, dts, marks, restored, restored_ids, surplus, stored)


def _reread_lost(
    ctx: JobContext, dts: list[str], find: Callable[[list[str]], dict[str, RawObject]]
) -> tuple[DataFrame | None, int]:
    """Rows of the event_ids the index places on dts but no table holds, read again from the raw
    objects the index names (found by find: they may lie before the listed window); fails when
    an object is gone."""
    spark, settings = ctx.spark, ctx.settings
    indexed = event_index.read_buckets(spark, settings, None).where(
        F.col(PARTITION_COLUMN).isin(dts)
    )
    present = _stored(ctx, dts).select("event_id")
    lost = (
        indexed.join(present, "event_id", "left_anti").select("event_id", "source_file").persist()
    )
    sources = sorted({r["source_file"] for r in lost.select("source_file").distinct().collect()})
    if not sources:
        lost.unpersist()
        return None, 0
    objects = find(sources)
    missing = [s for s in sources if s not in objects]
    if missing:
        raise LostEvents(
            f"{lost.count()} event(s) on {', '.join(dts)} were lost by a crashed run and their "
            f"raw object(s) are gone: {', '.join(missing[:5])}; restore them or rebuild the lake"
        )
    ids = lost.select("event_id")
    count = ids.count()
    parsed = parse(ctx, [objects[s] for s in sources])
    rows = valid_events(parsed, settings).join(ids, "event_id", "left_semi")
    lost.unpersist()
    return rows, count
