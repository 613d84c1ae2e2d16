"""load_titles: reference changes from the configured source to titles_history and titles.

1. Read what is new in the source (titles_source): the CSV snapshot when any of its files is new,
   changed or gone; new or changed AWS DMS files; rows pulled over JDBC since the watermark.
2. Append them to the change log (_state/titles/changes) and rebuild titles_history from the whole
   log (clickstream.transforms.title_history): the result does not depend on how the changes
   were batched into runs.
3. Find the windows in which an event's title changed (changed_windows) and, through the small
   title_id -> dt index, the dates with events in them. Re-enrich those dates' events (only
   title and genre change) and publish a change set for build_sessions and daily_active_users.
4. Write titles_history and titles last: a run that dies before finds the same difference again.
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from clickstream.pipeline import changes, title_sources
from clickstream.pipeline.context import JobContext, JobOutcome
from clickstream.reference import change_log, title_dates
from clickstream.tables import TITLES, TITLES_HISTORY, events_table
from clickstream.transforms import changed_windows, current_titles, enrich_events, title_history
from clickstream.writer import read_table, write_table

JOB = "load_titles"


def run(ctx: JobContext) -> JobOutcome:
    """Append the source's new changes to the log; rebuild history; re-enrich affected events."""
    spark, settings = ctx.spark, ctx.settings
    lake = settings.lake
    if not title_dates.exists(spark, lake):
        ctx.echo("  building the title_id -> dt index of curated events (once)")
        title_dates.build(spark, lake)
    pulled, selection = title_sources.pull(ctx, JOB)
    if pulled is None:
        ctx.echo(f"  no new {settings.titles_source} title changes")
        return JobOutcome(metrics={"titles": None}, commit=selection.commit)
    batch, rows = pulled.batch, pulled.changes
    quarantined, quarantine_tables = title_sources.quarantine(ctx, pulled)
    change_log.append(rows, lake, batch)
    history = title_history(change_log.read_log(spark, lake)).localCheckpoint()
    dts: list[str] = []
    if title_dates.indexed_dts(spark, lake):  # no curated events yet: nothing to re-enrich
        before = read_table(spark, lake, TITLES_HISTORY)
        windows = changed_windows(before, history).localCheckpoint()
        dts = title_dates.affected_dts(spark, lake, windows, settings.timezone)
    outcome_dts: dict[str, tuple[str, ...]] = {}
    tables = [TITLES_HISTORY, TITLES, *quarantine_tables]
    ready: list[str] = []
    if dts:
        ctx.echo(f"  title changes touch events of {len(dts)} date(s): re-enriching them")
        ctx.guard()
        change = changes.publish(lake, changes.new_change_id(), dts, _no_ranges(ctx))
        events = events_table(settings.promoted_fields)  # every column, promoted ones too
        stored = read_table(spark, lake, events, dts)
        # Written as curate_events writes events: its format (a Delta table gets one commit
        # replacing these dates) and its rebalance setting.
        write_table(
            enrich_events(stored, history).select(*stored.columns),
            lake,
            events,
            rebalance=settings.rebalance_events,
            table_format=settings.table_format,
            dts=dts,
        )
        changes.mark(lake, change.change_id, "events_written")
        ready.append(change.change_id)
        tables.append(events)
        outcome_dts[events.name] = tuple(dts)
    ctx.guard()
    write_table(history, lake, TITLES_HISTORY)
    titles = read_table(spark, lake, TITLES_HISTORY)
    write_table(current_titles(titles), lake, TITLES)
    metrics = {
        "titles": read_table(spark, lake, TITLES).count(),
        "title_versions": titles.count(),
        "event_dates_reenriched": len(dts),
        **quarantined,
    }
    ctx.echo(f"  {metrics['titles']} current title(s), {metrics['title_versions']} version(s)")

    def commit() -> bool:
        # The change set becomes ready (derived jobs read it) once the events are written.
        for change_id in ready:
            changes.mark_ready(lake, change_id)
        return selection.commit()

    return JobOutcome(metrics=metrics, tables=tuple(tables), dts=outcome_dts, commit=commit)


def _no_ranges(ctx: JobContext) -> DataFrame:
    """A change set without ranges to recompute: sessions stay, the dates' DAU is recomputed."""
    return ctx.spark.createDataFrame([], changes.RANGES_SCHEMA)
