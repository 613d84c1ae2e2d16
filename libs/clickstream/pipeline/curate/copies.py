"""Global dedup across batches: the batch's copies against every copy stored before.

Each event_id of the batch is, by the event_id index (whatever its user or time):
- new: never stored; curated.
- a duplicate: the stored copy was ingested earlier (or at the same time from a smaller
  source_file), so a full run keeps the stored copy; the batch's copies are dropped here.
- contested: the batch's copy is at least as early as the stored one (a Firehose object
  delivered late keeps its early name timestamp, or the same object read again). The batch's
  copy is curated together with the stored one, which is displaced: both positions are planned,
  so dedup keeps the copy a full run keeps and the stored copy's date and sessions are recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from clickstream.pipeline.context import JobContext
from clickstream.pipeline.curate import event_index
from clickstream.pipeline.curate.repeat_suppression import SUPPRESSED
from clickstream.tables import EVENTS, PARTITION_COLUMN
from clickstream.writer import read_table

NEW, DUPLICATE, CONTESTED = "new", "duplicate", "contested"


@dataclass
class BatchCopies:
    """The batch rows to curate, the ids they bring (cached), the stored copies they may displace
    (user_id, event_time, dt), the count of event_ids new to the lake and the dates touched."""

    to_curate: DataFrame
    ids: DataFrame
    displaced: DataFrame
    new_ids: int
    duplicate_ids: int
    dts: list[str]

    def marks(self) -> DataFrame:
        """(user_id, event_time) where the stored events change: new copies and displaced ones."""
        return self.to_curate.select("user_id", "event_time").unionByName(
            self.displaced.select("user_id", "event_time")
        )

    def release(self) -> None:
        """Drop the cached ids."""
        self.ids.unpersist()


def _stored_is_earlier(stored: DataFrame, batch: DataFrame) -> F.Column:
    s_at, b_at = stored["ingested_at"], batch["ingested_at"]
    return (s_at < b_at) | ((s_at == b_at) & (stored["source_file"] < batch["source_file"]))


def classify(
    ctx: JobContext, new: DataFrame, valid_dts: list[str], indexed: bool, *, has_rows: bool = True
) -> BatchCopies:
    """Split the batch's valid rows (new) by the event_id index; indexed=False: nothing stored.

    has_rows=False: the batch has no valid rows of its own (only rows re-read by recovery).
    """
    spark, settings = ctx.spark, ctx.settings
    earliest = F.min(F.struct("ingested_at", "source_file")).alias("k")
    keys = (
        new.groupBy("event_id").agg(earliest).select("event_id", "k.ingested_at", "k.source_file")
    )
    empty_displaced = spark.createDataFrame([], "user_id string, event_time timestamp, dt string")
    if not indexed:
        ids = keys.select("event_id").persist()
        count = ids.count() if has_rows else 0
        return BatchCopies(new, ids, empty_displaced, count, 0, valid_dts)
    keys = keys.withColumn(event_index.BUCKET, event_index.bucket_of(F.col("event_id")))
    stored = event_index.lookup(spark, settings, keys).alias("s")
    batch = keys.alias("b")
    kind = (
        F.when(F.col("s.event_id").isNull(), F.lit(NEW))
        .when(_stored_is_earlier(stored, batch), F.lit(DUPLICATE))
        .otherwise(F.lit(CONTESTED))
    )
    classified = (
        batch.join(stored, F.col("b.event_id") == F.col("s.event_id"), "left")
        .select(
            F.col("b.event_id").alias("event_id"), kind.alias("kind"), F.col("s.dt").alias("dt")
        )
        .persist()
    )
    summary = classified.groupBy("kind", PARTITION_COLUMN).count().collect()
    counts = {
        k: sum(r["count"] for r in summary if r["kind"] == k) for k in (NEW, DUPLICATE, CONTESTED)
    }
    contested = classified.where(F.col("kind") == CONTESTED)
    contested_dts = sorted({r[PARTITION_COLUMN] for r in summary if r["kind"] == CONTESTED})
    ids = classified.where(F.col("kind") != DUPLICATE).select("event_id").persist()
    ids.count()  # materialized before classified is released
    to_curate = new.join(ids, "event_id", "left_semi")
    displaced = empty_displaced
    if contested_dts:
        columns = ["event_id", "user_id", "event_time", PARTITION_COLUMN]
        stored_rows = read_table(spark, settings.lake, EVENTS, contested_dts).select(*columns)
        stored_rows = stored_rows.unionByName(
            read_table(spark, settings.lake, SUPPRESSED, contested_dts).select(*columns)
        )
        displaced = stored_rows.join(contested.select("event_id"), "event_id", "left_semi").drop(
            "event_id"
        )
    dts = {r[PARTITION_COLUMN] for r in to_curate.select(PARTITION_COLUMN).distinct().collect()}
    classified.unpersist()
    return BatchCopies(
        to_curate,
        ids,
        displaced,
        counts[NEW],
        counts[DUPLICATE],
        sorted(dts | set(contested_dts)),
    )
