"""curate_events: new raw Firehose objects to deduplicated, enriched, sessionized events.

Every run, the first included, is incremental. run() reads as these steps (each a function here
or a module of clickstream.pipeline.curate):
1. select: the raw objects the bookmark has not seen (selection).
2. parse and quarantine: parse them once, cached, count records by reason and valid date
   (parse_cache); rejected records replace those of the same objects in quarantine.
3. recover: complete the change sets a dead or failed run left unready (recovery).
4. classify copies: each event_id against the event_id index (every event_id stored, whatever
   its user or time): new, a duplicate of an earlier stored copy (dropped), or a copy at least as
   early as the stored one (curated with it; the stored copy's place is recomputed too) (copies).
5. plan: per affected user, the ranges of time the batch can change and the dates to read and
   rewrite (planning; the rule is clickstream.pipeline.ranges).
6. publish the change set (the dates and the ranges) for build_sessions and daily_active_users,
   before writing: a run that dies while writing still leaves its record (changes).
7. recompute: dedup, suppress repeats, enrich, sessionize inside the ranges; rows outside them
   stay as stored (context_reads, recompute).
8. write the rewritten dates of events, and repeat_suppressed (events_write, repeat_suppression).
9. account: rows added to both tables must equal the new event_ids, or the run fails (accounting).
10. index: record the batch's event_ids where their kept copy now is (event_index).
11. commit (after the runner registered the tables): ready marks, then the bookmark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from pyspark.sql import DataFrame

from clickstream.compaction import compact_crowded
from clickstream.pipeline import changes
from clickstream.pipeline.context import JobContext, JobOutcome
from clickstream.pipeline.curate import event_index
from clickstream.pipeline.curate.accounting import (
    AccountingError,
    Added,
    StoredRows,
    check_added,
    stored_rows,
)
from clickstream.pipeline.curate.changed_rows import DELETED, NEW, UPDATED, row_changes
from clickstream.pipeline.curate.context_reads import stored_context
from clickstream.pipeline.curate.copies import BatchCopies, classify
from clickstream.pipeline.curate.events_write import (
    EventsWrite,
    write_changed_events,
    write_events,
)
from clickstream.pipeline.curate.parse_cache import (
    ParseStats,
    cached_parse,
    no_events,
    parse_stats,
    valid_events,
)
from clickstream.pipeline.curate.planning import Existing, Plan, existing_dates, plan
from clickstream.pipeline.curate.quarantine import (
    QuarantineWrite,
    interrupted_dates,
    rebuild_dates,
    write_quarantine,
)
from clickstream.pipeline.curate.quarantine_retention import (
    NOTHING_EXPIRED,
    Expired,
    expire_quarantine,
)
from clickstream.pipeline.curate.recompute import recompute
from clickstream.pipeline.curate.recovery import Recovery, recover, unready_sets
from clickstream.pipeline.curate.repeat_suppression import write_suppressed
from clickstream.pipeline.curate.selection import RawSelection, select_raw_objects
from clickstream.tables import QUARANTINE, Table, events_table
from clickstream.writer import format_of, table_schema

JOB = "curate_events"


@dataclass
class CurateMetrics:
    """The run's figures for the summary; optional ones are left out when None."""

    objects: int = 0
    records_read: int = 0
    quarantined: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    valid: int = 0
    curated: int = 0
    duplicates_removed: int = 0
    # Rows written to events files: the new rows, and stored rows written again (a whole date,
    # or the other rows of a file holding a changed row).
    event_rows_written: int = 0
    new_event_ids: int = 0
    repeats_suppressed: int = 0
    # Valid records whose promoted field held a value of another type (kept in properties).
    promoted_misfits: dict[str, int] | None = None
    dates_read: int | None = None
    dates_rewritten: int | None = None
    recovered_change_sets: int | None = None
    lost_events_reread: int | None = None
    surplus_copies_removed: int | None = None
    # Writes of changed rows only: the stored rows changed (updated or deleted) and the files
    # replaced because they held one.
    event_rows_changed: int | None = None
    event_files_replaced: int | None = None
    # quarantine_retention_days: arrival dates dropped from quarantine, and their rows.
    quarantine_expired_dates: int | None = None
    quarantine_expired_rows: int | None = None
    # The newest arrival time (ingested_at, UTC ISO-8601) of the raw objects curated so far:
    # the freshness lag's reference (clickstream.run_metrics). None when none is listed.
    newest_ingested_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The figures, without the optional ones that do not apply."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Batch:
    """The chosen objects parsed (cached; None without objects), their counts and quarantine."""

    parsed: DataFrame | None
    stats: ParseStats
    quarantine: QuarantineWrite


