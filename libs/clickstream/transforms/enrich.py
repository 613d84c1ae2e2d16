"""Enrichment: title and genre of the title version valid at each event's time, never adding or
dropping events."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

_ADDED = ("title", "genre")
VALIDITY = ("valid_from", "valid_to")


def enrich_events(events: DataFrame, titles: DataFrame) -> DataFrame:
    """Title and genre of the version valid at event_time (valid_from <= t < valid_to); an event
    before a title's first version takes that version, one after a delete gets nulls; every event
    exactly once.

    titles is titles_history (title_id, title, genre, valid_from, valid_to; null valid_to =
    current) or a plain snapshot (title_id, title, genre), whose rows are valid at all times.
    """
    ref = effective_versions(titles).select(
        F.col("title_id").alias("_ref_title_id"),
        F.col("title").alias("_ref_title"),
        F.col("genre").alias("_ref_genre"),
        F.col("eff_from").alias("_ref_from"),
        F.col("eff_to").alias("_ref_to"),
    )
    at = F.col("event_time")
    matches = (
        (F.col("title_id") == F.col("_ref_title_id"))
        & (F.col("_ref_from").isNull() | (F.col("_ref_from") <= at))
        & (F.col("_ref_to").isNull() | (at < F.col("_ref_to")))
    )
    columns = [*events.columns, *(c for c in _ADDED if c not in events.columns)]
    return (
        events.drop(*_ADDED)
        .join(F.broadcast(ref), matches, "left")
        .withColumnRenamed("_ref_title", "title")
        .withColumnRenamed("_ref_genre", "genre")
        .select(*columns)
    )


def effective_versions(titles: DataFrame) -> DataFrame:
    """Disjoint versions per title_id: (title_id, title, genre, eff_from, eff_to), null = open.

    One version per (title_id, valid_from) (the min by unique_titles' rule), each ending at
    valid_to or at the next version's start, whichever is first; the first version of a title
    reaches back without limit (eff_from null), so earlier events take it.
    """
    versions = titles
    for column in VALIDITY:
        if column not in titles.columns:
            versions = versions.withColumn(column, F.lit(None).cast("timestamp"))
    picked = (
        versions.where(F.col("title_id").isNotNull())
        .groupBy("title_id", "valid_from")
        .agg(_pick(F.col("valid_to").alias("valid_to")).alias("_pick"))
        .select("title_id", "valid_from", "_pick.title", "_pick.genre", "_pick.valid_to")
    )
    by_start = Window.partitionBy("title_id").orderBy(F.col("valid_from").asc_nulls_first())
    next_from = F.lead("valid_from").over(by_start)
    first = F.row_number().over(by_start) == 1
    return picked.select(
        "title_id",
        "title",
        "genre",
        F.when(~first, F.col("valid_from")).alias("eff_from"),
        F.least(F.col("valid_to"), next_from).alias("eff_to"),
    ).where(
        F.col("eff_from").isNull()
        | F.col("eff_to").isNull()
        | (F.col("eff_from") < F.col("eff_to"))
    )


def unique_titles(titles: DataFrame) -> DataFrame:
    """One row per non-null title_id: the min by (title, genre), nulls last, so complete rows win."""
    return (
        titles.where(F.col("title_id").isNotNull())
        .groupBy("title_id")
        .agg(_pick().alias("_pick"))
        .select(
            "title_id", F.col("_pick.title").alias("title"), F.col("_pick.genre").alias("genre")
        )
    )


def _pick(*extra: Column) -> Column:
    """min of (title, genre, extra...) with nulls last: the most complete row, deterministically."""
    return F.min(
        F.struct(
            F.col("title").isNull().alias("no_title"),
            F.col("title").alias("title"),
            F.col("genre").isNull().alias("no_genre"),
            F.col("genre").alias("genre"),
            *extra,
        )
    )
