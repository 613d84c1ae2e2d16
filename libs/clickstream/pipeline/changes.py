"""Change sets: what a curate_events run rewrites, for the jobs that derive tables from events.

A change set names the event dates (dt) the run rewrites and, per user, the time ranges whose
sessions it recomputes (see clickstream.pipeline.ranges). A "full" change set has no ranges:
nothing was curated near its dates before, so every session there is new. curate_events publishes
the change set before it writes, so a run that dies halfway still leaves a record of what it may
have changed; recomputing from the events as they are is always safe.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StringType, StructField, StructType, TimestampType

from clickstream import fs
from clickstream.config import ConfigError
from clickstream.pipeline.ranges import RANGE_COLUMNS

FORMAT = 2
RANGES_SCHEMA = StructType(
    [
        StructField("user_id", StringType(), False),
        StructField("range_start", TimestampType(), False),
        StructField("range_end", TimestampType(), False),
    ]
)


def changes_root(lake: str) -> str:
    """Folder of the change sets under the lake root."""
    return f"{lake}/_state/changes"


def new_change_id() -> str:
    """A sortable, unique change set id."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class ChangeSet:
    """The dates one curate_events run rewrites; full when all their sessions are new."""

    change_id: str
    dts: tuple[str, ...]
    full: bool


def ranges_path(lake: str, change_id: str) -> str:
    return f"{changes_root(lake)}/{change_id}/ranges"


def publish(lake: str, change_id: str, dts: list[str], ranges: DataFrame | None) -> ChangeSet:
    """Write the change set: ranges first, the manifest last (a change set without one is ignored)."""
    root = f"{changes_root(lake)}/{change_id}"
    spark = ranges.sparkSession if ranges is not None else SparkSession.getActiveSession()
    assert spark is not None
    if ranges is not None:
        ranges.select(*RANGE_COLUMNS).coalesce(1).write.mode("overwrite").parquet(f"{root}/ranges")
    manifest = {
        "change_id": change_id,
        "format": FORMAT,
        "dts": sorted(dts),
        "full": ranges is None,
    }
    fs.write_text(spark, f"{root}/manifest.json", json.dumps(manifest))
    return ChangeSet(change_id, tuple(sorted(dts)), ranges is None)


def list_change_sets(spark: SparkSession, lake: str) -> dict[str, ChangeSet]:
    """Every complete change set under the lake, by id."""
    found = {}
    for name in fs.list_names(spark, changes_root(lake)):
        text = fs.read_text(spark, f"{changes_root(lake)}/{name}/manifest.json")
        if text:
            doc = json.loads(text)
            if doc.get("format") != FORMAT:
                raise ConfigError(
                    f"change set {name} was written by an older version; run build_sessions and "
                    "daily_active_users once with --set bookmark_option=job-bookmark-disable, "
                    f"then delete {changes_root(lake)}/{name}"
                )
            found[name] = ChangeSet(name, tuple(doc["dts"]), bool(doc["full"]))
    return found


def read_ranges(spark: SparkSession, lake: str, change_sets: list[ChangeSet]) -> DataFrame:
    """The ranges of the change sets that have them (empty when all are full)."""
    frames = [
        spark.read.schema(RANGES_SCHEMA).parquet(ranges_path(lake, cs.change_id))
        for cs in change_sets
        if not cs.full
    ]
    if not frames:
        return spark.createDataFrame([], RANGES_SCHEMA)
    return reduce(DataFrame.unionByName, frames)
