"""A run that fails says so, and rerunning a failing batch does not pile up change sets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from clickstream.pipeline import changes
from clickstream.pipeline.curate import events_write
from clickstream.pipeline.runner import run_pipeline
from tests.pipeline import incremental_helpers as ih
from tests.pipeline import lake_fixture as lf

pytestmark = pytest.mark.slow


def _runs(lake: Path) -> dict[str, Any]:
    return json.loads((lake / "_runs" / "latest.json").read_text())


def test_a_failing_batch_records_each_failure_and_keeps_one_unready_change_set(
    spark: SparkSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    assert_frames_equal: Callable[..., None],
) -> None:
    lake = tmp_path / "lake"
    lf.build_lake(lake)
    ih.hold_back_later_half(lake, tmp_path / "parked")
    settings = ih.lake_settings(lake, [])
    # GIVEN a lake whose last run succeeded
    good = run_pipeline(settings, spark=spark, echo=ih.quiet)
    assert _runs(lake)["status"] == "succeeded"
    ih.bring_back(tmp_path / "parked", lake)

    def full_disk(*args: Any, **kwargs: Any) -> Any:
        raise OSError("No space left on device\nwhile writing part-00000.parquet")

    # (whole dates, or only the rows that changed: the first failure makes the next runs
    # recover its dates whole)
    monkeypatch.setattr(events_write, "write_table", full_disk)
    monkeypatch.setattr(events_write, "write_changed_rows", full_disk)
    # WHEN the next batch fails in its events write, three runs in a row
    for _ in range(3):
        with pytest.raises(OSError, match="No space left"):
            run_pipeline(settings, spark=spark, echo=ih.quiet)
        # THEN each run records its failure: the job, the error's first line, the last good run
        latest = _runs(lake)
        assert latest["status"] == "failed" and latest["failed_job"] == "curate_events"
        assert latest["error"] == "OSError: No space left on device"
        assert latest["last_succeeded_run_id"] == good["run_id"]
        own = json.loads((lake / "_runs" / f"{latest['run_id']}.json").read_text())
        assert own == latest
        # AND the batch's change set is taken over by each rerun: one unready set, never more
        unready = changes.list_change_sets(spark, settings.lake, ready_only=False)
        assert [cs.ready for cs in unready.values()].count(False) == 1
    # AND the last good run's record is still readable
    assert json.loads((lake / "_runs" / f"{good['run_id']}.json").read_text())["status"] == (
        "succeeded"
    )
    # WHEN the fault is gone THEN the next run completes the batch exactly, and says so
    monkeypatch.undo()
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    assert _runs(lake)["status"] == "succeeded"
    assert all(cs.ready for cs in changes.list_change_sets(spark, settings.lake).values())
    assert not [
        cs
        for cs in changes.list_change_sets(spark, settings.lake, ready_only=False).values()
        if not cs.ready
    ]
    full = tmp_path / "full"
    lf.build_lake(full)
    reference = ih.lake_settings(full, [])
    run_pipeline(reference, spark=spark, echo=ih.quiet)
    ih.assert_same_tables(spark, reference, settings, assert_frames_equal)


def test_a_failure_record_never_holds_credentials_from_the_error(tmp_path: Path) -> None:
    from clickstream.pipeline.run_records import error_line

    # GIVEN an error whose message echoes a JDBC URL with a password
    exc = RuntimeError(
        "could not connect to jdbc:postgresql://app:s3cr3t@db:5432/titles?password=hunter2"
    )
    # THEN its line keeps the URL's shape without the secrets
    line = error_line(exc)
    assert "s3cr3t" not in line and "hunter2" not in line
    assert (
        line
        == "RuntimeError: could not connect to jdbc:postgresql://***@db:5432/titles?password=***"
    )
