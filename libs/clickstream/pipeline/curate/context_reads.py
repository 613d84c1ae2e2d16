"""The stored rows a recompute needs: those it keeps as they are, and those it recomputes from."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame

from clickstream.pipeline.context import JobContext
from clickstream.pipeline.curate.parse_cache import event_columns
from clickstream.pipeline.curate.planning import Plan
from clickstream.pipeline.curate.repeat_suppression import suppressed_table
from clickstream.pipeline.ranges import inside, lookback_seconds, outside
from clickstream.tables import PARTITION_COLUMN, events_table
from clickstream.writer import read_table


@dataclass(frozen=True)
class StoredContext:
    """Stored events of the rewritten dates outside the ranges (kept as stored), and stored rows
    inside the ranges or one lookback of them (recomputed).

    Both None when the plan has no ranges: nothing near the new events is stored.
    """

    untouched: DataFrame | None = None
    context: DataFrame | None = None


def stored_context(ctx: JobContext, plan: Plan, ranges: DataFrame | None) -> StoredContext:
    """Read the stored events the ranges (as published) touch, and those they leave alone."""
    if ranges is None:
        return StoredContext()
    spark, lake = ctx.spark, ctx.settings.lake
    promoted = ctx.settings.promoted_fields
    events, suppressed = events_table(promoted), suppressed_table(promoted)
    untouched = outside(read_table(spark, lake, events, plan.dts), ranges)
    # Stored events (curated and repeat-suppressed) inside the ranges, and within one lookback
    # of them as context for dedup and repeat suppression.
    universe = read_table(spark, lake, events, plan.read).unionByName(
        read_table(spark, lake, suppressed, plan.read)
    )
    context = inside(universe, ranges, margin_s=lookback_seconds(ctx.settings))
    return StoredContext(untouched, context.select(*event_columns(ctx.settings), PARTITION_COLUMN))
