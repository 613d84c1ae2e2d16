"""The raw bookmark keeps a high-water hour and the objects of a lookback window, no more."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from clickstream import bookmarks
from clickstream.bookmarks import ENABLE, Bookmark, HourWindow
from clickstream.config import Settings, load_settings
from clickstream.pipeline.runner import run_pipeline
from tests.pipeline import incremental_helpers as ih
from tests.pipeline import lake_fixture as lf

RECORDS_A, RECORDS_B, RECORDS_D = 5, 7, 4  # records in the fixture's objects (C is empty)


def settings_for(lake: Path, *overrides: str) -> Settings:
    return load_settings("local", [f"lake_root={lake}", "catalog=none", *overrides])


def records_read(spark: SparkSession, settings: Settings) -> int:
    summary = run_pipeline(settings, spark=spark, echo=ih.quiet)
    return int(summary["totals"]["records_read"])


def state(lake: Path) -> dict[str, object]:
    return bookmarks.show(None, str(lake), "curate_events")  # type: ignore[arg-type]


def lake_without_b(root: Path) -> tuple[Path, Path, dict[str, str]]:
    """The fixture lake with object B (hour 2026/03/01/11) held back; B's path and the sources."""
    sources = lf.build_lake(root)
    b = Path(sources["b"].removeprefix("file:"))
    held = root.parent / f"{root.name}-held-b.gz"
    shutil.move(b, held)
    return b, held, sources


def full_lake(spark: SparkSession, root: Path) -> Settings:
    lf.build_lake(root)
    settings = settings_for(root)
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    return settings


@pytest.mark.slow
def test_a_late_object_inside_the_lookback_window_is_read_once_and_matches_the_full_run(
    spark: SparkSession, tmp_path: Path, assert_frames_equal: Callable[..., None]
) -> None:
    # GIVEN a lake curated up to hour 2026/03/02/00 with a lookback of 14 hours (from 03/01/10)
    b, held, _ = lake_without_b(tmp_path / "late")
    settings = settings_for(tmp_path / "late", "bookmark_lookback_hours=14")
    assert records_read(spark, settings) == RECORDS_A + RECORDS_D
    # WHEN object B lands late in hour 2026/03/01/11, inside the window
    shutil.move(held, b)
    # THEN the next run reads exactly B, and the one after reads nothing
    assert records_read(spark, settings) == RECORDS_B
    assert records_read(spark, settings) == 0
    # AND the tables equal one full run over all four objects
    full = full_lake(spark, tmp_path / "full")
    ih.assert_same_tables(spark, full, settings, assert_frames_equal)


@pytest.mark.slow
def test_an_object_older_than_the_window_is_missed_until_a_run_with_a_larger_lookback(
    spark: SparkSession, tmp_path: Path, assert_frames_equal: Callable[..., None]
) -> None:
    # GIVEN a lake curated up to hour 2026/03/02/00 with a lookback of 3 hours
    root = tmp_path / "missed"
    b, held, sources = lake_without_b(root)
    settings = settings_for(root, "bookmark_lookback_hours=3")
    assert records_read(spark, settings) == RECORDS_A + RECORDS_D
    # THEN the bookmark keeps the high-water hour and only the objects from 03/01/21 on
    kept = state(root)
    assert kept["high_water_hour"] == "2026/03/02/00" and kept["lookback_hours"] == 3
    assert list(kept["processed"]) == [sources["d"]]  # type: ignore[call-overload]
    # WHEN object B lands in hour 2026/03/01/11, before the window: it is missed by design
    shutil.move(held, b)
    assert records_read(spark, settings) == 0
    # WHEN one run lists 24 hours back
    wider = settings_for(root, "bookmark_lookback_hours=24")
    # THEN it reads B and the objects the window had let go (A, C), and the tables equal the
    # full run's (A's events are stored already: reading them again changes nothing)
    assert records_read(spark, wider) == RECORDS_A + RECORDS_B
    full = full_lake(spark, tmp_path / "full")
    ih.assert_same_tables(spark, full, settings, assert_frames_equal)


def hourly_window(lake: Path, hours: list[str], per_hour: int, lookback: int) -> HourWindow:
    """The inputs of the given hours, per_hour objects each, listed from a start hour on."""
    inputs = {f"{lake}/raw/{h}/obj-{i}": "1:1" for h in hours for i in range(per_hour)}

    def listing(from_hour: str | None) -> dict[str, str]:
        return {k: v for k, v in inputs.items() if from_hour is None or hour(k) >= from_hour}

    def hour(key: str) -> str:
        return key.split("/raw/", 1)[1].rsplit("/", 1)[0]

    return HourWindow(listing, hour, lookback)


def test_bookmark_state_stays_bounded_whatever_the_history(tmp_path: Path) -> None:
    # GIVEN 500 hours of history, 4 objects an hour, curated hour by hour with a 48-hour lookback
    hours = [f"2026/01/{1 + h // 24:02d}/{h % 24:02d}" for h in range(24 * 20)]
    sizes = []
    for done in range(1, len(hours) + 1):
        bookmark = Bookmark.load(None, str(tmp_path), "curate_events", ENABLE)  # type: ignore[arg-type]
        chosen = bookmark.select(hourly_window(tmp_path, hours[:done], 4, 48))
        # THEN each run selects only the new hour's objects
        assert chosen == sorted(f"{tmp_path}/raw/{hours[done - 1]}/obj-{i}" for i in range(4))
        bookmark.commit()
        sizes.append(len(bookmark.processed))
    # AND the state holds the objects of at most 49 hours, however many hours were curated
    assert max(sizes) == 49 * 4 and sizes[-1] == 49 * 4
    doc = state(tmp_path)
    assert doc["high_water_hour"] == hours[-1] and len(doc["processed"]) == 49 * 4  # type: ignore[arg-type]
    assert min(doc["processed"]) == f"{tmp_path}/raw/{hours[-49]}/obj-0"  # type: ignore[type-var]
