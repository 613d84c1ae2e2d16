"""Two runs started at once on one lake: one runs, the other fails fast; the lake stays exact."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from clickstream.leases import LeaseHeld
from clickstream.pipeline.runner import run_pipeline
from tests.pipeline import incremental_helpers as ih
from tests.pipeline import lake_fixture as lf

pytestmark = pytest.mark.slow


def test_two_runs_started_at_once_one_fails_fast_and_one_more_run_leaves_the_lake_exact(
    spark: SparkSession, tmp_path: Path, assert_frames_equal: Callable[..., None]
) -> None:
    lake, full = tmp_path / "lake", tmp_path / "full"
    lf.build_lake(lake)
    lf.build_lake(full)
    settings = ih.lake_settings(lake, [])
    # GIVEN two runs of the whole pipeline started at the same moment on one lake
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def run() -> None:
        start.wait()
        try:
            outcomes.append(run_pipeline(settings, spark=spark, echo=ih.quiet))
        except LeaseHeld as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # THEN exactly one ran, and the other failed naming the holder of the lease
    refused = [o for o in outcomes if isinstance(o, LeaseHeld)]
    assert len(refused) == 1 and len(outcomes) == 2
    assert "is already running" in str(refused[0]) and "held by" in str(refused[0])
    # WHEN one more run follows THEN the lake equals one full run over the same objects
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    reference = ih.lake_settings(full, [])
    run_pipeline(reference, spark=spark, echo=ih.quiet)
    ih.assert_same_tables(spark, reference, settings, assert_frames_equal)
