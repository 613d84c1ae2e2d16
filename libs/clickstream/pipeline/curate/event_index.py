"""The event_id index: every event_id ever curated or repeat-suppressed, and where its copy is.

One row per event_id with what choosing the kept copy needs: ingested_at and source_file (the
first two tie rules of dedup) and dt (the date of the stored copy). Hash-bucketed by event_id
(<lake>/_state/event_index/bucket=NNN/), so a batch's lookup reads the event_id column of the
buckets its ids fall in, and an update rewrites those buckets only.

The index is derived from the events and repeat-suppressed tables: a run refreshes it from the
rows it committed, and a lake that has none (or a broken one) gets it rebuilt from both tables.
"""

from __future__ import annotations

import json

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, StringType, StructField, StructType, TimestampType

from clickstream import fs
from clickstream.config import Settings
from clickstream.pipeline.curate.repeat_suppression import SUPPRESSED
from clickstream.state_store import store_for
from clickstream.tables import EVENTS, PARTITION_COLUMN
from clickstream.writer import read_table

BUCKETS = 64
LOCATION = "_state/event_index"
# Written (once) after the first complete build; its absence means "build from the tables".
MARKER = "_state/event_index.json"
BUCKET = "bucket"
COLUMNS = ("event_id", "ingested_at", "source_file", PARTITION_COLUMN)
SCHEMA = StructType(
    [
        StructField("event_id", StringType(), False),
        StructField("ingested_at", TimestampType(), False),
        StructField("source_file", StringType(), False),
        StructField(PARTITION_COLUMN, StringType(), False),
        StructField(BUCKET, IntegerType(), False),
    ]
)


def bucket_of(event_id: Column) -> Column:
    """The index bucket of an event_id."""
    return F.pmod(F.xxhash64(event_id), F.lit(BUCKETS)).cast("int")


def bucket_bit(column: str) -> Column:
    """1 << (the bucket of the event_id in column), a long: bit_or over rows gives their buckets."""
    return F.expr(f"shiftleft(1L, CAST(pmod(xxhash64(`{column}`), {BUCKETS}) AS INT))")


def buckets_of_mask(mask: int) -> set[int]:
    """The buckets set in a mask of bit_or(1 << bucket) (a signed 64-bit long)."""
    mask &= (1 << BUCKETS) - 1
    return {b for b in range(BUCKETS) if mask >> b & 1}


def _path(settings: Settings) -> str:
    return settings.path(LOCATION)


def is_built(settings: Settings) -> bool:
    """Whether the index holds every stored event (built once, kept up to date since)."""
    return store_for(settings.lake).read(MARKER) is not None


def stored_copies(spark: SparkSession, settings: Settings, dts: list[str] | None) -> DataFrame:
    """(event_id, ingested_at, source_file, dt) of the stored events and repeat-suppressed events
    on dts (all dates when None): what the index holds for them."""
    return (
        read_table(spark, settings.lake, EVENTS, dts)
        .select(*COLUMNS)
        .unionByName(read_table(spark, settings.lake, SUPPRESSED, dts).select(*COLUMNS))
    )


def build(spark: SparkSession, settings: Settings) -> None:
    """(Re)build the whole index from the events and repeat-suppressed tables, then mark it built."""
    rows = stored_copies(spark, settings, None).withColumn(BUCKET, bucket_of(F.col("event_id")))
    (
        rows.select(*SCHEMA.names)
        .repartition(BUCKET)
        .write.mode("overwrite")
        .option("partitionOverwriteMode", "static")
        .partitionBy(BUCKET)
        .parquet(_path(settings))
    )
    store = store_for(settings.lake)
    if store.read(MARKER) is None:
        store.create(MARKER, json.dumps({"buckets": BUCKETS}))


def _bucket_paths(spark: SparkSession, settings: Settings, buckets: set[int]) -> list[str]:
    present = set(fs.list_names(spark, _path(settings)))
    names = [f"{BUCKET}={b}" for b in sorted(buckets)]
    return [f"{_path(settings)}/{n}" for n in names if n in present]


def read_buckets(spark: SparkSession, settings: Settings, buckets: set[int] | None) -> DataFrame:
    """The index rows of the given buckets (all when None); empty when there are none."""
    reader = spark.read.schema(SCHEMA).option("basePath", _path(settings))
    if buckets is None:
        if not fs.exists(spark, _path(settings)):
            return spark.createDataFrame([], SCHEMA)
        return reader.parquet(_path(settings))
    paths = _bucket_paths(spark, settings, buckets)
    if not paths:
        return spark.createDataFrame([], SCHEMA)
    return reader.parquet(*paths)


def lookup(
    spark: SparkSession,
    settings: Settings,
    ids: DataFrame,
    buckets: set[int] | None = None,
    *,
    small: bool = False,
) -> DataFrame:
    """The index rows of the event_ids in ids (a frame with event_id and bucket columns); buckets,
    when given, holds every bucket of ids (else they are collected from ids); small: ids is a
    small local frame, broadcast to the index's buckets."""
    if buckets is None:
        buckets = {r[BUCKET] for r in ids.select(BUCKET).distinct().collect()}
    wanted = ids.select("event_id")
    return read_buckets(spark, settings, buckets).join(
        F.broadcast(wanted) if small else wanted, "event_id", "left_semi"
    )


def upsert(
    spark: SparkSession, settings: Settings, rows: DataFrame, buckets: set[int] | None = None
) -> None:
    """Replace the index rows of rows' event_ids with rows (event_id, ingested_at, source_file,
    dt), rewriting only the buckets they fall in; buckets, when given, holds every bucket of rows
    (else they are collected from rows)."""
    rows = rows.select(*COLUMNS).withColumn(BUCKET, bucket_of(F.col("event_id"))).persist()
    try:
        if buckets is None:
            buckets = {r[BUCKET] for r in rows.select(BUCKET).distinct().collect()}
        if not buckets:
            return
        kept = read_buckets(spark, settings, buckets).join(rows, "event_id", "left_anti")
        merged = kept.unionByName(rows.select(*SCHEMA.names))
        (
            merged.repartition(BUCKET)
            .write.mode("overwrite")
            .option("partitionOverwriteMode", "dynamic")
            .partitionBy(BUCKET)
            .parquet(_path(settings))
        )
    finally:
        rows.unpersist()


def remove(spark: SparkSession, settings: Settings, ids: DataFrame) -> int:
    """Delete the index rows of the event_ids in ids (a frame with event_id), rewriting only the
    buckets they fall in (a bucket left without rows is deleted); the rows removed."""
    wanted = ids.select("event_id").distinct().withColumn(BUCKET, bucket_of(F.col("event_id")))
    buckets = {r[BUCKET] for r in wanted.select(BUCKET).distinct().collect()}
    if not buckets:
        return 0
    stored = read_buckets(spark, settings, buckets)
    removed = stored.join(wanted.select("event_id"), "event_id", "left_semi").count()
    if not removed:
        return 0
    kept = stored.join(wanted.select("event_id"), "event_id", "left_anti").persist()
    try:
        left = {r[BUCKET] for r in kept.select(BUCKET).distinct().collect()}
        (
            kept.select(*SCHEMA.names)
            .repartition(BUCKET)
            .write.mode("overwrite")
            .option("partitionOverwriteMode", "dynamic")
            .partitionBy(BUCKET)
            .parquet(_path(settings))
        )
    finally:
        kept.unpersist()
    for bucket in sorted(buckets - left):
        fs.delete(spark, f"{_path(settings)}/{BUCKET}={bucket}")
    return removed