@dataclass
class Curated:
    """What the events write did: the plan, the change set, the rows written and added."""

    plan: Plan
    change_id: str
    written: EventsWrite
    added: Added


def run(ctx: JobContext) -> JobOutcome:
    """Curate the raw objects the bookmark selects into events, quarantine and a change set."""
    selection = select_raw_objects(ctx, JOB)
    ctx.echo(f"  {len(selection.chosen)} new raw object(s) of {selection.available}")
    repaired = repair_quarantine(ctx, selection)
    unready = unready_sets(ctx)
    if not selection.chosen and not unready:
        expired = expire_quarantine(ctx, [])
        metrics = with_expired(CurateMetrics(), expired)
        nothing = batch_of_nothing().quarantine
        return outcome(ctx, metrics, repaired, nothing, None, selection, expired=expired)
    existing = existing_dates(ctx)
    batch = parse_and_quarantine(ctx, selection, existing)
    expired = expire_quarantine(ctx, selection.chosen)
    indexed = index_ready(ctx, existing)
    recovery = recover(ctx, unready, selection.find, indexed) if unready else None
    copies = classify_copies(ctx, batch, recovery, indexed)
    curated = None
    if copies.dts or (recovery is not None and recovery.dts):
        curated = write_changes(ctx, batch, copies, recovery, existing, selection)
    copies.release()
    if batch.parsed is not None:
        batch.parsed.unpersist()
    metrics = with_expired(figures(ctx, selection, batch, copies, recovery, curated), expired)
    return outcome(
        ctx, metrics, repaired, batch.quarantine, curated, selection, recovery, expired=expired
    )


def with_expired(metrics: CurateMetrics, expired: Expired) -> CurateMetrics:
    """The metrics with the quarantine retention's figures, when it dropped any date."""
    if expired.dts:
        metrics.quarantine_expired_dates = len(expired.dts)
        metrics.quarantine_expired_rows = expired.rows
    return metrics


def repair_quarantine(ctx: JobContext, selection: RawSelection) -> QuarantineWrite:
    """Rebuild the quarantine dates a dead run's write left unfinished (usually none)."""
    torn = interrupted_dates(ctx)
    if not torn:
        return QuarantineWrite(0, [], [])
    return rebuild_dates(ctx, torn, selection.arrived_on(torn))


def parse_and_quarantine(ctx: JobContext, selection: RawSelection, existing: Existing) -> Batch:
    """Parse the chosen objects once (cached) and replace their quarantine rows."""
    if not selection.chosen:
        return batch_of_nothing()
    parsed = cached_parse(ctx, selection.chosen)
    stats = parse_stats(parsed, ctx.settings.promoted_fields)
    quarantine = write_quarantine(ctx, parsed, selection.chosen, stats.rejected)
    if quarantine.rows != stats.rejected:
        raise AssertionError(
            f"quarantine wrote {quarantine.rows} rows, validation rejected "
            f"{stats.rejected_by_reason}"
        )
    return Batch(parsed, stats, quarantine)


