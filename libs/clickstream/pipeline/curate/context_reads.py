"""The stored rows a recompute needs: those it recomputes from, and (whole-date rewrites) those
it keeps as they are.

Two ways to write what a batch changed (curate_events):
- whole dates (a recovery, and a first write of dates nothing was stored near): the rewritten
  dates' stored rows outside the ranges are kept as stored (untouched), those inside the ranges
  and within one lookback of them are recomputed (context);
- only what changed (every other run): nothing outside the ranges is read. The events inside
  the ranges (and one lookback around them) are read narrow, without properties and promoted
  fields, the widest columns by far, with the file each lives in (FILE): a row whose copy
  stays the kept one keeps its stored wide columns, which only a rewrite of its file reads
  (changed_rows). Their stored title, genre and session_id stay too (stored_in), to compare
  with the recomputed ones. With repeat suppression on, the rows are read whole: an event that
  becomes a repeat moves to repeat_suppressed with every column.

A narrow stored row enters dedup with nulls for the wide columns. Its copy competes only with
copies of a later or equal (ingested_at, source_file); an equal one is the same record of the
same object read again (identical), so whichever wins, the columns kept are the stored ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from clickstream.pipeline.context import JobContext
from clickstream.pipeline.curate.parse_cache import event_columns
from clickstream.pipeline.curate.planning import Plan
from clickstream.pipeline.curate.repeat_suppression import suppressed_table
from clickstream.pipeline.ranges import inside, lookback_seconds, outside
from clickstream.tables import PARTITION_COLUMN, events_table
from clickstream.writer import read_table, with_file_path

# On the only-what-changed path, every row carries where it came from.
STORED = "_stored"  # true: read from the events table (false: the batch, repeat_suppressed)
FILE = "_file"  # the Parquet file a stored row lives in (null otherwise, and for Delta)
DERIVED = ("title", "genre", "session_id")
# The columns dropped from a narrow read: filled with nulls until a file rewrite reads them.
WIDE = ("properties",)


@dataclass(frozen=True)
class StoredContext:
    """Stored rows for a recompute; all None when the plan has no ranges (nothing stored near).

    untouched: whole-date path, the rewritten dates' rows outside the ranges (kept as stored).
    context: the rows recomputed from (with STORED and FILE on the only-what-changed path).
    stored_in: only-what-changed path, the events rows inside the ranges (event_id, DERIVED, dt,
    FILE), cached: what the recomputed rows are compared with.
    """

    untouched: DataFrame | None = None
    context: DataFrame | None = None
    stored_in: DataFrame | None = None
    cached: DataFrame | None = None

    def release(self) -> None:
        """Drop the cached stored rows."""
        if self.cached is not None:
            self.cached.unpersist()


def stored_context(
    ctx: JobContext, plan: Plan, ranges: DataFrame | None, *, whole_dates: bool
) -> StoredContext:
    """Read the stored rows the ranges (as published) touch; with whole_dates also those they
    leave alone (see the module docstring)."""
    if ranges is None:
        return StoredContext()
    spark, settings = ctx.spark, ctx.settings
    events, suppressed = (
        events_table(settings.promoted_fields),
        suppressed_table(settings.promoted_fields),
    )
    margin = lookback_seconds(settings)
    columns = [*event_columns(settings), PARTITION_COLUMN]
    if whole_dates:
        untouched = outside(read_table(spark, settings.lake, events, plan.dts), ranges)
        # Stored events (curated and repeat-suppressed) inside the ranges, and within one
        # lookback of them as context for dedup and repeat suppression.
        universe = read_table(spark, settings.lake, events, plan.read).unionByName(
            read_table(spark, settings.lake, suppressed, plan.read)
        )
        return StoredContext(untouched, inside(universe, ranges, margin_s=margin).select(*columns))
    stored = read_table(spark, settings.lake, events, plan.read)
    narrow = not settings.repeat_window_seconds
    wide = [c for c in event_columns(settings) if c in WIDE or c in settings.promoted_fields]
    kept = [c for c in stored.columns if not (narrow and c in wide)]
    # The file of each row (Parquet; a Delta MERGE finds its files itself).
    stored = with_file_path(stored, FILE).select(*kept, FILE)
    cached = inside(stored, ranges, margin_s=margin).persist()
    stored_in = inside(cached, ranges).select("event_id", *DERIVED, PARTITION_COLUMN, FILE)
    placeholders = {c: F.lit(None).cast(events.schema[c].dataType) for c in wide if narrow}
    recomputed_from = cached.select(
        *(placeholders.get(c, F.col(c)).alias(c) for c in columns),
        F.lit(True).alias(STORED),
        FILE,
    )
    repeats = inside(
        read_table(spark, settings.lake, suppressed, plan.read), ranges, margin_s=margin
    )
    context = recomputed_from.unionByName(batch_origin(repeats.select(*columns)))
    return StoredContext(None, context, stored_in, cached)


def batch_origin(rows: DataFrame) -> DataFrame:
    """Rows that do not come from the events table: STORED false, no FILE."""
    return rows.withColumn(STORED, F.lit(False)).withColumn(FILE, F.lit(None).cast("string"))
