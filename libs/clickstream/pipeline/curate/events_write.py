"""Write events: whole dates (dynamic partition overwrite, or Delta replaceWhere) or only the rows
that changed (clickstream.row_writes), keeping the title_id -> dt index in step."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, Observation
from pyspark.sql import functions as F

from clickstream.observe import observed
from clickstream.pipeline.context import JobContext
from clickstream.pipeline.curate.changed_rows import RowChanges
from clickstream.pipeline.curate.context_reads import DERIVED
from clickstream.pipeline.curate.partitions import drop_empty
from clickstream.reference import title_dates
from clickstream.row_writes import write_changed_rows
from clickstream.tables import events_table
from clickstream.writer import dts_metric, format_of, observed_dts, write_table

# A user's rows sit together in a date's files: a change rewrites few of them.
CLUSTER_BY = ("user_id", "event_time")


@dataclass(frozen=True)
class EventsWrite:
    """Rows written, rows the write removed (the dates' rows before, for a whole-date rewrite;
    those of the rewritten files, or deleted by Delta, otherwise), the partitions written and
    those the write left empty (deleted)."""

    rows: int
    written: list[str]
    dropped: list[str]
    removed: int = 0


def write_events(
    ctx: JobContext, output: DataFrame, dts: list[str], removed: int = 0
) -> EventsWrite:
    """Write output over the dates dts (rows counted while written); delete dates left empty.
    removed: the rows the dates held before (all replaced)."""
    spark, settings = ctx.spark, ctx.settings
    obs = Observation("written")
    ctx.guard()
    output = output.observe(
        obs, F.count(F.lit(1)).alias("rows"), dts_metric(), title_dates.pairs_metric()
    )
    write_table(
        output,
        settings.lake,
        events_table(settings.promoted_fields),
        rebalance=settings.rebalance_events,
        table_format=settings.table_format,
        dts=dts,
    )
    written = observed_dts(obs)
    dropped = drop_empty(spark, settings, events_table(settings.promoted_fields), dts, written)
    # The title_id -> dt index (clickstream.reference.title_dates) follows every events write.
    title_dates.record(spark, settings.lake, title_dates.observed_pairs(observed(obs)), dts)
    return EventsWrite(int(observed(obs)["rows"]), written, dropped, removed)


def write_changed_events(ctx: JobContext, changes: RowChanges) -> EventsWrite:
    """Write only what changed (changed_rows): new rows added, files holding an updated or
    deleted row rewritten (Delta: an append or one MERGE)."""
    settings = ctx.settings
    table = events_table(settings.promoted_fields)
    ctx.guard()
    written, seen = write_changed_rows(
        table,
        settings.path(table.location),
        settings.lake,
        new=changes.new,
        updated=changes.updated,
        deleted=changes.deleted,
        key="event_id",
        set_columns=DERIVED,
        files=changes.files,
        touched_dts=changes.touched_dts,
        table_format=format_of(table, settings.table_format),
        cluster_by=CLUSTER_BY,
        metrics=[title_dates.pairs_metric()],
    )
    title_dates.add(ctx.spark, settings.lake, title_dates.observed_pairs(seen))
    return EventsWrite(written.rows, written.written, written.emptied, written.removed)
