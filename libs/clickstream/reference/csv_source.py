"""The CSV source: the files under ref/titles present at a run are the snapshot as of that run."""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from clickstream.reference.change_log import CHANGE_SCHEMA
from clickstream.tables import TITLES
from clickstream.transforms import unique_titles


def read_titles_csv(spark: SparkSession, path: str | list[str]) -> DataFrame:
    """RFC 4180 CSV with header title_id,title,genre (quoted commas, quotes, newlines, UTF-8)."""
    paths = [path] if isinstance(path, str) else path
    return (
        spark.read.schema(TITLES.schema)
        .option("header", True)
        .option("multiLine", True)
        .option("quote", '"')
        .option("escape", '"')
        .option("encoding", "UTF-8")
        .option("mode", "PERMISSIVE")
        .csv(paths)
    )


def snapshot_changes(
    spark: SparkSession, paths: list[str], as_of: datetime, snapshot: str
) -> DataFrame:
    """The snapshot as changes (as_of: a time-zone-aware instant): a marker (titles absent are deleted as of as_of) and one insert
    per title_id (duplicate keys within the snapshot: unique_titles' rule)."""
    rows = read_titles_csv(spark, paths).where(F.trim("title_id") != "")
    at = F.lit(as_of).cast("timestamp")
    members = unique_titles(rows).select(
        "title_id",
        "title",
        "genre",
        F.lit("I").alias("op"),
        at.alias("changed_at"),
        F.lit(snapshot).alias("snapshot"),
        F.lit(snapshot).alias("source"),
        F.lit(0).cast("long").alias("seq"),
    )
    marker = spark.createDataFrame(
        [(None, None, None, "S", as_of, snapshot, snapshot, -1)], CHANGE_SCHEMA
    )
    return marker.unionByName(members)
