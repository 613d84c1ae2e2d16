"""The titles change log: every change read from a source, kept as state under the lake.

titles_history is a pure function of the whole log (clickstream.transforms.title_history), so
the order in which batches arrive and how often a batch is written do not matter: a batch read
again after a crash adds the same changes, which are one change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType, TimestampType

from clickstream import fs

CHANGE_SCHEMA = StructType(
    [
        StructField("title_id", StringType(), True),
        StructField("title", StringType(), True),
        StructField("genre", StringType(), True),
        StructField("op", StringType(), False),
        StructField("changed_at", TimestampType(), False),
        StructField("snapshot", StringType(), True),
        StructField("source", StringType(), False),
        StructField("seq", LongType(), False),
    ]
)


def log_root(lake: str) -> str:
    """Folder of the change log: one sub-folder of Parquet per batch."""
    return f"{lake}/_state/titles/changes"


def batch_id(source: str, inputs: Mapping[str, str]) -> str:
    """A batch id from the source and its inputs' fingerprints: re-reading them rewrites it."""
    text = "\n".join(f"{k}\t{v}" for k, v in sorted(inputs.items()))
    return f"{source}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def append(changes: DataFrame, lake: str, batch: str) -> None:
    """Write one batch of changes (replacing a batch of the same id)."""
    out = changes.select([changes[f.name].cast(f.dataType).alias(f.name) for f in CHANGE_SCHEMA])
    out.coalesce(1).write.mode("overwrite").parquet(f"{log_root(lake)}/{batch}")


def read_log(spark: SparkSession, lake: str) -> DataFrame:
    """Every change of every batch (empty before the first)."""
    root = log_root(lake)
    if not fs.list_names(spark, root):
        return spark.createDataFrame([], CHANGE_SCHEMA)
    return spark.read.schema(CHANGE_SCHEMA).option("recursiveFileLookup", True).parquet(root)


def is_empty(spark: SparkSession, lake: str) -> bool:
    """Whether no batch was ever written (a lake from before titles history)."""
    return not fs.list_names(spark, log_root(lake))


def batch_time(spark: SparkSession, lake: str, batch: str) -> datetime | None:
    """The earliest change time of a batch already in the log (UTC); None when it is not there."""
    if batch not in fs.list_names(spark, log_root(lake)):
        return None
    rows = spark.read.schema(CHANGE_SCHEMA).parquet(f"{log_root(lake)}/{batch}")
    micros = rows.agg(F.unix_micros(F.min("changed_at"))).collect()[0][0]
    return (
        None
        if micros is None
        else datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    )
