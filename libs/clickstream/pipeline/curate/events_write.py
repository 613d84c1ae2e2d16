"""Overwrite the rewritten dates of the events table (dynamic partition overwrite), and keep the
title_id -> dt index in step with them."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, Observation
from pyspark.sql import functions as F

from clickstream.observe import observed
from clickstream.pipeline.context import JobContext
from clickstream.pipeline.curate.partitions import drop_empty
from clickstream.reference import title_dates
from clickstream.tables import events_table
from clickstream.writer import dts_metric, observed_dts, write_table


@dataclass(frozen=True)
class EventsWrite:
    """Rows written, the partitions written and those the rewrite left empty (deleted)."""

    rows: int
    written: list[str]
    dropped: list[str]


def write_events(ctx: JobContext, output: DataFrame, dts: list[str]) -> EventsWrite:
    """Write output over the dates dts (rows counted while written); delete dates left empty."""
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
    return EventsWrite(int(observed(obs)["rows"]), written, dropped)
