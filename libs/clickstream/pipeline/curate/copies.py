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
    # (user_id, event_time in unix microseconds) of marks(), when classified on the driver.
    mark_rows: list[tuple[str, int]] | None = None

    def marks(self) -> DataFrame:
        """(user_id, event_time) where the stored events change: new copies and displaced ones."""
        return self.to_curate.select("user_id", "event_time").unionByName(
            self.displaced.select("user_id", "event_time")
        )

    def release(self) -> None:
        """Drop the cached ids."""
        if self.cached is not None:
            self.cached.unpersist()


def _stored_is_earlier(stored: DataFrame, batch: DataFrame) -> F.Column:
    s_at, b_at = stored["ingested_at"], batch["ingested_at"]
    return (s_at < b_at) | ((s_at == b_at) & (stored["source_file"] < batch["source_file"]))


def classify(
    ctx: JobContext,
    new: DataFrame,
    valid_dts: list[str],
    indexed: bool,
    *,
    has_rows: bool = True,
    buckets: set[int] | None = None,
    rows: int | None = None,
) -> BatchCopies:
    """Split the batch's valid rows (new) by the event_id index; indexed=False: nothing stored.

    has_rows=False: the batch has no valid rows of its own (only rows re-read by recovery).
    buckets: every index bucket of new's event_ids, when known (else collected from new).
    rows: new's row count when known. With it and buckets known and rows at most
    plan_on_driver_max_rows, the batch's keys and their index rows are collected and classified
    on the driver (classify_on_driver). Otherwise one Spark action classifies the batch: the
    counts by kind, the stored dates of contested copies and the batch dates of the copies to
    curate come from one small aggregation of the cached classification.
    """
    spark, settings = ctx.spark, ctx.settings
    if (
        indexed
        and buckets is not None
        and rows is not None
        and rows <= settings.plan_on_driver_max_rows
    ):
        return classify_on_driver(ctx, new, buckets)
    empty_displaced = spark.createDataFrame([], "user_id string, event_time timestamp, dt string")
    if not indexed:  # nothing stored: every event_id is new; their count is all one action needs
        ids = new.select("event_id").distinct()
        count = ids.count() if has_rows else 0
        return BatchCopies(new, ids, empty_displaced, count, 0, valid_dts, None)
    earliest = F.min(F.struct("ingested_at", "source_file")).alias("k")
    keys = new.groupBy("event_id").agg(earliest, F.collect_set(PARTITION_COLUMN).alias("batch_dts"))
    keys = keys.select("event_id", "k.ingested_at", "k.source_file", "batch_dts")
    keys = keys.withColumn(event_index.BUCKET, event_index.bucket_of(F.col("event_id")))
    stored = event_index.lookup(spark, settings, keys, buckets).alias("s")
    batch = keys.alias("b")
    kind = (
        F.when(F.col("s.event_id").isNull(), F.lit(NEW))
        .when(_stored_is_earlier(stored, batch), F.lit(DUPLICATE))
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


def classify_on_driver(ctx: JobContext, new: DataFrame, buckets: set[int]) -> BatchCopies:
    """classify() for a small batch: its rows' keys and their index rows collected (two Spark
    actions), the kinds decided here by the same rules, the ids to curate a local frame."""
    spark, settings = ctx.spark, ctx.settings
    micros = F.unix_micros
    batch = new.select(
        "event_id",
        micros("ingested_at"),
        "source_file",
        PARTITION_COLUMN,
        "user_id",
        micros("event_time"),
    ).collect()
    # Per event_id: the earliest copy's (ingested_at, source_file) and the copies' dates.
    earliest: dict[str, tuple[int, str]] = {}
    dates: dict[str, set[str]] = {}
    for event_id, at, source, dt, _, _ in batch:
        key = (at, source)
        if event_id not in earliest or key < earliest[event_id]:
            earliest[event_id] = key
        dates.setdefault(event_id, set()).add(dt)
    ids_frame = spark.createDataFrame([(i,) for i in sorted(earliest)], "event_id string")
    index_rows = event_index.lookup(spark, settings, ids_frame, buckets, small=True)
    stored = {
        r[0]: (r[1], r[2], r[3])
        for r in index_rows.select(
            "event_id", micros("ingested_at"), "source_file", PARTITION_COLUMN
        ).collect()
    }
    kinds: dict[str, str] = {}
    for event_id, (at, source) in earliest.items():
        found = stored.get(event_id)
        if found is None:
            kinds[event_id] = NEW
        elif found[0] < at or (found[0] == at and found[1] < source):
            kinds[event_id] = DUPLICATE
        else:
            kinds[event_id] = CONTESTED
    counts = {k: sum(1 for v in kinds.values() if v == k) for k in (NEW, DUPLICATE, CONTESTED)}
    kept = sorted(i for i, k in kinds.items() if k != DUPLICATE)
    contested = sorted(i for i, k in kinds.items() if k == CONTESTED)
    contested_dts = sorted({stored[i][2] for i in contested})
    curated_dts = {dt for i in kept for dt in dates[i]}
    # A local frame, broadcast wherever it is joined (here and by the index update).
    ids = F.broadcast(spark.createDataFrame([(i,) for i in kept], "event_id string"))
    to_curate = new.join(ids, "event_id", "left_semi")
    marks = [(user, t) for event_id, _, _, _, user, t in batch if kinds[event_id] != DUPLICATE]
    displaced = spark.createDataFrame([], "user_id string, event_time timestamp, dt string")
    if contested:
        stored_rows = _stored_keys(spark, settings, contested_dts)
        ids_of = spark.createDataFrame([(i,) for i in contested], "event_id string")
        displaced = stored_rows.join(F.broadcast(ids_of), "event_id", "left_semi").drop("event_id")
        marks += [(r[0], r[1]) for r in displaced.select("user_id", micros("event_time")).collect()]
    return BatchCopies(
        to_curate,
        ids,
        displaced,
        counts[NEW],
        counts[DUPLICATE],
        sorted(curated_dts | set(contested_dts)),
        None,
        counts[CONTESTED],
        marks,
    )


def _stored_keys(spark: SparkSession, settings: Settings, dts: list[str]) -> DataFrame:
    """(event_id, user_id, event_time, dt) of the stored events and repeat-suppressed rows of dts."""
    columns = ["event_id", "user_id", "event_time", PARTITION_COLUMN]
    stored = read_table(spark, settings.lake, EVENTS, dts).select(*columns)
    return stored.unionByName(read_table(spark, settings.lake, SUPPRESSED, dts).select(*columns))