def batch_of_nothing() -> Batch:
    """The batch of a run without new objects."""
    return Batch(None, ParseStats(0, {}, 0, []), QuarantineWrite(0, [], []))


def index_ready(ctx: JobContext, existing: Existing) -> bool:
    """Whether events are stored (then the event_id index holds them all: built once here)."""
    if existing.empty:
        return False
    if not event_index.is_built(ctx.settings):
        ctx.echo("  building the event_id index from the stored events (once)")
        ctx.guard()
        event_index.build(ctx.spark, ctx.settings)
    return True


def classify_copies(
    ctx: JobContext, batch: Batch, recovery: Recovery | None, indexed: bool
) -> BatchCopies:
    """The batch's valid rows (and rows recovery re-read) classified against the index."""
    stats = batch.stats
    new = valid_events(batch.parsed, ctx.settings) if stats.valid else no_events(ctx)
    if recovery is not None and recovery.restored is not None:
        new = new.unionByName(recovery.restored)
    # The parse's buckets hold every event_id of the batch unless recovery re-read rows.
    buckets = set(stats.buckets) if recovery is None else None
    copies = classify(
        ctx, new, stats.valid_dts, indexed, has_rows=bool(stats.valid), buckets=buckets
    )
    ctx.echo(
        f"  {stats.valid} valid record(s): {copies.new_ids} new event_id(s), "
        f"{copies.duplicate_ids} already stored earlier"
    )
    return copies


def write_changes(
    ctx: JobContext,
    batch: Batch,
    copies: BatchCopies,
    recovery: Recovery | None,
    existing: Existing,
    selection: RawSelection,
) -> Curated:
    """Plan, publish the change set, recompute, write, account, index and compact."""
    the_plan = plan_changes(ctx, batch, copies, recovery, existing)
    before = stored_rows(ctx, the_plan.dts, existing)
    ctx.guard()
    # A failed or dead run's unready sets are taken over: this set names their dates too, and
    # replaces them (reruns of a failing batch leave one unready set, not one more each).
    absorbed = recovery.sets if recovery is not None else []
    change = changes.publish(
        ctx.settings.lake,
        changes.new_change_id(),
        sorted({*the_plan.dts, *(recovery.dts if recovery is not None else ())}),
        the_plan.ranges,
        [o.path for o in selection.chosen],
        absorbs=absorbed,
    )
    # Cached frames read stored files a rewrite replaces: dropped whatever happens, so no later
    # query of this session can match a cached plan over files that are gone.
    release: list[Callable[[], object]] = [the_plan.release]
    if recovery is not None:
        release.append(recovery.release)
    try:
        written, suppressed, recomputed = recompute_and_write(
            ctx, the_plan, change, copies, recovery, existing, before, release
        )
        expected = copies.new_ids
        if recovery is not None:
            expected += recovery.restored_ids - recovery.surplus
        added = account(ctx, the_plan, written, suppressed, expected, before)
        changes.mark(ctx.settings.lake, change.change_id, "events_written")
        update_index(ctx, the_plan, copies, recovery, existing, batch, recomputed)
        compact_events(ctx, written.written)
    finally:
        for drop in release:
            drop()
    return Curated(the_plan, change.change_id, written, added)


