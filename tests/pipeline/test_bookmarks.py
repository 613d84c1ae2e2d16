"""Bookmark options behave as AWS Glue documents --job-bookmark-option, plus show and reset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from clickstream import bookmarks, cli
from clickstream.config import Settings, load_settings
from clickstream.pipeline import curate_events
from clickstream.pipeline.runner import run_pipeline
from tests.pipeline import lake_fixture as lf

pytestmark = pytest.mark.slow
RECORDS = 16  # records in the fixture lake's objects


def settings_for(lake: Path, option: str) -> Settings:
    # No catalog: these tests are about the bookmark store (the catalog has end-to-end tests).
    return load_settings(
        "local", [f"lake_root={lake}", f"bookmark_option={option}", "catalog=none"]
    )


def curate(spark: SparkSession, lake: Path, option: str = "job-bookmark-enable") -> int:
    """Run curate_events alone; the number of records it read."""
    summary = run_pipeline(
        settings_for(lake, option), ["curate_events"], spark=spark, echo=lambda _: None
    )
    return summary["totals"]["records_read"]


def state(lake: Path) -> dict[str, Any] | None:
    """The bookmark's current version (None when never committed)."""
    doc = bookmarks.show(None, str(lake), "curate_events")  # type: ignore[arg-type]
    return doc if "updated_at" in doc else None


def test_enable_advances_disable_rereads_without_advancing_and_a_changed_object_is_new(
    spark: SparkSession, tmp_path: Path
) -> None:
    sources = lf.build_lake(tmp_path)
    # WHEN enabled THEN every object is read once and recorded (the empty one too)
    assert curate(spark, tmp_path) == RECORDS
    recorded = state(tmp_path)
    assert recorded is not None and len(recorded["processed"]) == 4
    assert curate(spark, tmp_path) == 0
    # WHEN disabled THEN every object is read again and the state is untouched
    assert curate(spark, tmp_path, "job-bookmark-disable") == RECORDS
    assert state(tmp_path) == recorded
    # GIVEN object D rewritten with one more record (new size and modification time)
    path = Path(sources["d"].removeprefix("file:"))
    extra = '{"event_id":"e10","user_id":"u4","event_type":"view","event_time":"2026-03-02T08:00:00Z"}\n'
    path.write_text(lf.OBJECT_D + extra, encoding="utf-8")
    # THEN only that object is read again
    assert curate(spark, tmp_path) == 5


def test_pause_processes_new_objects_without_advancing_the_state(
    spark: SparkSession, tmp_path: Path
) -> None:
    lf.build_lake(tmp_path)
    assert curate(spark, tmp_path, "job-bookmark-pause") == RECORDS
    assert state(tmp_path) is None
    # WHEN enabled afterwards THEN the paused run's objects are still new
    assert curate(spark, tmp_path) == RECORDS
    assert curate(spark, tmp_path, "job-bookmark-pause") == 0


def test_a_failed_run_leaves_the_state_untouched(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lf.build_lake(tmp_path)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(curate_events.changes, "publish", broken)
    with pytest.raises(OSError, match="disk full"):
        curate(spark, tmp_path)
    assert state(tmp_path) is None
    monkeypatch.undo()
    assert curate(spark, tmp_path) == RECORDS


def test_cli_shows_and_resets_a_jobs_bookmark(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lf.build_lake(tmp_path)
    curate(spark, tmp_path)
    assert cli.main(["bookmarks", "show", "curate_events", "--set", f"lake_root={tmp_path}"]) == 0
    shown = json.loads(capsys.readouterr().out.strip())
    assert shown["job"] == "curate_events" and shown["processed"] == 4
    assert shown["high_water_hour"] == "2026/03/02/00"
    # WHEN reset THEN the next run processes every object again
    assert cli.main(["bookmarks", "reset", "curate_events", "--set", f"lake_root={tmp_path}"]) == 0
    assert "reset: curate_events" in capsys.readouterr().out
    assert curate(spark, tmp_path) == RECORDS


def test_cli_rejects_an_unknown_job_naming_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bookmarks", "reset", "curate_event"]) == 2
    assert (
        "unknown job(s) curate_event; jobs are: load_titles, curate_events"
        in capsys.readouterr().err
    )
