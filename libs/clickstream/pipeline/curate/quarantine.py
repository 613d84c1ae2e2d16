"""Rejected records to the quarantine table, in the arrival-date partitions of their objects."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, Observation
from pyspark.sql import functions as F

from clickstream.firehose_reader import split_valid
from clickstream.observe import observed
from clickstream.pipeline.context import JobContext
from clickstream.pipeline.curate.partitions import drop_empty, partition_dts
from clickstream.raw_objects import RawObject, ingested_at_of
from clickstream.tables import PARTITION_COLUMN, QUARANTINE
from clickstream.writer import dts_metric, observed_dts, read_table, write_table


@dataclass(frozen=True)
class QuarantineWrite:
    """Rows written for the chosen objects, partitions written and partitions left empty."""

    rows: int
    written: list[str]
    dropped: list[str]


def write_quarantine(
    ctx: JobContext, parsed: DataFrame, chosen: list[RawObject]
) -> QuarantineWrite:
    """Replace the quarantine rows of the chosen objects in their arrival-date partitions."""
    spark, settings = ctx.spark, ctx.settings
    _, rejected = split_valid(parsed)
    dts = sorted({ingested_at_of(o.path, o.modified_ms).date().isoformat() for o in chosen})
    stored = sorted(set(dts) & partition_dts(spark, settings, QUARANTINE))
    new_obs, all_obs = Observation("quarantine_new"), Observation("quarantine_all")
    arrival = F.date_format("ingested_at", "yyyy-MM-dd")  # UTC, like the raw zone's folders
    rows = rejected.withColumn(PARTITION_COLUMN, arrival).observe(
        new_obs, F.count(F.lit(1)).alias("rows")
    )
    if stored:  # keep the stored rows of other objects (a re-run replaces its own)
        keep = read_table(spark, settings.lake, QUARANTINE, stored)
        sources = spark.createDataFrame([(o.path,) for o in chosen], "source_file string")
        keep = keep.join(F.broadcast(sources), "source_file", "left_anti")
        rows = keep.unionByName(rows)
    rows = rows.observe(all_obs, dts_metric())
    write_table(
        rows,
        settings.lake,
        QUARANTINE,
        table_format=settings.table_format,
        dts=dts,
    )
    written = observed_dts(all_obs)
    dropped = drop_empty(spark, settings, QUARANTINE, dts, written)
    return QuarantineWrite(int(observed(new_obs)["rows"]), written, dropped)
