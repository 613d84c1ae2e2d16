"""An hourly run writes what changed: new rows appended, only the files holding a changed row
rewritten, and the tables still equal one full run over the same objects."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from clickstream.config import Settings
from clickstream.pipeline.runner import run_pipeline
from clickstream.tables import EVENTS
from clickstream.writer import read_table
from tests.pipeline import incremental_helpers as ih
from tests.pipeline.hostile_objects import object_file

pytestmark = pytest.mark.slow

DAY = "2026-03-01"
START = datetime(2026, 3, 1, 10, tzinfo=UTC)
LATE_USER = "u05"


def _line(event_id: str, user: str, at: datetime) -> str:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(
        {"event_id": event_id, "user_id": user, "event_type": "view", "event_time": stamp}
    )


def _object(lake: Path, hour: int, n: int, lines: list[str]) -> None:
    path = object_file(lake, f"2026/03/01/{hour:02d}", f"2026-03-01-{hour:02d}-05-00", n)
    path.write_text("\n".join(lines) + "\n")


def _batches(lake: Path) -> list[Callable[[], None]]:
    """Four arrivals: users u00-u19 then u20-u39 (10:00-11:30, one session each), one event per
    user at 11:40 (extends every session), and a late event of LATE_USER at 09:55 (starts its
    session earlier: each of its rows gets the new session_id)."""
    group = lambda users: [  # noqa: E731
        _line(f"e-{u}-{i}", f"u{u:02d}", START + timedelta(minutes=10 * i))
        for u in users
        for i in range(10)
    ]
    extend = [_line(f"x-{u}", f"u{u:02d}", START + timedelta(minutes=100)) for u in range(40)]
    late = [_line("late-1", LATE_USER, START - timedelta(minutes=5))]
    return [
        lambda: _object(lake, 12, 1, group(range(20))),
        lambda: _object(lake, 13, 2, group(range(20, 40))),
        lambda: _object(lake, 14, 3, extend),
        lambda: _object(lake, 15, 4, late),
    ]


def _files(spark: SparkSession, settings: Settings) -> dict[str, int]:
    """The events table's live files of DAY: name -> rows."""
    live = [f for f in read_table(spark, settings.lake, EVENTS).inputFiles() if DAY in f]
    return {f.rsplit("/", 1)[-1]: spark.read.parquet(f).count() for f in live}


def _users_in(spark: SparkSession, settings: Settings, names: set[str]) -> set[str]:
    live = read_table(spark, settings.lake, EVENTS).inputFiles()
    files = [f for f in live if f.rsplit("/", 1)[-1] in names]
    return {r["user_id"] for r in spark.read.parquet(*files).select("user_id").distinct().collect()}


@pytest.mark.parametrize("table_format", ["parquet", "delta"])
def test_hourly_runs_append_new_rows_and_rewrite_only_the_files_of_changed_users(
    spark: SparkSession,
    sample_lake: Path,
    tmp_path: Path,
    table_format: str,
    assert_frames_equal: Callable[..., None],
) -> None:
    overrides = [f"table_format={table_format}"]
    lake = tmp_path / "hourly"
    ih.copy_reference(sample_lake, lake)
    settings = ih.lake_settings(lake, overrides)
    arrivals = _batches(lake)
    # GIVEN a day written by two runs: one file of u00-u19's rows, one of u20-u39's
    for arrive in arrivals[:2]:
        arrive()
        run_pipeline(settings, spark=spark, echo=ih.quiet)
    first = _files(spark, settings)
    assert len(first) == 2 and sum(first.values()) == 400

    # WHEN an hourly batch only extends every user's session (40 new events)
    arrivals[2]()
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN no stored event row is written again: the two files stay, new files hold the 40 rows
    second = _files(spark, settings)
    assert {n: second[n] for n in first} == first
    assert sum(rows for n, rows in second.items() if n not in first) == 40

    # WHEN a late event starts LATE_USER's session earlier (all its rows get a new session_id)
    arrivals[3]()
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN only the files holding LATE_USER's rows are rewritten; every other file stays
    third = _files(spark, settings)
    replaced = {n for n in second if n not in third}
    assert (
        replaced
        and _users_in(spark, settings, set(second) - replaced)
        and LATE_USER not in (_users_in(spark, settings, set(third) & set(second)))
    )
    assert all(third[n] == second[n] for n in set(third) & set(second))
    rewritten = sum(rows for n, rows in third.items() if n not in second)
    assert rewritten == sum(second[n] for n in replaced) + 1
    events = ih.comparable(spark, settings, EVENTS).where(F.col("user_id") == LATE_USER)
    assert events.select("session_id").distinct().count() == 1

    # AND every table equals one full run over the same objects
    full = tmp_path / "full"
    ih.copy_reference(sample_lake, full)
    ih.copy_objects(ih.raw_objects(lake), lake, full)
    full_settings = ih.lake_settings(full, overrides)
    run_pipeline(full_settings, spark=spark, echo=ih.quiet)
    ih.assert_same_tables(spark, full_settings, settings, assert_frames_equal)
