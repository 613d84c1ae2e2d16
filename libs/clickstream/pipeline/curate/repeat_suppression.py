"""Repeat-suppressed events kept as state, so later runs see what a full run would."""

from __future__ import annotations

from pyspark.sql import DataFrame, Observation
from pyspark.sql import functions as F

from clickstream.observe import observed
from clickstream.pipeline.context import JobContext
from clickstream.pipeline.curate.partitions import drop_empty
from clickstream.pipeline.ranges import inside, outside
from clickstream.tables import EVENTS, Table
from clickstream.writer import dts_metric, observed_dts, read_table, table_schema, write_table

SUPPRESSED = Table("repeat_suppressed", "_state/repeat_suppressed", EVENTS.schema)


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
    suppressed = deduped.join(kept, "event_id", "left_anti")
    stored = None
    if ranges is not None:
        suppressed = inside(suppressed, ranges)
        stored = outside(read_table(spark, settings.lake, SUPPRESSED, dts), ranges)
    rows = (
        suppressed.withColumn("title", F.lit(None).cast("string"))
        .withColumn("genre", F.lit(None).cast("string"))
        .withColumn("session_id", F.lit(""))
        .select(*table_schema(SUPPRESSED).names)
    )
    if stored is not None:
        rows = stored.unionByName(rows)
    obs = Observation("suppressed")
    rows = rows.observe(obs, F.count(F.lit(1)).alias("rows"), dts_metric())
    write_table(rows, settings.lake, SUPPRESSED)
    drop_empty(spark, settings, SUPPRESSED, dts, observed_dts(obs))
    return int(observed(obs)["rows"])
