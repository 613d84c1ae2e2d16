"""A run that stalls between its plan and its write, and loses its lease meanwhile, writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from clickstream.leases import LeaseLost, acquire
from clickstream.pipeline import curate_events
from clickstream.pipeline.runner import run_pipeline
from clickstream.tables import EVENTS
from clickstream.writer import read_table
from tests.pipeline import incremental_helpers as ih
from tests.pipeline import lake_fixture as lf

pytestmark = pytest.mark.slow


def test_a_run_paused_between_plan_and_write_stops_before_overwriting_the_new_holder(
    spark: SparkSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    assert_frames_equal: Callable[..., None],
) -> None:
    lake = tmp_path / "lake"
    lf.build_lake(lake)
    ih.hold_back_later_half(lake, tmp_path / "parked")
    settings = ih.lake_settings(lake, [])
    # GIVEN a lake curated from the first half of its objects
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    events_before = read_table(spark, settings.lake, EVENTS).localCheckpoint()
    ih.bring_back(tmp_path / "parked", lake)
    taken: list[Any] = []
    real_recompute = curate_events.recompute

    def stall_then_recompute(*args: Any, **kwargs: Any) -> Any:
        # The run stalls past lease_stale_minutes after planning: another run takes over.
        later = datetime.now(UTC) + timedelta(minutes=settings.lease_stale_minutes + 1)
        taken.append(acquire(settings.lake, "curate_events", stale_minutes=20, now=lambda: later))
        return real_recompute(*args, **kwargs)

    monkeypatch.setattr(curate_events, "recompute", stall_then_recompute)
    # WHEN the second half is curated by a run that stalls between its plan and its write
    with pytest.raises(LeaseLost, match="taken over"):
        run_pipeline(settings, ["curate_events"], spark=spark, echo=ih.quiet)
    # THEN it wrote no event (its quarantine rows went in while it held the lease, before the
    # plan), and the new holder still holds the lease
    assert_frames_equal(read_table(spark, settings.lake, EVENTS), events_before)
    taken[0].verify()
    taken[0].release()
    # AND a later run curates the second half exactly as one full run does
    monkeypatch.undo()
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    full = tmp_path / "full"
    lf.build_lake(full)
    reference = ih.lake_settings(full, [])
    run_pipeline(reference, spark=spark, echo=ih.quiet)
    ih.assert_same_tables(spark, reference, settings, assert_frames_equal)
