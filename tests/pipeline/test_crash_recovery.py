"""Runs killed between writing and committing, then rerun, give exactly the full run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from clickstream.config import Settings
from clickstream.pipeline.context import BookmarkInputs, Selection
from clickstream.pipeline.curate import events_write
from clickstream.pipeline.runner import run_pipeline
from clickstream.tables import DQ_RESULTS, EVENTS, Table
from tests.pipeline import incremental_helpers as ih

pytestmark = pytest.mark.slow

# Three batches for the crash scenario: the first, then two with crashes.
CRASH_BOUNDARIES = ["2026/03/01/18", "2026/03/02/12"]


def test_run_with_no_new_objects_rewrites_nothing(
    spark: SparkSession, full_runs: Callable[[str], Settings]
) -> None:
    settings = full_runs("utc")
    curated = Path(settings.lake) / "curated"
    log = Path(settings.path(DQ_RESULTS.location))  # every run appends its dq results

    def data_files() -> list[tuple[Path, int]]:
        found = curated.rglob("*.parquet")
        return sorted((p, p.stat().st_mtime_ns) for p in found if log not in p.parents)

    files = data_files()
    summary = run_pipeline(settings, spark=spark, echo=ih.quiet)
    assert summary["totals"]["records_read"] == 0 and summary["totals"]["days"] == 0
    assert data_files() == files


class SimulatedCrash(RuntimeError):
    """The process died here."""


def crash_before_commit(patch: pytest.MonkeyPatch, job: str) -> None:
    """The job writes its outputs, then dies before its bookmark is committed."""
    original = BookmarkInputs.select

    def select(self: BookmarkInputs, name: str, source: str, candidates: Any) -> Selection:
        selection = original(self, name, source, candidates)
        if name != job:
            return selection

        def crash() -> bool:
            raise SimulatedCrash(f"{name} outputs written, bookmark not committed")

        return Selection(selection.chosen, crash)

    patch.setattr(BookmarkInputs, "select", select)


def crash_after_events_write(patch: pytest.MonkeyPatch, job: str) -> None:
    """curate_events writes the events table, then dies before the rest of its writes."""
    original, changed = events_write.write_table, events_write.write_changed_rows

    def write_table(df: Any, lake: str, table: Table, **kwargs: Any) -> None:
        original(df, lake, table, **kwargs)
        if table == EVENTS:
            raise SimulatedCrash("events written, nothing else")

    def write_changed_rows(table: Table, *args: Any, **kwargs: Any) -> Any:
        changed(table, *args, **kwargs)
        raise SimulatedCrash("events written, nothing else")

    patch.setattr(events_write, "write_table", write_table)
    patch.setattr(events_write, "write_changed_rows", write_changed_rows)


def test_runs_killed_between_write_and_commit_then_rerun_give_the_full_run(
    spark: SparkSession,
    sample_lake: Path,
    full_runs: Callable[[str], Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    assert_frames_equal: Callable[..., None],
) -> None:
    objects = ih.raw_objects(sample_lake)
    first, *later = ih.split_by_arrival(objects, sample_lake, CRASH_BOUNDARIES)
    lake = tmp_path / "incremental"
    ih.copy_reference(sample_lake, lake)
    settings = ih.lake_settings(lake, [])
    ih.copy_objects(first, sample_lake, lake)
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    # Batch 2: curate_events dies before its commit; the rerun's build_sessions dies before its
    # own. Batch 3: curate_events dies right after writing events, before its other writes.
    crashes = [
        [(crash_before_commit, "curate_events"), (crash_before_commit, "build_sessions")],
        [(crash_after_events_write, "curate_events")],
    ]
    for batch, batch_crashes in zip(later, crashes, strict=True):
        ih.copy_objects(batch, sample_lake, lake)
        for crash, job in batch_crashes:
            # GIVEN a run that dies after writing, before committing
            with monkeypatch.context() as patch:
                crash(patch, job)
                with pytest.raises(SimulatedCrash):
                    run_pipeline(settings, spark=spark, echo=ih.quiet)
        # WHEN the next run goes on normally
        run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN the lake equals one full run over all objects, with no event curated twice
    ih.assert_same_tables(spark, full_runs("utc"), settings, assert_frames_equal)
    events = ih.comparable(spark, settings, ih.COMPARED[0])
    assert events.groupBy("event_id").count().where(F.col("count") > 1).count() == 0