def recompute_and_write(
    ctx: JobContext,
    the_plan: Plan,
    change: changes.ChangeSet,
    copies: BatchCopies,
    recovery: Recovery | None,
    existing: Existing,
    before: StoredRows,
    release: list[Callable[[], object]],
) -> tuple[EventsWrite, int, DataFrame | None]:
    """Recompute inside the plan's ranges and write events (whole dates, or only the rows that
    changed) and repeat_suppressed: what was written, the repeat-suppressed rows now on the
    dates, and the recomputed rows (cached; None for whole dates). Caches go to release."""
    # This run recomputes inside its own ranges (the absorbed ones are for the consumers).
    ranges = None
    if the_plan.ranges is not None:
        ranges = changes.read_ranges(ctx.spark, ctx.settings.lake, [change], own_only=True)
    # Whole dates after a crash (recovery recomputes them) and where nothing is stored near;
    # otherwise only the rows that changed are written.
    whole_dates = recovery is not None or ranges is None
    stored = stored_context(ctx, the_plan, ranges, whole_dates=whole_dates)
    release.append(stored.release)
    result = recompute(ctx, copies.to_curate, ranges, stored)
    release.append(result.release)
    recomputed = None
    if whole_dates:
        written = write_events(ctx, result.output, the_plan.dts, removed=before.events)
        result.check()
    else:
        recomputed = result.recomputed.persist()
        release.append(recomputed.unpersist)
        columns = table_schema(events_table(ctx.settings.promoted_fields)).names
        diff = row_changes(recomputed, stored.stored_in, columns)
        result.check()
        ctx.echo(
            f"  rows changed: {diff.counts[NEW]} new, {diff.counts[UPDATED]} updated, "
            f"{diff.counts[DELETED]} deleted ({len(diff.files)} file(s) rewritten)"
        )
        written = write_changed_events(ctx, diff)
    suppressed = before.suppressed
    if ctx.settings.repeat_window_seconds or set(the_plan.dts) & existing.suppressed:
        suppressed = write_suppressed(ctx, result.deduped, result.kept, ranges, the_plan.dts)
    return written, suppressed, recomputed


def compact_events(ctx: JobContext, dts: list[str]) -> None:
    """Compact the written dates that hold more than compact_after_files files (the rows stay)."""
    settings = ctx.settings
    table = events_table(settings.promoted_fields)
    ctx.guard()
    done = compact_crowded(
        ctx.spark,
        settings.lake,
        table,
        settings.path(table.location),
        dts,
        limit=settings.compact_after_files,
        table_format=format_of(table, settings.table_format),
    )
    if done:
        ctx.echo(f"  compacted {len(done)} date(s) past {settings.compact_after_files} files")


def plan_changes(
    ctx: JobContext,
    batch: Batch,
    copies: BatchCopies,
    recovery: Recovery | None,
    existing: Existing,
) -> Plan:
    """The ranges the batch (and recovered sets) can change, and the dates to read and rewrite."""
    marks, touched = copies.marks(), set(copies.dts)
    bound: int | None = batch.stats.valid + copies.contested_ids
    if recovery is not None:
        marks, touched, bound = marks.unionByName(recovery.marks), touched | set(recovery.dts), None
    the_plan = plan(ctx, marks, sorted(touched), existing, marks_bound=bound)
    ctx.echo(
        f"  touching {len(touched)} date(s); read {len(the_plan.read)}, rewrite {len(the_plan.dts)}"
    )
    return the_plan


def account(
    ctx: JobContext,
    the_plan: Plan,
    written: EventsWrite,
    suppressed: int,
    expected: int,
    before: StoredRows,
) -> Added:
    """Rows stored after the write (Parquet footers) must equal the rows before, plus those
    written, minus those the write removed; and the rows added the new event_ids;
    AccountingError otherwise."""
    after = stored_rows(ctx, the_plan.dts, existing_dates(ctx))
    events = before.events + written.rows - written.removed
    if (after.events, after.suppressed) != (events, suppressed):
        raise AccountingError(
            f"rows stored after the write ({after}) differ from the rows before ({before}) "
            f"plus {written.rows} written minus {written.removed} removed "
            f"(repeat_suppressed {suppressed})"
        )
    return check_added(expected, before, after)


