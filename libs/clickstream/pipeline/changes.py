"""Change sets: what curate_events rewrote, for the jobs that derive tables from events.

A change set names the event dates (dt) curate_events rewrote and the users whose sessions it
recomputed there. Within those dates no session of those users crosses the edge of the set, so
sessions and daily counts can be recomputed from those partitions alone.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from clickstream import fs

USERS_SCHEMA = StructType([StructField("user_id", StringType(), False)])


def changes_root(lake: str) -> str:
    """Folder of the change sets under the lake root."""
    return f"{lake}/_state/changes"


def new_change_id() -> str:
    """A sortable, unique change set id."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class ChangeSet:
    """The dates and users one curate_events run rewrote."""

    change_id: str
    dts: tuple[str, ...]


def publish(lake: str, change_id: str, dts: list[str], users: DataFrame) -> ChangeSet:
    """Write the change set: users first, the manifest last (a change set without one is ignored)."""
    root = f"{changes_root(lake)}/{change_id}"
    users.select("user_id").distinct().coalesce(1).write.mode("overwrite").parquet(f"{root}/users")
    manifest = {"change_id": change_id, "dts": sorted(dts)}
    fs.write_text(users.sparkSession, f"{root}/manifest.json", json.dumps(manifest))
    return ChangeSet(change_id, tuple(sorted(dts)))


def list_change_sets(spark: SparkSession, lake: str) -> dict[str, ChangeSet]:
    """Every complete change set under the lake, by id."""
    found = {}
    for name in fs.list_names(spark, changes_root(lake)):
        text = fs.read_text(spark, f"{changes_root(lake)}/{name}/manifest.json")
        if text:
            doc = json.loads(text)
            found[name] = ChangeSet(name, tuple(doc["dts"]))
    return found


def affected_user_dates(spark: SparkSession, lake: str, change_sets: list[ChangeSet]) -> DataFrame:
    """(user_id, dt) pairs to recompute: each change set's users on each of its dates."""
    frames = [
        spark.read.schema(USERS_SCHEMA)
        .parquet(f"{changes_root(lake)}/{cs.change_id}/users")
        .crossJoin(F.broadcast(spark.createDataFrame([(dt,) for dt in cs.dts], "dt string")))
        for cs in change_sets
    ]
    return reduce(DataFrame.unionByName, frames).distinct()
