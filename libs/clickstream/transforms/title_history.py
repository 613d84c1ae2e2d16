"""Title history: versions with validity intervals from a log of reference changes.

A change is one row of a source (a DMS row, a JDBC row, a row of a CSV snapshot):
title_id, title, genre, op, changed_at, snapshot, source, seq.
- op I or U sets the title's values as of changed_at (a U for an unknown key is an insert);
  op D deletes the title as of changed_at.
- op S marks a full snapshot (title_id null): every title not among the rows carrying the same
  snapshot id is deleted as of the marker's changed_at.
Changes apply in order of (changed_at, source, seq). The same change seen twice (a re-read file,
an overlapping JDBC pull) is one change.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from clickstream.transforms.enrich import effective_versions

CHANGE_COLUMNS = ("title_id", "title", "genre", "op", "changed_at", "snapshot", "source", "seq")
HISTORY_COLUMNS = ("title_id", "title", "genre", "valid_from", "valid_to")
UPSERT, DELETE, SNAPSHOT = ("I", "U"), "D", "S"
# Apply order; op, title and genre only make ties (the same change seen twice) deterministic.
_ORDER = ("changed_at", "source", "seq", "op", "title", "genre")


def title_history(changes: DataFrame) -> DataFrame:
    """Versions (title_id, title, genre, valid_from, valid_to): each change that alters a title's
    values starts a version that lasts until the next change (null valid_to = current); a delete
    closes the version, and deletes before a title's first version are no-ops."""
    rows = changes.where(F.col("op").isin(*UPSERT, DELETE) & F.col("title_id").isNotNull())
    markers = changes.where(F.col("op") == SNAPSHOT).select(
        "snapshot", "changed_at", "source", "seq"
    )
    members = rows.where(F.col("snapshot").isNotNull()).select("snapshot", "title_id").distinct()
    implied = (
        rows.select("title_id")
        .distinct()
        .crossJoin(F.broadcast(markers))
        .join(members, ["snapshot", "title_id"], "left_anti")
        .select(
            "title_id",
            F.lit(None).cast("string").alias("title"),
            F.lit(None).cast("string").alias("genre"),
            F.lit(DELETE).alias("op"),
            "changed_at",
            "snapshot",
            "source",
            "seq",
        )
    )
    ordered = Window.partitionBy("title_id").orderBy(*_ORDER)
    deleted = F.col("op") == DELETE
    state = F.struct(
        deleted.alias("deleted"),
        F.when(~deleted, F.col("title")).alias("title"),
        F.when(~deleted, F.col("genre")).alias("genre"),
    )
    steps = (
        rows.select(*CHANGE_COLUMNS)
        .unionByName(implied)
        .withColumn("_state", state)
        .withColumn("_previous", F.lag("_state").over(ordered))
        # A change is a step when it alters the state; a leading delete alters nothing.
        .where(
            F.when(F.col("_previous").isNull(), ~F.col("_state.deleted")).otherwise(
                ~F.col("_state").eqNullSafe(F.col("_previous"))
            )
        )
    )
    return (
        steps.withColumn("valid_to", F.lead("changed_at").over(ordered))
        .where(~F.col("_state.deleted"))
        .where(F.col("valid_to").isNull() | (F.col("changed_at") < F.col("valid_to")))
        .select(
            "title_id",
            "_state.title",
            "_state.genre",
            F.col("changed_at").alias("valid_from"),
            "valid_to",
        )
    )


def current_titles(history: DataFrame) -> DataFrame:
    """The titles table: the current version of every title not deleted (null valid_to)."""
    return history.where(F.col("valid_to").isNull()).select("title_id", "title", "genre")


def changed_windows(before: DataFrame, after: DataFrame) -> DataFrame:
    """(title_id, window_start, window_end): the stretches of time (null = unbounded) in which an
    event of that title is enriched differently under history `after` than under `before`."""
    old, new = effective_versions(before), effective_versions(after)
    bounds = (
        old.unionByName(new)
        .select("title_id", F.explode(F.array("eff_from", "eff_to")).alias("point"))
        .where(F.col("point").isNotNull())
    )
    keys = old.select("title_id").unionByName(new.select("title_id")).distinct()
    # Segments between consecutive boundaries; the first starts without limit (null).
    starts = keys.select("title_id", F.lit(None).cast("timestamp").alias("seg_start")).unionByName(
        bounds.select("title_id", F.col("point").alias("seg_start"))
    )
    by_start = Window.partitionBy("title_id").orderBy(F.col("seg_start").asc_nulls_first())
    segments = starts.distinct().withColumn("seg_end", F.lead("seg_start").over(by_start))
    compared = _value_at(_value_at(segments, old, "old"), new, "new")
    differs = ~F.col("old").eqNullSafe(F.col("new"))
    return compared.where(differs).select(
        "title_id", F.col("seg_start").alias("window_start"), F.col("seg_end").alias("window_end")
    )


def _value_at(segments: DataFrame, versions: DataFrame, name: str) -> DataFrame:
    """segments plus column `name`: (title, genre) of the version covering the segment, or null."""
    v = versions.select(
        F.col("title_id").alias("_v_id"),
        F.struct("title", "genre").alias(name),
        F.col("eff_from").alias("_v_from"),
        F.col("eff_to").alias("_v_to"),
    )
    start: Column = F.col("seg_start")
    covers = (
        (F.col("title_id") == F.col("_v_id"))
        & (F.col("_v_from").isNull() | (start.isNotNull() & (F.col("_v_from") <= start)))
        & (F.col("_v_to").isNull() | start.isNull() | (start < F.col("_v_to")))
    )
    return segments.join(v, covers, "left").drop("_v_id", "_v_from", "_v_to")
