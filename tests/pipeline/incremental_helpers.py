"""Helpers for comparing an incremental lake with a full-run lake built from the same objects."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from clickstream.config import Settings, load_settings
from clickstream.tables import (
    DAILY_ACTIVE_USERS,
    EVENTS,
    QUARANTINE,
    SESSIONS,
    USER_ACTIVITY,
    USERS,
    Table,
    events_table,
)
from clickstream.writer import format_of, read_table
from tests.delta_rs import read_delta, stale_manifests

COMPARED: tuple[Table, ...] = (
    EVENTS,
    SESSIONS,
    DAILY_ACTIVE_USERS,
    QUARANTINE,
    USER_ACTIVITY,
    USERS,
)


def raw_objects(root: Path) -> list[Path]:
    """Raw objects under a lake, in arrival order (the path starts with YYYY/MM/DD/HH)."""
    return sorted(p for p in (root / "raw" / "clickstream").rglob("*") if p.is_file())


def relative(path: Path, root: Path) -> str:
    return str(path.relative_to(root / "raw" / "clickstream"))


def copy_objects(objects: Iterable[Path], src: Path, dst: Path) -> None:
    """Copy raw objects (keeping their relative paths and modification times) into another lake."""
    for obj in objects:
        target = dst / "raw" / "clickstream" / relative(obj, src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(obj, target)


def copy_reference(src: Path, dst: Path) -> None:
    shutil.copytree(src / "ref", dst / "ref", dirs_exist_ok=True)


def split_by_arrival(objects: list[Path], src: Path, boundaries: list[str]) -> list[list[Path]]:
    """Batches of objects whose arrival-hour path sorts below each boundary ('YYYY/MM/DD/HH')."""
    batches: list[list[Path]] = [[] for _ in range(len(boundaries) + 1)]
    for obj in objects:
        index = sum(relative(obj, src) >= b for b in boundaries)
        batches[index].append(obj)
    return batches


def comparable(spark: SparkSession, settings: Settings, table: Table) -> DataFrame:
    """A table's rows with source_file (and the object an object-level quarantine record names)
    relative to the raw zone, so two lakes can be compared (events with the lake's promoted
    columns)."""
    if table.name == EVENTS.name:
        table = events_table(settings.promoted_fields)
    df = read_table(spark, settings.lake, table)
    if "source_file" in df.columns:
        df = df.withColumn(
            "source_file", F.regexp_replace("source_file", r"^.*/raw/clickstream/", "")
        )
    if "record" in df.columns:  # an object-level record names its object
        df = df.withColumn(
            "record", F.regexp_replace("record", r'"[a-z0-9]+:[^"]*/raw/clickstream/', '"')
        )
    return df


# Seoul time and repeat suppression on is the harder case (dates and lookbacks shift, and
# suppressed events must be kept as state); plain UTC is the default.
VARIANTS = {
    "utc": ["timezone=UTC"],
    "seoul_with_repeat_window": ["timezone=Asia/Seoul", "repeat_window_seconds=2"],
}


def quiet(_: str) -> None:
    """A progress printer that prints nothing."""


def lake_settings(lake: Path, overrides: list[str]) -> Settings:
    """Local settings for a lake under a test folder, with no catalog.

    These tests compare the lake's files; catalog registration has its own end-to-end tests and
    would add about 1.5 s of metastore calls to every run here.
    """
    return load_settings("local", [f"lake_root={lake}", "catalog=none", *overrides])


def assert_same_tables(
    spark: SparkSession,
    a: Settings,
    b: Settings,
    assert_frames_equal: Callable[..., None],
    *,
    micros: bool = False,
) -> None:
    """Events, sessions, DAU, quarantine, user activity and users of two lakes are equal (source
    paths made relative). micros compares timestamps as unix microseconds: Python's datetime
    cannot hold every instant Spark does (0001-01-01T00:00:00Z fails in fromtimestamp)."""
    for table in COMPARED:
        left, right = comparable(spark, a, table), comparable(spark, b, table)
        if micros:
            left, right = as_micros(left), as_micros(right)
        assert_frames_equal(left, right)


def as_micros(df: DataFrame) -> DataFrame:
    """df with every timestamp column as unix microseconds (a long)."""
    return df.select(
        [
            F.unix_micros(f.name).alias(f.name) if f.dataType.typeName() == "timestamp" else f.name
            for f in df.schema.fields
        ]
    )


def assert_delta_tables_as_delta_rs_reads_them(
    spark: SparkSession,
    expected: Settings,
    delta: Settings,
    make_frame: Callable[..., DataFrame],
    assert_frames_equal: Callable[..., None],
) -> None:
    """Every Delta table of a table_format=delta lake, read by delta-rs (not Spark), equals the
    same table of another lake (source paths made relative)."""
    for table in COMPARED:
        if format_of(table, delta.table_format) != "delta":
            continue
        if table.name == EVENTS.name:
            table = events_table(delta.promoted_fields)
        actual = read_delta(make_frame, delta.path(table.location), table)
        if "source_file" in actual.columns:
            actual = actual.withColumn(
                "source_file", F.regexp_replace("source_file", r"^.*/raw/clickstream/", "")
            )
        assert_frames_equal(actual, comparable(spark, expected, table))


def assert_manifests_current(settings: Settings) -> None:
    """Every partitioned Delta table's symlink and COPY manifests list exactly its live files."""
    for table in COMPARED:
        if table.partitioned and format_of(table, settings.table_format) == "delta":
            assert stale_manifests(settings.path(table.location)) == [], table.name


def hold_back_later_half(lake: Path, parked: Path) -> None:
    """Move the later half of a lake's raw objects (by arrival) to parked: the second batch."""
    objects = raw_objects(lake)
    later = objects[len(objects) // 2 :]
    copy_objects(later, lake, parked)
    for path in later:
        path.unlink()


def bring_back(parked: Path, lake: Path) -> None:
    """Deliver the objects hold_back_later_half parked."""
    copy_objects(raw_objects(parked), parked, lake)
