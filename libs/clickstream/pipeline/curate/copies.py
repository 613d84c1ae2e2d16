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

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from clickstream.config import Settings
from clickstream.pipeline.context import JobContext
from clickstream.pipeline.curate import event_index
from clickstream.pipeline.curate.repeat_suppression import SUPPRESSED
from clickstream.tables import EVENTS, PARTITION_COLUMN
from clickstream.transforms.dedup import COPY_ORDER, copy_key
from clickstream.writer import read_table

NEW, DUPLICATE, CONTESTED = "new", "duplicate", "contested"


@dataclass
class BatchCopies:
    """The batch rows to curate, the ids they bring, the stored copies they may displace
    (user_id, event_time, dt), the count of event_ids new to the lake and the dates touched.

    ids derive from a cached frame, when classified by the index (released by release()).
    """

    to_curate: DataFrame
    ids: DataFrame
    displaced: DataFrame
    new_ids: int
    duplicate_ids: int
    dts: list[str]
    cached: DataFrame | None
    contested_ids: int = 0

    def marks(self) -> DataFrame:
        """(user_id, event_time) where the stored events change: new copies and displaced ones."""
        return self.to_curate.select("user_id", "event_time").unionByName(
            self.displaced.select("user_id", "event_time")
        )

    def release(self) -> None:
        """Drop the cached ids."""
        if self.cached is not None:
            self.cached.unpersist()


def classify(
    ctx: JobContext,
    new: DataFrame,
    valid_dts: list[str],
    indexed: bool,
    *,
    has_rows: bool = True,
    buckets: set[int] | None = None,
) -> BatchCopies:
    """Split the batch's valid rows (new) by the event_id index; indexed=False: nothing stored.

    has_rows=False: the batch has no valid rows of its own (only rows re-read by recovery).
    buckets: every index bucket of new's event_ids, when known (else collected from new).
    One Spark action classifies the batch: the counts by kind, the stored dates of contested
    copies and the batch dates of the copies to curate come from one small aggregation of the
    cached classification.
    """
    spark, settings = ctx.spark, ctx.settings
    empty_displaced = spark.createDataFrame([], "user_id string, event_time timestamp, dt string")
    if not indexed:  # nothing stored: every event_id is new; their count is all one action needs
        ids = new.select("event_id").distinct()
        count = ids.count() if has_rows else 0
        return BatchCopies(new, ids, empty_displaced, count, 0, valid_dts, None)
    earliest = F.min(copy_key()).alias("k")
    keys = new.groupBy("event_id").agg(earliest, F.collect_set(PARTITION_COLUMN).alias("batch_dts"))
    keys = keys.select("event_id", *(f"k.{c}" for c in COPY_ORDER), "batch_dts")
    keys = keys.withColumn(event_index.BUCKET, event_index.bucket_of(F.col("event_id")))
    stored = event_index.lookup(spark, settings, keys, buckets).alias("s")
    batch = keys.alias("b")
    kind = (
        F.when(F.col("s.event_id").isNull(), F.lit(NEW))
        .when(copy_key(stored) < copy_key(batch), F.lit(DUPLICATE))
        .otherwise(F.lit(CONTESTED))
    )
    classified = (
        batch.join(stored, F.col("b.event_id") == F.col("s.event_id"), "left")
        .select(
            F.col("b.event_id").alias("event_id"),
            kind.alias("kind"),
            F.col("s.dt").alias("dt"),
            F.col("b.batch_dts").alias("batch_dts"),
        )
        .persist()
    )
    # Per (kind, stored dt, batch dt): the event_ids counted once each (at their first batch dt).
    exploded = classified.select("kind", "dt", F.posexplode("batch_dts").alias("pos", "batch_dt"))
    summary = (
        exploded.groupBy("kind", "dt", "batch_dt")
        .agg(F.sum((F.col("pos") == 0).cast("int")).alias("ids"))
        .collect()
    )
    counts = {
        k: sum(r["ids"] for r in summary if r["kind"] == k) for k in (NEW, DUPLICATE, CONTESTED)
    }
    contested = classified.where(F.col("kind") == CONTESTED)
    contested_dts = sorted({r["dt"] for r in summary if r["kind"] == CONTESTED})
    curated_dts = {r["batch_dt"] for r in summary if r["kind"] != DUPLICATE}
    ids = classified.where(F.col("kind") != DUPLICATE).select("event_id")
    to_curate = new.join(ids, "event_id", "left_semi")
    displaced = empty_displaced
    if contested_dts:
        stored_rows = _stored_keys(spark, settings, contested_dts)
        displaced = stored_rows.join(contested.select("event_id"), "event_id", "left_semi").drop(
            "event_id"
        )
    return BatchCopies(
        to_curate,
        ids,
        displaced,
        counts[NEW],
        counts[DUPLICATE],
        sorted(curated_dts | set(contested_dts)),
        classified,
        counts[CONTESTED],
    )


def _stored_keys(spark: SparkSession, settings: Settings, dts: list[str]) -> DataFrame:
    """(event_id, user_id, event_time, dt) of the stored events and repeat-suppressed rows of dts."""
    columns = ["event_id", "user_id", "event_time", PARTITION_COLUMN]
    stored = read_table(spark, settings.lake, EVENTS, dts).select(*columns)
    return stored.unionByName(read_table(spark, settings.lake, SUPPRESSED, dts).select(*columns))
