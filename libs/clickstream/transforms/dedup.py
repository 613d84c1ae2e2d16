"""Duplicate removal: one row per event_id, then optional double-click suppression."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DataType, MapType, StructType

_MICROS_PER_SECOND = 1_000_000
_KEY = "event_id"
_INGESTED = "ingested_at"
_SOURCE = "source_file"
# Which copy of an event_id a full run keeps: the earliest ingested, then the smallest
# source_file (dedup_events, and the incremental runs' classification against stored copies).
COPY_ORDER = (_INGESTED, _SOURCE)
# Event_ids whose copies name different users, at most, filtered as literals (else joined).
CROSSING_LIMIT = 10_000
_SEPARATOR, _NO_USER = "\x1f", "\x00"


def copy_key(frame: DataFrame | None = None) -> Column:
    """The copy order as one comparable struct (of frame's columns when given): a smaller key
    is the copy a full run keeps."""
    return F.struct(*(F.col(c) if frame is None else frame[c].alias(c) for c in COPY_ORDER))


def dedup_events(events: DataFrame, *, repeat_window_seconds: float = 0) -> DataFrame:
    """Keep the earliest-ingested copy of each event_id, then drop same-user/type/title repeats
    that follow the previous one by strictly less than `repeat_window_seconds` (0 = off).

    Ties on ingested_at go to the smallest source_file, then the smallest remaining column values,
    so the kept copy never depends on input order or partitioning. Output columns = input columns,
    rows laid out by user_id (by_user_layout), so sessionizing them shuffles nothing again.
    """
    if repeat_window_seconds < 0:
        raise ValueError(f"repeat_window_seconds must be >= 0, got {repeat_window_seconds!r}")
    columns = events.columns
    deduped = _first_copies(events) if "user_id" in columns else _first_copy(events, [_KEY])
    if repeat_window_seconds == 0:
        return deduped
    return _drop_repeats(deduped, round(repeat_window_seconds * _MICROS_PER_SECOND)).select(
        *columns
    )


def _first_copy(events: DataFrame, keys: list[str]) -> DataFrame:
    """The first copy (copy order) of each event_id among the rows sharing keys."""
    by_copy = Window.partitionBy(*keys).orderBy(*_copy_order(events))
    return (
        events.withColumn("_copy", F.row_number().over(by_copy))
        .where(F.col("_copy") == 1)
        .select(*events.columns)
    )


def _first_copies(events: DataFrame) -> DataFrame:
    """The first copy of each event_id, with one full-row shuffle (by user_id, which sessions
    and repeats need next) instead of two (by event_id, then by user_id).

    Copies of an event_id that all name one user meet in that user's partition. For the few
    event_ids whose copies name different users, an aggregation of their keys alone (event_id,
    user_id and the copy order) finds the user of the first copy: every copy naming another user
    loses, so it is dropped before the shuffle by user_id, and the rest are copies of one user.
    Those ids are collected (an action on keys alone) and filter the rows as literals: no join,
    so nothing but the one shuffle moves the rows. Past CROSSING_LIMIT of them (hostile input)
    they are joined instead, which the planner may do by shuffling the rows by event_id.
    """
    users = F.col("user_id")
    # The copy order up to user_id, nulls last (as _copy_order): its minimum is the first copy.
    named = [c for c in (*COPY_ORDER, "user_id") if c in events.columns]
    order = [F.struct(F.col(c).isNull().alias("n"), F.col(c).alias("v")).alias(c) for c in named]
    crossing = (
        events.groupBy(_KEY)
        .agg(
            F.min(F.struct(*order)).getField("user_id").getField("v").alias("_user"),
            (
                (F.min(users) < F.max(users))
                | ((F.count(users) > 0) & (F.count(users) < F.count(F.lit(1))))
            ).alias("_crossing"),
        )
        .where(F.col("_crossing"))
        .select(_KEY, "_user", F.lit(True).alias("_crossing"))
    )
    found = crossing.limit(CROSSING_LIMIT + 1).collect()
    if not found:
        kept = events
    elif len(found) <= CROSSING_LIMIT:
        first = [_route(r[_KEY], r["_user"]) for r in found]
        route = F.concat_ws(_SEPARATOR, F.col(_KEY), F.coalesce(users, F.lit(_NO_USER)))
        kept = events.where(~F.col(_KEY).isin([r[_KEY] for r in found]) | route.isin(first))
    else:
        joined = events.join(crossing, _KEY, "left")
        first_only = F.col("_crossing").isNull() | users.eqNullSafe(F.col("_user"))
        kept = joined.where(first_only).select(*events.columns)
    return _first_copy(kept.repartition("user_id"), ["user_id", _KEY])


def _route(event_id: str, user_id: str | None) -> str:
    return _SEPARATOR.join((event_id, _NO_USER if user_id is None else user_id))


def _copy_order(events: DataFrame) -> list[Column]:
    """Earliest ingested_at first; then source_file; then every other orderable column."""
    order = [F.col(c).asc_nulls_last() for c in COPY_ORDER if c in events.columns]
    order += [
        F.col(field.name).asc_nulls_last()
        for field in events.schema.fields
        if field.name not in (_KEY, _INGESTED, _SOURCE) and _orderable(field.dataType)
    ]
    return order


def _orderable(dtype: DataType) -> bool:
    """Spark cannot sort by maps (or structs and arrays holding them)."""
    if isinstance(dtype, MapType):
        return False
    if isinstance(dtype, ArrayType):
        return _orderable(dtype.elementType)
    if isinstance(dtype, StructType):
        return all(_orderable(f.dataType) for f in dtype.fields)
    return True


def _drop_repeats(events: DataFrame, window_micros: int) -> DataFrame:
    """Drop an event whose previous same user/type/title event is < window_micros earlier."""
    # partitionBy groups null title_id with null title_id: null-safe equality for free.
    same_kind = Window.partitionBy("user_id", "event_type", "title_id").orderBy("event_time", _KEY)
    micros = F.unix_micros("event_time")
    gap = micros - F.lag(micros).over(same_kind)
    return events.withColumn("_gap", gap).where(
        F.col("_gap").isNull() | (F.col("_gap") >= F.lit(window_micros))
    )