def update_index(
    ctx: JobContext,
    the_plan: Plan,
    copies: BatchCopies,
    recovery: Recovery | None,
    existing: Existing,
    batch: Batch,
    recomputed: DataFrame | None,
) -> None:
    """Record where the batch's event_ids' kept copies now are (the whole index on a first run).

    Where only changed rows were written (and nothing became a repeat), every kept copy of the
    batch's event_ids is a recomputed row: the index takes them from there, reading nothing
    stored; otherwise from what the rewritten dates hold now.
    """
    ctx.guard()
    if existing.empty:
        event_index.build(ctx.spark, ctx.settings)
        return
    if recomputed is not None and not ctx.settings.repeat_window_seconds:
        kept = recomputed.select(*event_index.COLUMNS).join(copies.ids, "event_id", "left_semi")
        event_index.upsert(ctx.spark, ctx.settings, kept, set(batch.stats.buckets))
        return
    committed = event_index.stored_copies(ctx.spark, ctx.settings, the_plan.dts)
    buckets = None
    if recovery is None:
        committed = committed.join(copies.ids, "event_id", "left_semi")
        buckets = set(batch.stats.buckets)
    event_index.upsert(ctx.spark, ctx.settings, committed, buckets)


def figures(
    ctx: JobContext,
    selection: RawSelection,
    batch: Batch,
    copies: BatchCopies,
    recovery: Recovery | None,
    curated: Curated | None,
) -> CurateMetrics:
    """The run's metrics, from the steps' results."""
    stats = batch.stats
    added = curated.added if curated is not None else Added(0, 0)
    metrics = CurateMetrics(
        objects=len(selection.chosen),
        records_read=stats.read,
        quarantined=batch.quarantine.rows,
        quarantined_by_reason=stats.rejected_by_reason,
        valid=stats.valid,
        curated=added.events,
        duplicates_removed=stats.valid - added.events,
        event_rows_written=curated.written.rows_written if curated is not None else 0,
        new_event_ids=copies.new_ids,
        repeats_suppressed=added.suppressed,
        promoted_misfits=stats.misfits if ctx.settings.promoted_fields else None,
    )
    if curated is not None:
        metrics.dates_read = len(curated.plan.read)
        metrics.dates_rewritten = len(curated.plan.dts)
        metrics.event_rows_changed = curated.written.rows_changed
        metrics.event_files_replaced = curated.written.files_replaced
    if recovery is not None:
        metrics.recovered_change_sets = len(recovery.sets)
        metrics.lost_events_reread = recovery.restored_ids
        metrics.surplus_copies_removed = recovery.surplus
    return metrics


def outcome(
    ctx: JobContext,
    metrics: CurateMetrics,
    repaired: QuarantineWrite,
    quarantine: QuarantineWrite,
    curated: Curated | None,
    selection: RawSelection,
    recovery: Recovery | None = None,
    *,
    expired: Expired = NOTHING_EXPIRED,
) -> JobOutcome:
    """The tables and dates written, the figures, and the commit: ready marks, then bookmark."""
    lake = ctx.settings.lake
    metrics.newest_ingested_at = selection.newest_ingested_at()
    touched = selection.chosen or repaired.written or expired.dts
    tables: tuple[Table, ...] = (QUARANTINE,) if touched else ()
    dts = {QUARANTINE.name: tuple(sorted({*quarantine.written, *repaired.written}))}
    gone = {*quarantine.dropped, *repaired.dropped, *expired.dts}
    dropped = {QUARANTINE.name: tuple(sorted(gone))}
    # Recovered sets are marked ready themselves unless this run's set took them over.
    ready = [cs.change_id for cs in recovery.sets] if recovery and not curated else []
    if curated is not None:
        events = events_table(ctx.settings.promoted_fields)
        tables = (events, *tables)
        dts[events.name] = tuple(curated.written.written)
        dropped[events.name] = tuple(curated.written.dropped)
        ready.append(curated.change_id)

    def commit() -> bool:
        # Ready marks first: a crash between them and the bookmark only repeats this batch.
        for change_id in ready:
            changes.mark_ready(lake, change_id)
        return selection.commit()

    return JobOutcome(metrics.as_dict(), tables, dts, dropped, commit)
