"""Rows of the titles source that are not changes: kept per batch, published as quarantine_titles.

A batch's rejected rows are state under the lake (_state/titles/rejected/<batch>, replaced when the
batch is read again), so a retried run keeps them once. quarantine_titles is rebuilt from every
batch's rows: each bad row once, by its source, content and place (row_in_file), dated by the
first read that found it. A file read again (a reload, a rebuild) or a JDBC row pulled again (the
overlap window) does not double it.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
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
# One bad row: its source, content, rule and place among identical rows of its source.
ROW_KEY = ("source_file", "record", "reason", "row_in_file")


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


def publish(spark: SparkSession, lake: str) -> None:
    """Rewrite quarantine_titles from every batch's rejected rows, each row once."""
    root = state_root(lake)
    if not fs.list_names(spark, root):
        return
    rows = spark.read.schema(REJECTED_SCHEMA).option("recursiveFileLookup", True).parquet(root)
    unique = rows.groupBy(*ROW_KEY).agg(F.min("ingested_at").alias("ingested_at"))
    unique = unique.orderBy("source_file", "row_in_file", "record")
    write_table(unique, lake, QUARANTINE_TITLES)
