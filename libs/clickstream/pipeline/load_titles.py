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

from datetime import UTC, datetime

from pyspark.sql import DataFrame

from clickstream.pipeline import changes
from clickstream.pipeline.context import JobContext, JobOutcome, Selection
from clickstream.raw_objects import list_raw_objects
from clickstream.reference import change_log, dms_source, event_index
from clickstream.reference.csv_source import read_titles_csv, snapshot_changes
from clickstream.tables import EVENTS, TITLES, TITLES_HISTORY
from clickstream.transforms import changed_windows, current_titles, enrich_events, title_history
from clickstream.writer import read_table, write_table

JOB = "load_titles"
__all__ = ["JOB", "read_titles_csv", "run"]


def run(ctx: JobContext) -> JobOutcome:
    """Append the source's new changes to the log; rebuild history; re-enrich affected events."""
    spark, settings = ctx.spark, ctx.settings
    lake = settings.lake
    if not event_index.exists(spark, lake):
        ctx.echo("  building the title_id -> dt index of curated events (once)")
        event_index.build(spark, lake)
    pulled, selection = _pull(ctx)
    if pulled is None:
        ctx.echo(f"  no new {settings.titles_source} title changes")
        return JobOutcome(metrics={"titles": None}, commit=selection.commit)
    batch, rows = pulled
    change_log.append(rows, lake, batch)
    history = title_history(change_log.read_log(spark, lake)).localCheckpoint()
    before = read_table(spark, lake, TITLES_HISTORY)
    windows = changed_windows(before, history).localCheckpoint()
    dts = event_index.affected_dts(spark, lake, windows, settings.timezone)
    outcome_dts: dict[str, tuple[str, ...]] = {}
    tables = [TITLES_HISTORY, TITLES]
    if dts:
        ctx.echo(f"  title changes touch events of {len(dts)} date(s): re-enriching them")
        changes.publish(lake, changes.new_change_id(), dts, _no_ranges(ctx))
        stored = read_table(spark, lake, EVENTS, dts)
        write_table(
            enrich_events(stored, history).select(*stored.columns),
            lake,
            EVENTS,
            target_file_mb=settings.target_file_mb,
        )
        tables.append(EVENTS)
        outcome_dts[EVENTS.name] = tuple(dts)
    write_table(history, lake, TITLES_HISTORY, target_file_mb=settings.target_file_mb)
    titles = read_table(spark, lake, TITLES_HISTORY)
    write_table(current_titles(titles), lake, TITLES, target_file_mb=settings.target_file_mb)
    metrics = {
        "titles": read_table(spark, lake, TITLES).count(),
        "title_versions": titles.count(),
        "event_dates_reenriched": len(dts),
    }
    ctx.echo(f"  {metrics['titles']} current title(s), {metrics['title_versions']} version(s)")
    return JobOutcome(
        metrics=metrics, tables=tuple(tables), dts=outcome_dts, commit=selection.commit
    )


def _pull(ctx: JobContext) -> tuple[tuple[str, DataFrame] | None, Selection]:
    """(batch id, changes) new in the configured source, or None; and the bookmark selection."""
    source = ctx.settings.titles_source
    if source == "jdbc":
        from clickstream.reference import jdbc_source

        return jdbc_source.pull(ctx, JOB)
    if source == "dms":
        return _pull_dms(ctx)
    return _pull_csv(ctx)


def _pull_csv(ctx: JobContext) -> tuple[tuple[str, DataFrame] | None, Selection]:
    """The files present form the snapshot as of this run, when any is new, changed or gone."""
    spark, settings = ctx.spark, ctx.settings
    files = list_raw_objects(spark, settings.path("ref/titles"))
    present = {f.path: f"{f.size}:{f.modified_ms}" for f in files}
    # The snapshot is the set of files: one candidate whose fingerprint is all of theirs.
    snapshot = change_log.batch_id("csv", present)
    first = change_log.is_empty(spark, settings.lake)
    selection = ctx.select(JOB, "ref_titles", {"snapshot": snapshot})
    if not files or not (selection.chosen or first):
        return None, selection
    as_of = datetime.now(UTC)
    return (snapshot, snapshot_changes(spark, sorted(present), as_of, snapshot)), selection


def _pull_dms(ctx: JobContext) -> tuple[tuple[str, DataFrame] | None, Selection]:
    """New or changed DMS files (all LOAD files when a reload arrived)."""
    spark, settings = ctx.spark, ctx.settings
    files = [f for f in list_raw_objects(spark, dms_path(ctx)) if dms_source.is_dms_file(f)]
    fingerprints = {f.path: f"{f.size}:{f.modified_ms}" for f in files}
    selection = ctx.select(JOB, "titles_dms", fingerprints)
    chosen = [p for p in selection.chosen if p in fingerprints]
    if change_log.is_empty(spark, settings.lake):
        chosen = sorted(fingerprints)
    if not chosen:
        return None, selection
    batch = change_log.batch_id("dms", {p: fingerprints[p] for p in chosen})
    plan = dms_source.plan_batch(files, chosen, batch)
    ctx.echo(f"  {len(chosen)} new DMS file(s) of {len(files)}")
    return (batch, dms_source.dms_changes(spark, plan)), selection


def dms_path(ctx: JobContext) -> str:
    """titles_dms_path: a full URI, or a folder under the lake root."""
    path = str(ctx.settings.titles_dms_path)
    return path.rstrip("/") if "://" in path else ctx.settings.path(path.strip("/"))


def _no_ranges(ctx: JobContext) -> DataFrame:
    """A change set without ranges to recompute: sessions stay, the dates' DAU is recomputed."""
    return ctx.spark.createDataFrame([], changes.RANGES_SCHEMA)
