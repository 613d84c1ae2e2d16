"""Rows of the titles source that are not changes: kept per batch, published as quarantine_titles.

A batch's rejected rows are state under the lake (_state/titles/rejected/<batch>, replaced when the
batch is read again), so a retried run keeps them once. quarantine_titles is rebuilt from every
batch's rows: each bad row of each file version once (a reload reads its LOAD files again: their
bad rows are not doubled; a rewritten file's earlier bad rows stay, they were received).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import LongType, StringType, StructField, StructType, TimestampType

from clickstream import fs
from clickstream.tables import QUARANTINE_TITLES
from clickstream.writer import write_table

REJECTED_SCHEMA = StructType(
    [
        StructField("record", StringType(), True),
        StructField("reason", StringType(), False),
        StructField("source_file", StringType(), False),
        StructField("ingested_at", TimestampType(), False),
        StructField("row_in_file", LongType(), False),
    ]
)
# One bad row of one file version.
ROW_KEY = ("source_file", "ingested_at", "row_in_file")


def state_root(lake: str) -> str:
    """Folder of the rejected rows: one sub-folder of Parquet per batch."""
    return f"{lake}/_state/titles/rejected"


def keep(rejected: DataFrame, lake: str, batch: str) -> dict[str, int]:
    """Store a batch's rejected rows (replacing a batch of the same id); their counts by reason."""
    rows = rejected.select(
        [rejected[f.name].cast(f.dataType).alias(f.name) for f in REJECTED_SCHEMA]
    )
    rows = rows.localCheckpoint()  # the files are read once, for the counts and the write
    counts = {
        r["reason"]: int(r["n"])
        for r in rows.groupBy("reason").count().withColumnRenamed("count", "n").collect()
    }
    if counts:
        rows.coalesce(1).write.mode("overwrite").parquet(f"{state_root(lake)}/{batch}")
    return dict(sorted(counts.items()))


def publish(spark: SparkSession, lake: str, target_file_mb: int) -> None:
    """Rewrite quarantine_titles from every batch's rejected rows, each row once."""
    root = state_root(lake)
    if not fs.list_names(spark, root):
        return
    rows = spark.read.schema(REJECTED_SCHEMA).option("recursiveFileLookup", True).parquet(root)
    unique = rows.dropDuplicates(list(ROW_KEY)).orderBy(*ROW_KEY)
    write_table(unique, lake, QUARANTINE_TITLES, target_file_mb=target_file_mb)
