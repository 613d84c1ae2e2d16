"""New, returning, 7- and 28-day users stay exact when late events arrive, batch after batch."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from clickstream.config import Settings
from clickstream.pipeline.daily_active_users import BUILT_MARKER
from clickstream.pipeline.runner import run_pipeline
from clickstream.tables import DAILY_ACTIVE_USERS, USER_ACTIVITY, USERS
from clickstream.transforms.dau import MONTH_DAYS
from clickstream.writer import read_table
from clickstream_tools.sample import generate_sample
from tests.pipeline import incremental_helpers as ih

pytestmark = pytest.mark.slow

DAY0 = date(2026, 3, 1)
# Events older than the default 30-day window, read anyway.
NO_AGE_BOUND = ["event_time_max_age_days=null"]
Check = Callable[..., None]


def day(n: int) -> str:
    return (DAY0 + timedelta(days=n)).isoformat()


def event(event_id: str, user: str, on_day: int, hour: int = 12) -> str:
    at = datetime(2026, 3, 1, hour, tzinfo=UTC) + timedelta(days=on_day)
    stamp = at.isoformat().replace("+00:00", "Z")
    return json.dumps(
        {"event_id": event_id, "user_id": user, "event_type": "view", "event_time": stamp}
    )


def write_object(lake: Path, arrival_day: int, lines: list[str], key: str) -> None:
    """One raw object arriving at 23:00 UTC of arrival_day."""
    arrival = datetime(2026, 3, 1, 23, tzinfo=UTC) + timedelta(days=arrival_day)
    name = f"clickstream-1-{arrival:%Y-%m-%d-%H-%M-%S}-{key * 8}-0000-4000-8000-{key * 12}"
    path = lake / "raw" / "clickstream" / f"{arrival:%Y/%m/%d/%H}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def dau_rows(spark: SparkSession, settings: Settings) -> dict[str, tuple[Any, ...]]:
    """dt -> (active, events, new, returning, 7d, 28d)."""
    rows = read_table(spark, settings.lake, DAILY_ACTIVE_USERS).collect()
    return {r["dt"]: tuple(r)[:-1] for r in rows}


def full_lake(
    tmp_path: Path, incremental: Path, name: str, overrides: Sequence[str] = ()
) -> Settings:
    """A lake with the same raw objects as `incremental`, curated in one run."""
    lake = tmp_path / name
    shutil.copytree(incremental / "raw", lake / "raw")
    return ih.lake_settings(lake, list(overrides))


def test_a_first_day_moved_earlier_by_a_late_event_changes_new_users_on_both_dates(
    spark: SparkSession, tmp_path: Path, assert_frames_equal: Check
) -> None:
    # GIVEN u1 first seen on day 5 and u2 active on days 2 and 5
    lake = tmp_path / "incremental"
    write_object(lake, 5, [event("a", "u1", 5), event("b", "u2", 2), event("c", "u2", 5)], "a")
    settings = ih.lake_settings(lake, [])
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    assert dau_rows(spark, settings)[day(5)][2:4] == (1, 1)  # u1 new, u2 returning
    # WHEN an event of u1 on day 1 arrives late
    write_object(lake, 6, [event("late", "u1", 1)], "b")
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN u1 is new on day 1 and returning on day 5; day 2 now sees u1 in its windows
    dau = dau_rows(spark, settings)
    assert dau[day(1)] == (1, 1, 1, 0, 1, 1)
    assert dau[day(2)] == (1, 1, 1, 0, 2, 2)
    assert dau[day(5)] == (2, 2, 0, 2, 2, 2)
    users = {r["user_id"]: r["dt"] for r in read_table(spark, settings.lake, USERS).collect()}
    assert users == {"u1": day(1), "u2": day(2)}
    # ... exactly what one run over both objects gives
    full = full_lake(tmp_path, lake, "full")
    run_pipeline(full, spark=spark, echo=ih.quiet)
    ih.assert_same_tables(spark, full, settings, assert_frames_equal)


def test_a_window_filled_by_a_late_event_changes_the_later_dates_it_reaches(
    spark: SparkSession, tmp_path: Path, assert_frames_equal: Check
) -> None:
    # GIVEN u1 active on days 0, 9 and 40; u2 active on day 20 only, all arriving on day 40 (the
    # age bound off: events up to 40 days old are the point here)
    lake = tmp_path / "incremental"
    lines = [event("a", "u1", 0), event("b", "u1", 9), event("c", "u1", 40), event("d", "u2", 20)]
    write_object(lake, 40, lines, "a")
    settings = ih.lake_settings(lake, NO_AGE_BOUND)
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    before = dau_rows(spark, settings)
    # WHEN an event of u2 on day 5 arrives late
    write_object(lake, 41, [event("late", "u2", 5)], "b")
    summary = run_pipeline(settings, spark=spark, echo=ih.quiet)
    after = dau_rows(spark, settings)
    # THEN day 9 counts u2 in 7 days (day 5 is 4 days before), day 20 in 28 days (15 before),
    # day 20 sees u2 returning; day 0 (before it) and day 40 (35 days after) are unchanged
    assert after[day(9)] == (1, 1, 0, 1, 2, 2)
    assert after[day(20)] == (1, 1, 0, 1, 1, 2)
    assert after[day(0)] == before[day(0)] and after[day(40)] == before[day(40)]
    assert after[day(5)] == (1, 1, 1, 0, 2, 2)
    # ... only dates within 27 days after the late one were recomputed (days 5, 9 and 20)
    assert summary["jobs"]["daily_active_users"]["days"] == 3
    full = full_lake(tmp_path, lake, "full", NO_AGE_BOUND)
    run_pipeline(full, spark=spark, echo=ih.quiet)
    ih.assert_same_tables(spark, full, settings, assert_frames_equal)


def test_a_35_day_run_split_into_batches_equals_one_full_run(
    spark: SparkSession, tmp_path: Path, assert_frames_equal: Check
) -> None:
    # GIVEN 35 days of generated traffic (late events, re-deliveries) cut into 4 arrival batches
    source = tmp_path / "source"
    generate_sample(source, events=700, users=25, days=35, seed=3, titles=10)
    objects = ih.raw_objects(source)
    boundaries = [o.relative_to(source / "raw" / "clickstream").as_posix()[:13] for o in objects]
    cuts = sorted(set(boundaries))
    batches = ih.split_by_arrival(objects, source, [cuts[len(cuts) * k // 4] for k in (1, 2, 3)])
    assert len([b for b in batches if b]) == 4
    # WHEN the pipeline runs after each batch
    lake = tmp_path / "incremental"
    ih.copy_reference(source, lake)
    incremental = ih.lake_settings(lake, [])
    for batch in batches:
        ih.copy_objects(batch, source, lake)
        run_pipeline(incremental, spark=spark, echo=ih.quiet)
    # THEN every table, user metrics included, equals one run over all objects
    full_root = tmp_path / "full"
    ih.copy_reference(source, full_root)
    ih.copy_objects(objects, source, full_root)
    full = ih.lake_settings(full_root, [])
    run_pipeline(full, spark=spark, echo=ih.quiet)
    ih.assert_same_tables(spark, full, incremental, assert_frames_equal)
    dts = sorted(dau_rows(spark, full))
    assert date.fromisoformat(dts[-1]) - date.fromisoformat(dts[0]) > timedelta(days=MONTH_DAYS)


def test_an_existing_lake_gets_its_activity_and_user_metrics_on_the_first_run(
    spark: SparkSession, tmp_path: Path, assert_frames_equal: Check
) -> None:
    # GIVEN a lake curated before user metrics existed: no activity, users or marker, and a DAU
    # table holding only active_users and events
    lake = tmp_path / "upgraded"
    write_object(lake, 3, [event("a", "u1", 1), event("b", "u2", 3)], "a")
    settings = ih.lake_settings(lake, [])
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    for table in (USER_ACTIVITY, USERS, DAILY_ACTIVE_USERS):
        shutil.rmtree(lake / table.location)
    (lake / BUILT_MARKER).unlink()
    spark.createDataFrame(
        [(2, 2, day(1))], "active_users long, events long, dt string"
    ).write.partitionBy("dt").parquet(str(lake / DAILY_ACTIVE_USERS.location))
    # WHEN the next hourly run brings one new event
    write_object(lake, 4, [event("c", "u1", 4)], "b")
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN activity, users and every DAU date are built from all stored events
    full = full_lake(tmp_path, lake, "full")
    run_pipeline(full, spark=spark, echo=ih.quiet)
    ih.assert_same_tables(spark, full, settings, assert_frames_equal)
    assert sorted(dau_rows(spark, settings)) == [day(1), day(3), day(4)]


@pytest.mark.parametrize("table_format", ["parquet", "delta"])
def test_a_date_emptied_by_an_earlier_copy_leaves_every_user_table(
    spark: SparkSession, tmp_path: Path, assert_frames_equal: Check, table_format: str
) -> None:
    # GIVEN u1's only event e1 on day 3, u2 active on day 2, in a lake of table_format
    lake = tmp_path / "incremental"
    write_object(lake, 3, [event("e1", "u1", 3), event("e2", "u2", 2)], "b")
    settings = ih.lake_settings(lake, [f"table_format={table_format}"])
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    assert sorted(dau_rows(spark, settings)) == [day(2), day(3)]
    # WHEN a copy of e1 ingested earlier (named on day 1, delivered late) says day 1
    write_object(lake, 1, [event("e1", "u1", 1)], "a")
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN day 3 has no row left in daily_active_users, user_activity or users; u1 is new on day 1
    dau = dau_rows(spark, settings)
    assert dau == {day(1): (1, 1, 1, 0, 1, 1), day(2): (1, 1, 1, 0, 2, 2)}
    for table in (USER_ACTIVITY, USERS):
        assert {r["dt"] for r in read_table(spark, settings.lake, table).collect()} == {
            day(1),
            day(2),
        }
    # ... exactly what one run over both objects gives
    full_root = tmp_path / "full"
    shutil.copytree(lake / "raw", full_root / "raw")
    full = ih.lake_settings(full_root, [f"table_format={table_format}"])
    run_pipeline(full, spark=spark, echo=ih.quiet)
    ih.assert_same_tables(spark, full, settings, assert_frames_equal)
