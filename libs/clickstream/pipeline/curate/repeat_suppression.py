"""Repeat-suppressed events kept as state, so later runs see what a full run would."""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame, Observation
from pyspark.sql import functions as F

from clickstream.observe import observed
from clickstream.pipeline.context import JobContext
from clickstream.pipeline.curate.partitions import drop_empty
from clickstream.pipeline.ranges import inside, outside
from clickstream.tables import EVENTS, Table, events_table
from clickstream.writer import dts_metric, observed_dts, read_table, table_schema, write_table

SUPPRESSED = Table("repeat_suppressed", "_state/repeat_suppressed", EVENTS.schema)


def suppressed_table(promoted: Mapping[str, str]) -> Table:
    """SUPPRESSED with the events columns of these promoted fields (a suppressed event may be
    curated again by a later batch, whole)."""
    return Table(SUPPRESSED.name, SUPPRESSED.location, events_table(promoted).schema)


def write_suppressed(
    ctx: JobContext,
    deduped: DataFrame,
    kept: DataFrame,
    ranges: DataFrame | None,
    dts: list[str],
) -> int:
    """Store the rows repeat suppression dropped (deduped minus kept) on dts: inside the ranges
    they replace the stored ones, outside them the stored ones stay. Returns the rows now on dts
    (counted while written)."""
    spark, settings = ctx.spark, ctx.settings
    table = suppressed_table(settings.promoted_fields)
    suppressed = deduped.join(kept, "event_id", "left_anti")
    stored = None
    if ranges is not None:
        suppressed = inside(suppressed, ranges)
        stored = outside(read_table(spark, settings.lake, table, dts), ranges)
    rows = (
        suppressed.withColumn("title", F.lit(None).cast("string"))
        .withColumn("genre", F.lit(None).cast("string"))
        .withColumn("session_id", F.lit(""))
        .select(*table_schema(table).names)
    )
    if stored is not None:
        rows = stored.unionByName(rows)
    obs = Observation("suppressed")
    rows = rows.observe(obs, F.count(F.lit(1)).alias("rows"), dts_metric())
    ctx.guard()
    write_table(rows, settings.lake, table)
    drop_empty(spark, settings, table, dts, observed_dts(obs))
    return int(observed(obs)["rows"])
