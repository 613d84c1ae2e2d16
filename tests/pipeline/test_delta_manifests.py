"""Redshift manifests of Delta tables (Spectrum's symlink manifests, COPY manifests) left behind
a commit by a process that died are brought up to date by the next run."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from clickstream import delta_lake
from clickstream.config import load_settings
from clickstream.maintenance import maintain
from clickstream.pipeline import JOB_NAMES, WRITES
from clickstream.pipeline.runner import run_pipeline
from clickstream.tables import DELTA_CAPABLE, EVENTS
from clickstream.writer import read_table, write_table
from tests.delta_rs import delta_table, stale_manifests
from tests.pipeline import incremental_helpers as ih
from tests.pipeline import lake_fixture as lf


class SimulatedCrash(RuntimeError):
    """The process died here."""


def test_every_delta_table_has_its_manifests_refreshed_by_a_job_that_writes_it() -> None:
    # GIVEN the tables each job writes (the jobs refresh the manifests of those that are Delta)
    # WHEN the tables written by any job are gathered
    written = {name for names in WRITES.values() for name in names}
    # THEN every job has an entry and every Delta-capable table is written, so refreshed
    assert set(WRITES) == set(JOB_NAMES)
    assert written >= DELTA_CAPABLE


@pytest.mark.slow
def test_manifests_a_killed_maintenance_left_behind_are_refreshed_by_the_next_run(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lf.build_lake(tmp_path)
    settings = load_settings(
        "local",
        [
            f"lake_root={tmp_path}",
            "table_format=delta",
            "catalog=none",
            "delta_retention_days=0",
        ],
    )
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    events = settings.path(EVENTS.location)
    # each date's events rewritten as three files, so OPTIMIZE has work to do
    stored = read_table(spark, settings.lake, EVENTS)
    copy = spark.createDataFrame(stored.collect(), stored.schema).repartition(3)
    dts = sorted({r[0] for r in stored.select("dt").distinct().collect()})
    write_table(copy, settings.lake, EVENTS, rebalance=False, table_format="delta", dts=dts)
    files_before = len(delta_table(events).files())
    assert files_before > len(dts)
    assert stale_manifests(events) == []
    symlinks = Path(events) / delta_lake.SYMLINK_MANIFEST_DIR
    shutil.copytree(symlinks, tmp_path / "symlinks-before")

    def die(*_: Any, **__: Any) -> None:
        shutil.rmtree(symlinks)
        shutil.copytree(tmp_path / "symlinks-before", symlinks)
        raise SimulatedCrash("compacted, died before the manifests")

    # GIVEN maintenance compacted the events' dates in one commit, then died before the
    # post-commit hook and the COPY manifests: both still name the files compacted away
    with monkeypatch.context() as patch:
        patch.setattr(delta_lake, "refresh_manifests", die)
        with pytest.raises(SimulatedCrash):
            maintain(settings, writers=JOB_NAMES, spark=spark, echo=ih.quiet)
    assert len(delta_table(events).files()) < files_before
    assert stale_manifests(events) != []
    # WHEN the pipeline runs next, with nothing new to write
    summary = run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN the manifests list exactly the table's live files again
    assert summary["totals"]["records_read"] == 0
    assert stale_manifests(events) == []
    ih.assert_manifests_current(settings)
