"""Rejected records to the quarantine table, in the arrival-date partitions of their objects.

A quarantine write replaces whole arrival dates, keeping the stored rows of other objects. With
Parquet, a crash between deleting a date's old files and moving in the new ones would lose those
other objects' rows. So the write records its dates first (_state/quarantine_intent.json) and
removes the record once done. The next curate run finding the record rebuilds those dates from
every raw object that arrived on them (the dates are the objects' arrival dates).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pyspark.sql import DataFrame, Observation
from pyspark.sql import functions as F

from clickstream.firehose_reader import split_valid
from clickstream.observe import observed
from clickstream.pipeline.context import JobContext
from clickstream.pipeline.curate.parse_cache import parse
from clickstream.pipeline.curate.partitions import drop_empty, partition_dts
from clickstream.raw_objects import RawObject, ingested_at_of
from clickstream.state_store import store_for, write_pointer
from clickstream.tables import PARTITION_COLUMN, QUARANTINE
from clickstream.writer import dts_metric, observed_dts, read_table, write_table


@dataclass(frozen=True)
class QuarantineWrite:
    """Rows written for the chosen objects, partitions written and partitions left empty."""

    rows: int
    written: list[str]
    dropped: list[str]


def write_quarantine(
    ctx: JobContext, parsed: DataFrame, chosen: list[RawObject], rejected_rows: int | None = None
) -> QuarantineWrite:
    """Replace the quarantine rows of the chosen objects in their arrival-date partitions.

    rejected_rows, when known (the parse's count), lets a batch without rejected records skip
    the write when no partition is stored on those dates: no earlier rows of its objects exist.
    """
    spark, settings = ctx.spark, ctx.settings
    _, rejected = split_valid(parsed)
    dts = sorted({_arrival_date(o) for o in chosen})
    stored = sorted(set(dts) & partition_dts(spark, settings, QUARANTINE))
    if rejected_rows == 0 and not stored:
        return QuarantineWrite(0, [], [])
    store = store_for(settings.lake)
    ctx.guard()
    write_pointer(store, INTENT, json.dumps({"dts": dts}))  # before anything is replaced
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
    store.delete(INTENT)
    return QuarantineWrite(int(observed(new_obs)["rows"]), written, dropped)


INTENT = "_state/quarantine_intent.json"


def _arrival_date(obj: RawObject) -> str:
    return ingested_at_of(obj.path, obj.modified_ms).date().isoformat()


def interrupted_dates(ctx: JobContext) -> list[str]:
    """The dates of a quarantine write a crashed run left unfinished (none when there is none)."""
    found = store_for(ctx.settings.lake).read(INTENT)
    return list(json.loads(found.text)["dts"]) if found else []


def rebuild_dates(
    ctx: JobContext, dts: list[str], objects: dict[str, RawObject]
) -> QuarantineWrite:
    """Rewrite the quarantine of dts from every raw object that arrived on them."""
    arrived = [o for o in objects.values() if _arrival_date(o) in set(dts)]
    ctx.echo(
        f"  rebuilding the quarantine of {len(dts)} date(s) an interrupted write left, "
        f"from {len(arrived)} raw object(s)"
    )
    if not arrived:  # nothing arrived on those dates any more: nothing to keep there
        store_for(ctx.settings.lake).delete(INTENT)
        return QuarantineWrite(0, [], [])
    return write_quarantine(ctx, parse(ctx, arrived), arrived)
