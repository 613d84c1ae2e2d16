"""The chosen objects parsed once and cached, and the counts the run needs from that parse."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from clickstream.config import Settings
from clickstream.firehose_reader import ReaderLimits, misfit_counts, read_firehose
from clickstream.forgotten_users import forgotten_users
from clickstream.pipeline.context import JobContext
from clickstream.pipeline.curate import event_index
from clickstream.privacy_key import field_controls
from clickstream.raw_objects import RawObject, qualified_root
from clickstream.skipped_objects import RAW, skipped_objects
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


def event_columns(settings: Settings) -> list[str]:
    """The columns curation carries: BASE_COLUMNS, then the promoted fields in config order."""
    return [*BASE_COLUMNS, *settings.promoted_fields]


def parse(ctx: JobContext, objects: list[RawObject]) -> DataFrame:
    """The objects' records parsed with the settings' reader limits: raw text kept on rejected
    records only, dt on valid ones. An object an operator set aside (clickstream skip-object)
    is not read: it is one skipped_by_operator record holding the operator's note. The privacy
    settings' field controls apply in the reader, and records of users on the suppression list
    (clickstream forget) are forgotten_user, with no text."""
    is_valid = F.col("reason").isNull()
    limits = ReaderLimits.of(ctx.settings.values)
    skipped = skipped_among(ctx, objects)
    controls = field_controls(ctx.settings)
    return (
        read_firehose(
            ctx.spark,
            objects,
            ctx.settings.promoted_fields,
            limits=limits,
            skipped=skipped,
            controls=controls,
            forgotten=forgotten_users(ctx.settings),
        )
        .withColumn("record", F.when(~is_valid, F.col("record")))
        .withColumn(
            PARTITION_COLUMN, F.when(is_valid, local_date("event_time", ctx.settings.timezone))
        )
    )


def skipped_among(ctx: JobContext, objects: list[RawObject]) -> dict[str, str]:
    """The objects set aside by an operator, by listed path -> their quarantine record (one
    listing of the notes; none read when there are none)."""
    notes = skipped_objects(ctx.settings.lake)
    if not notes or not objects:
        return {}
    root = qualified_root(ctx.spark, ctx.settings.path(RAW)) + "/"
    return {
        o.path: notes[o.path[len(root) :]].record()
        for o in objects
        if o.path.startswith(root) and o.path[len(root) :] in notes
    }


def cached_parse(ctx: JobContext, objects: list[RawObject]) -> DataFrame:
    """The objects' records parsed once and cached: raw text kept on rejected records only, dt
    computed on valid ones only (as parse). Cached as read: the one full-row shuffle of a run
    is dedup's, by user_id (transforms.dedup), which sessions then need no other."""
    return parse(ctx, objects).persist()


@dataclass(frozen=True)
class ParseStats:
    """Records read, rejected records by reason, valid records and the dates they fall on, per
    promoted field the valid records whose value did not fit its type, and the event_id index
    buckets of the valid records' event_ids."""

    read: int
    rejected_by_reason: dict[str, int]
    valid: int
    valid_dts: list[str]
    misfits: dict[str, int] = field(default_factory=dict)
    buckets: frozenset[int] = frozenset()

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_reason.values())


def parse_stats(parsed: DataFrame, promoted: Mapping[str, str]) -> ParseStats:
    """Count the cached parse by reason and valid date, the promoted fields' misfits, and collect
    the index buckets of the valid event_ids (a 64-bit mask per group), in one aggregation.

    It also materializes the cache, after which dedup can see its partitioning by event_id.
    """
    misfits = misfit_counts(promoted)
    bit = event_index.bucket_bit("event_id")
    mask = F.bit_or(F.when(F.col("reason").isNull(), bit)).alias("buckets")
    stats = parsed.groupBy("reason", PARTITION_COLUMN).agg(F.count("*").alias("n"), mask, *misfits)
    counts: dict[str | None, int] = {}
    misfit_totals = dict.fromkeys(promoted, 0)
    valid_dts = []
    buckets: set[int] = set()
    for row in stats.collect():
        counts[row["reason"]] = counts.get(row["reason"], 0) + row["n"]
        if row["reason"] is None:
            valid_dts.append(row[PARTITION_COLUMN])
            buckets |= event_index.buckets_of_mask(row["buckets"] or 0)
            for name in promoted:
                misfit_totals[name] += row[f"misfit_{name}"] or 0
    read = sum(counts.values())
    valid = counts.pop(None, 0)
    rejected = {str(reason): n for reason, n in sorted(counts.items())}
    return ParseStats(read, rejected, valid, sorted(valid_dts), misfit_totals, frozenset(buckets))


def no_events(ctx: JobContext) -> DataFrame:
    """An empty frame of valid events (event_columns and dt)."""
    empty = read_firehose(ctx.spark, [], ctx.settings.promoted_fields)
    schema = empty.select(*event_columns(ctx.settings)).schema
    return ctx.spark.createDataFrame([], schema).withColumn(
        PARTITION_COLUMN, F.lit(None).cast("string")
    )


def valid_events(parsed: DataFrame, settings: Settings) -> DataFrame:
    """The valid records with the columns curation needs (event_columns and dt)."""
    return parsed.where(F.col("reason").isNull()).select(*event_columns(settings), PARTITION_COLUMN)
