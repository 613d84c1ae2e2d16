"""The chosen objects parsed once and cached, and the counts the run needs from that parse."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from clickstream.firehose_reader import read_firehose
from clickstream.pipeline.context import JobContext
from clickstream.raw_objects import RawObject
from clickstream.tables import PARTITION_COLUMN
from clickstream.transforms import local_date

BASE_COLUMNS = [
    "event_id",
    "user_id",
    "event_type",
    "event_time",
    "title_id",
    "ingested_at",
    "source_file",
    "properties",  # every field beyond the contract's, as JSON text (firehose_reader)
]


def parse(ctx: JobContext, objects: list[RawObject]) -> DataFrame:
    """The objects' records parsed: raw text kept on rejected records only, dt on valid ones."""
    is_valid = F.col("reason").isNull()
    return (
        read_firehose(ctx.spark, objects)
        .withColumn("record", F.when(~is_valid, F.col("record")))
        .withColumn(
            PARTITION_COLUMN, F.when(is_valid, local_date("event_time", ctx.settings.timezone))
        )
    )


def cached_parse(ctx: JobContext, objects: list[RawObject], *, by_event_id: bool) -> DataFrame:
    """The objects' records parsed once and cached: raw text kept on rejected records only, dt
    computed on valid ones only.

    by_event_id hash-partitions the cache by event_id, so once it is materialized, deduplicating
    these rows alone (a full run, nothing stored) needs no shuffle of its own; a union with stored
    rows would lose the partitioning.
    """
    parsed = parse(ctx, objects)
    if by_event_id:
        parsed = parsed.repartition("event_id")
    return parsed.persist()


@dataclass(frozen=True)
class ParseStats:
    """Records read, rejected records by reason, valid records and the dates they fall on."""

    read: int
    rejected_by_reason: dict[str, int]
    valid: int
    valid_dts: list[str]

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_reason.values())


def parse_stats(parsed: DataFrame) -> ParseStats:
    """Count the cached parse by reason and valid date in one aggregation.

    It also materializes the cache, after which dedup can see its partitioning by event_id.
    """
    stats = parsed.groupBy("reason", PARTITION_COLUMN).agg(F.count("*").alias("n")).collect()
    counts: dict[str | None, int] = {}
    for row in stats:
        counts[row["reason"]] = counts.get(row["reason"], 0) + row["n"]
    valid_dts = sorted(row[PARTITION_COLUMN] for row in stats if row["reason"] is None)
    read = sum(counts.values())
    valid = counts.pop(None, 0)
    rejected = {str(reason): n for reason, n in sorted(counts.items())}
    return ParseStats(read, rejected, valid, valid_dts)


def no_events(ctx: JobContext) -> DataFrame:
    """An empty frame of valid events (BASE_COLUMNS and dt)."""
    schema = read_firehose(ctx.spark, []).select(*BASE_COLUMNS).schema
    return ctx.spark.createDataFrame([], schema).withColumn(
        PARTITION_COLUMN, F.lit(None).cast("string")
    )


def valid_events(parsed: DataFrame) -> DataFrame:
    """The valid records with the columns curation needs (BASE_COLUMNS and dt)."""
    return parsed.where(F.col("reason").isNull()).select(*BASE_COLUMNS, PARTITION_COLUMN)
