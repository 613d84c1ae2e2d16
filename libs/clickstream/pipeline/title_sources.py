"""What is new in the configured titles source, as a batch of changes, and its bookmark selection.

- csv: the files under ref/titles, when any is new, changed or gone, as a snapshot of this run;
- dms: new or changed AWS DMS files (every LOAD file when a reload arrived);
- jdbc: rows pulled since the watermark minus the overlap (Glue: Glue's JDBC bookmark).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import DataFrame

from clickstream.bookmarks import DISABLE, show
from clickstream.config import ConfigError, redacted_url
from clickstream.pipeline.context import JobContext, Selection
from clickstream.raw_objects import list_raw_objects
from clickstream.reference import change_log, dms_source, jdbc_source, title_quarantine
from clickstream.reference.csv_source import snapshot_changes
from clickstream.tables import QUARANTINE_TITLES, Table


@dataclass(frozen=True)
class Batch:
    """New changes of the source under a batch id, and its rows that are not changes (DMS)."""

    batch: str
    changes: DataFrame
    rejected: DataFrame | None = None


FILE_SET = "ref/titles/*"
JDBC_SOURCE, WATERMARK = "titles_jdbc", "watermark"


def pull(ctx: JobContext, job: str) -> tuple[Batch | None, Selection]:
    """The new changes of settings.titles_source (None: nothing new) and the selection to commit."""
    source = ctx.settings.titles_source
    if source == "jdbc":
        return pull_jdbc(ctx, job)
    if source == "dms":
        return pull_dms(ctx, job)
    return pull_csv(ctx, job)


def now_ms() -> datetime:
    """The current UTC time truncated to the millisecond."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def pull_csv(ctx: JobContext, job: str) -> tuple[Batch | None, Selection]:
    """The files present form the snapshot as of this run, when any is new, changed or gone."""
    spark, settings = ctx.spark, ctx.settings
    files = list_raw_objects(spark, settings.path("ref/titles"))
    present = {f.path: f"{f.size}:{f.modified_ms}" for f in files}
    snapshot = change_log.batch_id("csv", present)
    first = change_log.is_empty(spark, settings.lake)
    # Each file, and the set of files (so a file removed alone is a new snapshot too; Glue's
    # bookmark reports new or changed files only).
    selection = ctx.select(job, "ref_titles", {**present, FILE_SET: snapshot})
    if not files or not (selection.chosen or first):
        return None, selection
    # A snapshot already in the log (a retried run, a rebuild) keeps its time: never re-dated.
    # A new one is dated now, to the millisecond: titles_history.valid_from then reads the same
    # in Athena, which shows timestamps at millisecond precision (microseconds are rounded).
    as_of = change_log.batch_time(spark, settings.lake, snapshot) or now_ms()
    return Batch(snapshot, snapshot_changes(spark, sorted(present), as_of, snapshot)), selection


def pull_dms(ctx: JobContext, job: str) -> tuple[Batch | None, Selection]:
    """New or changed DMS files (all LOAD files when a reload arrived)."""
    spark, settings = ctx.spark, ctx.settings
    files = [f for f in list_raw_objects(spark, dms_path(ctx)) if dms_source.is_dms_file(f)]
    fingerprints = {f.path: f"{f.size}:{f.modified_ms}" for f in files}
    selection = ctx.select(job, "titles_dms", fingerprints)
    chosen = [p for p in selection.chosen if p in fingerprints]
    if change_log.is_empty(spark, settings.lake):
        chosen = sorted(fingerprints)
    if not chosen:
        return None, selection
    batch = change_log.batch_id("dms", {p: fingerprints[p] for p in chosen})
    plan = dms_source.plan_batch(files, chosen, batch)
    ctx.echo(f"  {len(chosen)} new DMS file(s) of {len(files)}")
    changes, rejected = dms_source.dms_changes(spark, plan), dms_source.dms_rejected(spark, plan)
    return Batch(batch, changes, rejected), selection


def quarantine(ctx: JobContext, pulled: Batch) -> tuple[dict[str, Any], tuple[Table, ...]]:
    """Keep the batch's rows that are not changes and republish quarantine_titles: the metrics
    for the run summary (rows quarantined, by reason) and the tables written."""
    if pulled.rejected is None:
        return {}, ()
    settings = ctx.settings
    by_reason = title_quarantine.keep(pulled.rejected, settings.lake, pulled.batch)
    metrics = {
        "titles_quarantined": sum(by_reason.values()),
        "titles_quarantined_by_reason": by_reason,
    }
    if not by_reason:
        return metrics, ()
    ctx.echo(
        f"  {metrics['titles_quarantined']} source row(s) are not changes, to {QUARANTINE_TITLES.name}: "
        + ", ".join(f"{n} {reason}" for reason, n in by_reason.items())
    )
    title_quarantine.publish(ctx.spark, settings.lake)
    return metrics, (QUARANTINE_TITLES,)


def dms_path(ctx: JobContext) -> str:
    """titles_dms_path: a full URI, or a folder under the lake root."""
    path = str(ctx.settings.titles_dms_path)
    return path.rstrip("/") if "://" in path else ctx.settings.path(path.strip("/"))


def pull_jdbc(ctx: JobContext, job: str) -> tuple[Batch | None, Selection]:
    """Rows since the watermark minus the overlap (Glue: those Glue's JDBC bookmark reports)."""
    spark, settings = ctx.spark, ctx.settings
    glue = getattr(ctx.inputs, "jdbc_frame", None)  # runtime/glue.py on Glue
    if glue is not None:
        rows, lower = glue(job, JDBC_SOURCE, settings), "Glue's bookmark"
        if not rows.columns:  # Glue's frame of no new rows may have no columns at all
            ctx.echo(f"  no rows of {settings.titles_jdbc_table} past Glue's bookmark")
            return None, Selection([])
    else:
        watermark = None
        if settings.bookmark_option != DISABLE:
            watermark = show(spark, settings.lake, job).get("processed", {}).get(WATERMARK)
        lower = jdbc_source.lower_bound(watermark, settings.titles_jdbc_overlap_minutes)
        rows = jdbc_source.read_titles_table(spark, settings, since=lower)
    # One read of the database for the watermark, the change log and the quarantine.
    key, table, since = settings.titles_jdbc_key, settings.titles_jdbc_table, lower or "the start"
    rows = rows.localCheckpoint()
    changes = jdbc_source.jdbc_changes(rows, key)
    # The URL without credentials: source_file is stored in quarantine_titles.
    source = (
        f"{redacted_url(settings.titles_jdbc_url) or settings.titles_jdbc_glue_connection}#{table}"
    )
    rejected = jdbc_source.jdbc_rejected(rows, key, source, datetime.now(UTC))
    top = jdbc_source.max_changed_at(changes)
    if top is None:
        if not rejected.isEmpty():
            raise ConfigError(
                f"titles_jdbc_key={key!r}: no pulled row of {table} has both a title_id and a "
                f"{key} value; the pull has nothing to date versions by"
            )
        ctx.echo(f"  no rows of {table} since {since}")
        return None, Selection([])
    ctx.echo(f"  pulled {table} rows from {since} to {top}")
    selection = ctx.select(job, JDBC_SOURCE, {WATERMARK: top})
    batch = change_log.batch_id("jdbc", {"from": lower or "", "to": top})
    return Batch(batch, changes, rejected), selection
