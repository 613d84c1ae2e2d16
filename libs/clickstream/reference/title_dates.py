"""A small title_id -> dt index of curated events, so a title change finds its dates without
scanning events.

curate_events records, for every dt it rewrites, the distinct title_ids of the events written
there (observed during the events write: no extra pass). load_titles joins the index with the
windows in which a title's enrichment changed, keeping the dates whose day overlaps a window.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from clickstream import fs
from clickstream.tables import EVENTS, PARTITION_COLUMN, Table
from clickstream.writer import read_table, stored_dts, write_table

METRIC = "title_dts"
INDEX = Table(
    "title_dates",
    "_state/titles/title_dates",
    StructType([StructField("title_id", StringType(), False)]),
    description="Distinct title_ids of the curated events of each dt",
)


def pairs_metric() -> Column:
    """Observed metric: the distinct (dt, title_id) pairs of a write as JSON (Observation can't
    return arrays); null title_ids skipped."""
    pair = F.when(F.col("title_id").isNotNull(), F.array(PARTITION_COLUMN, "title_id"))
    return F.to_json(F.collect_set(pair)).alias(METRIC)


def observed_pairs(metrics: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (dt, title_id) pairs recorded by pairs_metric()."""
    return [(dt, title_id) for dt, title_id in json.loads(metrics[METRIC] or "[]")]


def record(
    spark: SparkSession, lake: str, pairs: Iterable[tuple[str, str]], dts: Iterable[str]
) -> None:
    """Replace the index partitions of dts with the given (dt, title_id) pairs."""
    rows = sorted(set(pairs))
    rewritten = sorted(set(dts))
    if not rewritten or not exists(spark, lake):
        return
    if rows:
        frame = spark.createDataFrame(rows, f"{PARTITION_COLUMN} string, title_id string")
        write_table(frame, lake, INDEX)
    covered = {dt for dt, _ in rows}
    for dt in rewritten:
        if dt not in covered:
            fs.delete(spark, f"{lake}/{INDEX.location}/{PARTITION_COLUMN}={dt}")


def add(spark: SparkSession, lake: str, pairs: Iterable[tuple[str, str]]) -> None:
    """Add (dt, title_id) pairs to the index, keeping those of the dates already there (an
    events write that added rows to dates without rewriting them). A row deleted since leaves
    its pair: the index may name a date a title no longer has, never miss one."""
    rows = sorted(set(pairs))
    if not rows or not exists(spark, lake):
        return
    dts = sorted({dt for dt, _ in rows})
    frame = spark.createDataFrame(rows, f"{PARTITION_COLUMN} string, title_id string")
    stored = read_table(spark, lake, INDEX, dts).select(PARTITION_COLUMN, "title_id")
    merged = [(r[0], r[1]) for r in stored.unionByName(frame).distinct().collect()]
    write_table(
        spark.createDataFrame(merged, f"{PARTITION_COLUMN} string, title_id string"), lake, INDEX
    )


def exists(spark: SparkSession, lake: str) -> bool:
    """Whether the index was built (it is built once, then kept by every events write)."""
    return fs.exists(spark, f"{lake}/{INDEX.location}/_BUILT")


def build(spark: SparkSession, lake: str) -> None:
    """Build the index from all curated events, once (lakes curated before the index existed);
    a lake without curated events (a first run) only gets the mark: no Spark job."""
    if stored_dts(spark, lake, EVENTS):
        events = read_table(spark, lake, EVENTS)
        pairs = events.where(F.col("title_id").isNotNull()).select(PARTITION_COLUMN, "title_id")
        write_table(pairs.distinct(), lake, INDEX)
    fs.write_text(spark, f"{lake}/{INDEX.location}/_BUILT", "")


def indexed_dts(spark: SparkSession, lake: str) -> list[str]:
    """The dates the index holds titles for (a listing: no data read)."""
    prefix = f"{PARTITION_COLUMN}="
    names = fs.list_names(spark, f"{lake}/{INDEX.location}")
    return [n[len(prefix) :] for n in names if n.startswith(prefix)]


def affected_dts(spark: SparkSession, lake: str, windows: DataFrame, timezone: str) -> list[str]:
    """Dates holding events of a title whose window (title_id, window_start, window_end; null =
    unbounded) overlaps that date's day in `timezone`."""
    index = read_table(spark, lake, INDEX)
    day_start = F.to_utc_timestamp(F.to_timestamp(F.col(PARTITION_COLUMN)), timezone)
    next_day = F.date_add(F.to_date(F.col(PARTITION_COLUMN)), 1)
    day_end = F.to_utc_timestamp(F.to_timestamp(next_day), timezone)
    overlaps = (F.col("window_start").isNull() | (F.col("window_start") < day_end)) & (
        F.col("window_end").isNull() | (F.col("window_end") > day_start)
    )
    rows = (
        index.join(F.broadcast(windows), "title_id")
        .where(overlaps)
        .select(PARTITION_COLUMN)
        .distinct()
        .collect()
    )
    return sorted(r[PARTITION_COLUMN] for r in rows)
