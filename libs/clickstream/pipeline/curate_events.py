"""curate_events: new raw Firehose objects to deduplicated, enriched, sessionized events.

Every run, the first included, is incremental. The steps (clickstream.pipeline.curate):
1. selection: the raw objects the bookmark has not seen.
2. parse_cache: parse them once, cached; count records by reason and valid date.
3. quarantine: rejected records to quarantine, replacing those of the same objects.
4. copies: each event_id against the event_id index (every event_id stored, whatever its user
   or time): new, a duplicate of an earlier stored copy (dropped), or a copy at least as early
   as the stored one (curated with it; the stored copy's place is recomputed too).
5. planning: per affected user, the ranges of time the batch can change (the stored sessions
   within one lookback of a new or displaced copy, and those copies; clickstream.pipeline.ranges),
   and the dates to read and rewrite. With nothing stored near them, all is new.
6. changes: publish a change set (the dates rewritten and the ranges) for build_sessions and
   daily_active_users, before writing: a run that dies while writing still leaves its record.
7. context_reads: the stored rows inside the ranges (recomputed) and outside them (kept).
8. recompute: dedup, suppress repeats, enrich, sessionize. Rows outside the ranges stay as stored.
9. events_write: overwrite the rewritten dates (dynamic partition overwrite).
10. repeat_suppression: store the suppressed rows, so later runs see what a full run would.
11. accounting: rows added to both tables must equal the new event_ids, or the run fails.
12. event_index: record the batch's event_ids where their kept copy now is.
The runner commits the bookmark afterwards.
"""

from __future__ import annotations

from typing import Any

from clickstream.pipeline import changes
from clickstream.pipeline.context import JobContext, JobOutcome
from clickstream.pipeline.curate import event_index
from clickstream.pipeline.curate.accounting import AccountingError, check_added, stored_rows
from clickstream.pipeline.curate.context_reads import stored_context
from clickstream.pipeline.curate.copies import classify
from clickstream.pipeline.curate.events_write import write_events
from clickstream.pipeline.curate.parse_cache import (
    ParseStats,
    cached_parse,
    no_events,
    parse_stats,
    valid_events,
)
from clickstream.pipeline.curate.planning import existing_dates, plan
from clickstream.pipeline.curate.quarantine import (
    QuarantineWrite,
    interrupted_dates,
    rebuild_dates,
    write_quarantine,
)
from clickstream.pipeline.curate.recompute import recompute
from clickstream.pipeline.curate.recovery import recover, unready_sets
from clickstream.pipeline.curate.repeat_suppression import write_suppressed
from clickstream.pipeline.curate.selection import select_raw_objects
from clickstream.tables import QUARANTINE, Table, events_table

JOB = "curate_events"


