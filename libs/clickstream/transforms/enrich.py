"""Enrichment: title and genre from the reference titles, never adding or dropping events."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

_ADDED = ("title", "genre")


def enrich_events(events: DataFrame, titles: DataFrame) -> DataFrame:
    """Left-join title and genre on title_id: every event exactly once; no match gives nulls."""
    reference = unique_titles(titles).withColumnRenamed("title_id", "_ref_title_id")
    columns = [*events.columns, *(c for c in _ADDED if c not in events.columns)]
    return (
        events.drop(*_ADDED)
        .join(F.broadcast(reference), F.col("title_id") == F.col("_ref_title_id"), "left")
        .select(*columns)
    )


def unique_titles(titles: DataFrame) -> DataFrame:
    """One row per non-null title_id: the min by (title, genre), nulls last, so complete rows win."""
    pick = F.min(
        F.struct(
            F.col("title").isNull().alias("no_title"),
            F.col("title").alias("title"),
            F.col("genre").isNull().alias("no_genre"),
            F.col("genre").alias("genre"),
        )
    )
    return (
        titles.where(F.col("title_id").isNotNull())
        .groupBy("title_id")
        .agg(pick.alias("_pick"))
        .select(
            "title_id", F.col("_pick.title").alias("title"), F.col("_pick.genre").alias("genre")
        )
    )
