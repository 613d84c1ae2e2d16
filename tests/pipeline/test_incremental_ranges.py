"""A late event changes only the range of time around it: bounded cost, exact result."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from clickstream.pipeline.curate.repeat_suppression import SUPPRESSED
from clickstream.pipeline.runner import run_pipeline
from tests.pipeline import incremental_helpers as ih

pytestmark = pytest.mark.slow

# One-minute sessions and a 2 s double-click window keep the scenario small.
OVERRIDES = ["session_timeout_minutes=1", "repeat_window_seconds=2"]
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def event(event_id: str, user: str, kind: str, at: datetime, title: str = "t1") -> str:
    stamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps(
        {
            "event_id": event_id,
            "user_id": user,
            "event_type": kind,
            "event_time": stamp,
            "title_id": title,
        }
    )


def first_object() -> list[str]:
    """u1 clicks t1 every second for 70 s (a burst: only the first click is kept), then views t2
    61 s after the burst; u1 and u2 are also active on other days."""
    burst = [event(f"b{i:02d}", "u1", "click", T0 + timedelta(seconds=i)) for i in range(71)]
    view = event("v1", "u1", "view", T0 + timedelta(seconds=131), "t2")
    other_days = [
        event("o1", "u1", "view", T0 - timedelta(days=2)),
        event("o2", "u2", "view", T0 - timedelta(days=1, minutes=5)),
        event("o3", "u2", "view", T0 + timedelta(days=2, hours=3)),
        event("o4", "u2", "view", T0 + timedelta(hours=5)),
    ]
    return [*burst, view, *other_days]


def late_object() -> list[str]:
    """A late click 1.5 s after the burst's last one (a repeat of it), and a re-delivered view."""
    return [
        event("late", "u1", "click", T0 + timedelta(seconds=71.5)),
        event("v1", "u1", "view", T0 + timedelta(seconds=131), "t2"),
    ]


def write_object(lake: Path, arrival: datetime, lines: list[str], key: str) -> None:
    hour = arrival.strftime("%Y/%m/%d/%H")
    stamp = arrival.strftime("%Y-%m-%d-%H-%M-%S")
    name = f"clickstream-1-{stamp}-{key * 8}-0000-4000-8000-{key * 12}"
    path = lake / "raw" / "clickstream" / hour / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_late_repeat_rewrites_only_its_date_and_equals_the_full_run(
    spark: SparkSession, tmp_path: Path, assert_frames_equal: Callable[..., None]
) -> None:
    first_arrival, late_arrival = T0 + timedelta(days=2, hours=4), T0 + timedelta(days=3)
    # GIVEN a lake curated over five dates (2026-02-27 .. 2026-03-03)
    incremental = ih.lake_settings(tmp_path / "incremental", OVERRIDES)
    write_object(tmp_path / "incremental", first_arrival, first_object(), "a")
    run_pipeline(incremental, spark=spark, echo=ih.quiet)
    # WHEN a late repeat click and a re-delivered event of 2026-03-01 arrive
    write_object(tmp_path / "incremental", late_arrival, late_object(), "b")
    summary = run_pipeline(incremental, spark=spark, echo=ih.quiet)
    # THEN only 2026-03-01 and its neighbours are read, and only 2026-03-01 is rewritten ...
    curate = summary["jobs"]["curate_events"]
    assert curate["dates_read"] <= 3 and curate["dates_rewritten"] == 1
    # daily_active_users: 2026-03-01 and 2026-03-03, the later date its 28-day window reaches
    assert summary["jobs"]["daily_active_users"]["days"] == 2
    # ... and every table (repeat-suppressed state included) equals one full run: the late
    # click is a repeat of a suppressed click that lies outside the range it changes
    full = ih.lake_settings(tmp_path / "full", OVERRIDES)
    write_object(tmp_path / "full", first_arrival, first_object(), "a")
    write_object(tmp_path / "full", late_arrival, late_object(), "b")
    run_pipeline(full, spark=spark, echo=ih.quiet)
    ih.assert_same_tables(spark, full, incremental, assert_frames_equal)
    assert_frames_equal(
        ih.comparable(spark, incremental, SUPPRESSED), ih.comparable(spark, full, SUPPRESSED)
    )
    assert curate["curated"] == 0 and curate["duplicates_removed"] == 2
