"""A run reads the change sets it consumes, not every change set ever published."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from clickstream.config import load_settings
from clickstream.pipeline.runner import run_pipeline
from tests.pipeline import incremental_helpers as ih
from tests.pipeline import lake_fixture as lf

pytestmark = pytest.mark.slow


def test_consumed_change_sets_are_not_read_again(spark: SparkSession, tmp_path: Path) -> None:
    # GIVEN a lake whose first run's change set is consumed by build_sessions and DAU
    sources = lf.build_lake(tmp_path)
    held = Path(sources["d"].removeprefix("file:"))
    late = held.read_text(encoding="utf-8")
    held.unlink()
    settings = load_settings("local", [f"lake_root={tmp_path}", "catalog=none"])
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    manifests = sorted((tmp_path / "_state" / "changes").glob("*/manifest.json"))
    assert len(manifests) == 1
    # AND its manifest made unreadable, so any run that reads it fails
    manifests[0].write_text("not json", encoding="utf-8")
    # WHEN a new object arrives and the whole pipeline runs again
    held.write_text(late, encoding="utf-8")
    summary = run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN every job consumed only the new change set
    assert summary["totals"]["records_read"] == 4
    assert summary["jobs"]["daily_active_users"]["days"] >= 1
