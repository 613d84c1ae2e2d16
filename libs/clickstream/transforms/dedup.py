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


def copy_key(frame: DataFrame | None = None) -> Column:
    """The copy order as one comparable struct (of frame's columns when given): a smaller key
    is the copy a full run keeps."""
    return F.struct(*(F.col(c) if frame is None else frame[c].alias(c) for c in COPY_ORDER))


def dedup_events(events: DataFrame, *, repeat_window_seconds: float = 0) -> DataFrame:
    """Keep the earliest-ingested copy of each event_id, then drop same-user/type/title repeats
    that follow the previous one by strictly less than `repeat_window_seconds` (0 = off).

    Ties on ingested_at go to the smallest source_file, then the smallest remaining column values,
    so the kept copy never depends on input order or partitioning. Output columns = input columns.
    """
    if repeat_window_seconds < 0:
        raise ValueError(f"repeat_window_seconds must be >= 0, got {repeat_window_seconds!r}")
    columns = events.columns
    by_copy = Window.partitionBy(_KEY).orderBy(*_copy_order(events))
    deduped = (
        events.withColumn("_copy", F.row_number().over(by_copy))
        .where(F.col("_copy") == 1)
        .select(*columns)
    )
    if repeat_window_seconds == 0:
        return deduped
    return _drop_repeats(deduped, round(repeat_window_seconds * _MICROS_PER_SECOND)).select(
        *columns
    )


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
