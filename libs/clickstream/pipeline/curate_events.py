"""curate_events: new raw Firehose objects to deduplicated, enriched, sessionized events.

Every run, the first included, is incremental. The steps (clickstream.pipeline.curate):
1. selection: the raw objects the bookmark has not seen.
2. parse_cache: parse them once, cached; count records by reason and valid date.
3. quarantine: rejected records to quarantine, replacing those of the same objects.
4. planning: per affected user, the ranges of time the new events can change (the stored
   sessions within one lookback of a new event, and the new events; clickstream.pipeline.ranges),
   and the dates to read and rewrite. With nothing stored near the new events, all is new.
5. changes: publish a change set (the dates rewritten and the ranges) for build_sessions and
   daily_active_users, before writing: a run that dies while writing still leaves its record.
6. context_reads: the stored rows inside the ranges (recomputed) and outside them (kept).
7. recompute: dedup with the stored copies (a re-delivered event is not curated twice),
   suppress repeats, enrich, sessionize. Every row outside the ranges stays as stored.
8. events_write: overwrite the rewritten dates (dynamic partition overwrite).
9. repeat_suppression: store the suppressed rows, so later runs see what a full run would.
The runner commits the bookmark afterwards.
"""

from __future__ import annotations

from typing import Any

from clickstream.pipeline import changes
from clickstream.pipeline.context import JobContext, JobOutcome
from clickstream.pipeline.curate.context_reads import stored_context
from clickstream.pipeline.curate.events_write import write_events
from clickstream.pipeline.curate.parse_cache import cached_parse, parse_stats, valid_events
from clickstream.pipeline.curate.planning import existing_dates, plan
from clickstream.pipeline.curate.quarantine import write_quarantine
from clickstream.pipeline.curate.recompute import recompute
from clickstream.pipeline.curate.repeat_suppression import write_suppressed
from clickstream.pipeline.curate.selection import select_raw_objects
from clickstream.tables import EVENTS, QUARANTINE

JOB = "curate_events"


def run(ctx: JobContext) -> JobOutcome:
    """Curate the raw objects the bookmark selects into events, quarantine and a change set."""
    selection = select_raw_objects(ctx, JOB)
    ctx.echo(f"  {len(selection.chosen)} new raw object(s) of {selection.available}")
    if not selection.chosen:
        return JobOutcome(metrics=_zero_metrics(), commit=selection.commit)

    existing = existing_dates(ctx)
    parsed = cached_parse(ctx, selection.chosen, by_event_id=existing.empty)
    stats = parse_stats(parsed)
    quarantine = write_quarantine(ctx, parsed, selection.chosen)
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
    q_dts = {QUARANTINE.name: tuple(quarantine.written)}
    q_dropped = {QUARANTINE.name: tuple(quarantine.dropped)}
    if stats.valid == 0:
        parsed.unpersist()
        return JobOutcome(
            metrics={**metrics, **_event_metrics(0, 0, 0)},
            tables=(QUARANTINE,),
            dts=q_dts,
            dropped=q_dropped,
            commit=selection.commit,
        )

    lake = ctx.settings.lake
    new = valid_events(parsed)
    the_plan = plan(ctx, new, stats.valid_dts, existing)
    ctx.echo(
        f"  {stats.valid} valid record(s) touching {len(stats.valid_dts)} date(s); "
        f"read {len(the_plan.read)}, rewrite {len(the_plan.dts)}"
    )
    change = changes.publish(lake, changes.new_change_id(), the_plan.dts, the_plan.ranges)
    ranges = None if change.full else changes.read_ranges(ctx.spark, lake, [change])
    stored = stored_context(ctx, the_plan, ranges)
    result = recompute(ctx, new, ranges, stored)
    written = write_events(ctx, result.output, the_plan.dts)
    result.check()
    if ctx.settings.repeat_window_seconds or set(the_plan.dts) & existing.suppressed:
        write_suppressed(ctx, result.deduped, result.kept, ranges, the_plan.dts)
    result.release()

    curated_new = written.rows - stored.rows_before
    metrics.update(_event_metrics(stats.valid, curated_new, written.rows))
    metrics["dates_read"] = len(the_plan.read)
    metrics["dates_rewritten"] = len(the_plan.dts)
    if (
        stats.read != curated_new + metrics["duplicates_removed"] + quarantine.rows
        or curated_new < 0
    ):
        raise AssertionError(f"accounting does not balance: {metrics}")
    the_plan.release()
    parsed.unpersist()
    return JobOutcome(
        metrics=metrics,
        tables=(EVENTS, QUARANTINE),
        dts={EVENTS.name: tuple(written.written), **q_dts},
        dropped={EVENTS.name: tuple(written.dropped), **q_dropped},
        commit=selection.commit,
    )


def _zero_metrics() -> dict[str, object]:
    return {
        "objects": 0,
        "records_read": 0,
        "quarantined": 0,
        "quarantined_by_reason": {},
        **_event_metrics(0, 0, 0),
    }


def _event_metrics(valid: int, curated_new: int, written: int) -> dict[str, int]:
    return {
        "valid": valid,
        "curated": curated_new,
        "duplicates_removed": valid - curated_new,
        "event_rows_rewritten": written,
    }