def run(ctx: JobContext) -> JobOutcome:
    """Curate the raw objects the bookmark selects into events, quarantine and a change set."""
    spark, settings = ctx.spark, ctx.settings
    lake = settings.lake
    selection = select_raw_objects(ctx, JOB)
    ctx.echo(f"  {len(selection.chosen)} new raw object(s) of {selection.available}")
    unready = unready_sets(ctx)
    rebuilt = QuarantineWrite(0, [], [])
    torn_quarantine = interrupted_dates(ctx)
    if torn_quarantine:
        rebuilt = rebuild_dates(ctx, torn_quarantine, selection.arrived_on(torn_quarantine))
    if not selection.chosen and not unready:
        return JobOutcome(metrics=_zero_metrics(), commit=selection.commit)

    existing = existing_dates(ctx)
    parsed = None
    stats, quarantine = ParseStats(0, {}, 0, []), QuarantineWrite(0, [], [])
    if selection.chosen:
        parsed = cached_parse(ctx, selection.chosen, by_event_id=existing.empty)
        stats = parse_stats(parsed, settings.promoted_fields)
        quarantine = write_quarantine(ctx, parsed, selection.chosen, stats.rejected)
        if quarantine.rows != stats.rejected:
            raise AssertionError(
                f"quarantine wrote {quarantine.rows} rows, validation rejected "
                f"{stats.rejected_by_reason}"
            )
    metrics: dict[str, Any] = {
        "objects": len(selection.chosen),
        "records_read": stats.read,
        "quarantined": quarantine.rows,
        "quarantined_by_reason": stats.rejected_by_reason,
    }
    if settings.promoted_fields:
        # Valid records whose promoted field held a value of another type (kept in properties).
        metrics["promoted_misfits"] = stats.misfits
    dts = {QUARANTINE.name: tuple(sorted({*quarantine.written, *rebuilt.written}))}
    dropped = {QUARANTINE.name: tuple(sorted({*quarantine.dropped, *rebuilt.dropped}))}
    tables: tuple[Table, ...] = (QUARANTINE,) if selection.chosen or rebuilt.written else ()

    indexed = not existing.empty
    if indexed and not event_index.is_built(settings):
        ctx.echo("  building the event_id index from the stored events (once)")
        event_index.build(spark, settings)
    recovery = recover(ctx, unready, selection.find, indexed) if unready else None
    new = valid_events(parsed, settings) if parsed is not None and stats.valid else no_events(ctx)
    if recovery is not None and recovery.restored is not None:
        new = new.unionByName(recovery.restored)
    # The parse's buckets hold every event_id of the batch unless recovery re-read rows.
    buckets = set(stats.buckets) if recovery is None else None
    copies = classify(
        ctx,
        new,
        stats.valid_dts,
        indexed,
        has_rows=bool(stats.valid),
        buckets=buckets,
        rows=stats.valid if recovery is None else None,
    )
    ctx.echo(
        f"  {stats.valid} valid record(s): {copies.new_ids} new event_id(s), "
        f"{copies.duplicate_ids} already stored earlier"
    )
    marks, touched = copies.marks(), set(copies.dts)
    expected = copies.new_ids
    if recovery is not None:
        marks = marks.unionByName(recovery.marks)
        touched |= set(recovery.dts)
        expected += recovery.restored_ids - recovery.surplus
        metrics["recovered_change_sets"] = len(recovery.sets)
        metrics["lost_events_reread"] = recovery.restored_ids
        metrics["surplus_copies_removed"] = recovery.surplus
    metrics.update(_event_metrics(stats.valid, 0, 0))
    metrics["new_event_ids"] = copies.new_ids
    metrics["repeats_suppressed"] = 0
    ready = [cs.change_id for cs in recovery.sets] if recovery is not None else []
    if touched:
        # Rows of marks: the batch's valid rows and one stored copy per contested event_id.
        bound = None if recovery is not None else stats.valid + copies.contested_ids
        the_plan = plan(
            ctx, marks, sorted(touched), existing, marks_bound=bound, mark_rows=copies.mark_rows
        )
        ctx.echo(
            f"  touching {len(touched)} date(s); "
            f"read {len(the_plan.read)}, rewrite {len(the_plan.dts)}"
        )
        before = stored_rows(ctx, the_plan.dts, existing)
        change = changes.publish(
            lake,
            changes.new_change_id(),
            the_plan.dts,
            the_plan.ranges,
            [o.path for o in selection.chosen],
        )
        ranges = None if change.full else changes.read_ranges(spark, lake, [change])
        stored = stored_context(ctx, the_plan, ranges)
        result = recompute(ctx, copies.to_curate, ranges, stored)
        written = write_events(ctx, result.output, the_plan.dts)
        result.check()
        suppressed_after = before.suppressed
        if settings.repeat_window_seconds or set(the_plan.dts) & existing.suppressed:
            suppressed_after = write_suppressed(
                ctx, result.deduped, result.kept, ranges, the_plan.dts
            )
        result.release()
        # Rows after, from what is stored now (Parquet footers): a write that lost rows shows.
        after = stored_rows(ctx, the_plan.dts, existing_dates(ctx))
        if (after.events, after.suppressed) != (written.rows, suppressed_after):
            raise AccountingError(
                f"rows stored after the write ({after}) differ from rows written "
                f"(events {written.rows}, repeat_suppressed {suppressed_after})"
            )
        added = check_added(expected, before, after)
        changes.mark(lake, change.change_id, "events_written")
        if not indexed:
            event_index.build(spark, settings)
        else:
            committed = event_index.stored_copies(spark, settings, the_plan.dts)
            if recovery is None:
                committed = committed.join(copies.ids, "event_id", "left_semi")
            event_index.upsert(spark, settings, committed, buckets)
        metrics.update(_event_metrics(stats.valid, added.events, written.rows))
        metrics["repeats_suppressed"] = added.suppressed
        metrics["dates_read"] = len(the_plan.read)
        metrics["dates_rewritten"] = len(the_plan.dts)
        events = events_table(settings.promoted_fields)
        tables = (events, *tables)
        dts[events.name] = tuple(written.written)
        dropped[events.name] = tuple(written.dropped)
        ready.append(change.change_id)
        the_plan.release()
    copies.release()
    if parsed is not None:
        parsed.unpersist()

    def commit() -> bool:
        # Ready marks first: a crash between them and the bookmark only repeats this batch.
        for change_id in ready:
            changes.mark_ready(lake, change_id)
        return selection.commit()

    return JobOutcome(metrics=metrics, tables=tables, dts=dts, dropped=dropped, commit=commit)


def _zero_metrics() -> dict[str, object]:
    return {
        "objects": 0,
        "records_read": 0,
        "quarantined": 0,
        "quarantined_by_reason": {},
        **_event_metrics(0, 0, 0),
        "new_event_ids": 0,
        "repeats_suppressed": 0,
    }


def _event_metrics(valid: int, curated_new: int, written: int) -> dict[str, int]:
    return {
        "valid": valid,
        "curated": curated_new,
        "duplicates_removed": valid - curated_new,
        "event_rows_rewritten": written,
    }
