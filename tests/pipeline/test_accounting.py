"""The run's accounting measures what was written, so a pipeline broken on purpose fails it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from clickstream import bookmarks, file_ops
from clickstream.config import Settings, load_settings
from clickstream.pipeline.curate import event_index, events_write, recompute
from clickstream.pipeline.curate.accounting import AccountingError
from clickstream.pipeline.runner import run_pipeline
from clickstream.tables import EVENTS, Table
from tests.pipeline import lake_fixture as lf

pytestmark = pytest.mark.slow

# A later object: a re-delivery of e1 (stored already) and one new event, e20, twice.
E20 = '{"event_id":"e20","user_id":"u2","event_type":"view","event_time":"2026-03-01T16:20:00Z"}\n'
OBJECT_E = (
    '{"event_id":"e1","user_id":"u1","event_type":"view","event_time":"2026-03-01T10:00:00Z","title_id":"t1"}\n'
    + E20
    + E20
)


def _settings(lake: Path) -> Settings:
    return load_settings("local", [f"lake_root={lake}", "catalog=none"])


def _curate(spark: SparkSession, lake: Path) -> dict[str, Any]:
    summary = run_pipeline(_settings(lake), ["curate_events"], spark=spark, echo=lambda _: None)
    return dict(summary["jobs"]["curate_events"])


def _lake_with_a_second_batch(spark: SparkSession, lake: Path) -> dict[str, object]:
    """The fixture lake curated once, then object E delivered; the bookmark after the first run."""
    lf.build_lake(lake)
    _curate(spark, lake)
    path = lf.object_path(lake, "a", "2026/03/03/10", "2026-03-03-10-00-00")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(OBJECT_E, encoding="utf-8")
    return bookmarks.show(spark, str(lake), "curate_events")


def test_a_run_that_keeps_two_copies_of_one_event_fails_its_accounting(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _lake_with_a_second_batch(spark, tmp_path)
    # GIVEN dedup broken on purpose: every copy is kept
    monkeypatch.setattr(recompute, "dedup_events", lambda df, **_: df)
    # WHEN the run curates e20's two copies THEN the measured rows (2) != new ids (1)
    with pytest.raises(AccountingError, match=r"1 new event_id.*events gained 2 row"):
        _curate(spark, tmp_path)
    # AND the bookmark did not advance
    assert bookmarks.show(spark, str(tmp_path), "curate_events") == state
    # WHEN the pipeline is fixed THEN the next run completes the failed run's change set (its
    # surplus copy of e20 removed) and the lake holds each event once
    monkeypatch.undo()
    metrics = _curate(spark, tmp_path)
    assert (metrics["recovered_change_sets"], metrics["surplus_copies_removed"]) == (1, 1)
    events = spark.read.parquet(str(tmp_path / EVENTS.location))
    assert events.groupBy("event_id").count().where(F.col("count") > 1).count() == 0
    assert events.where(F.col("event_id") == "e20").count() == 1


def test_an_index_that_misses_a_stored_event_fails_the_accounting(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _lake_with_a_second_batch(spark, tmp_path)
    # GIVEN an event_id index lookup broken on purpose: it finds nothing
    monkeypatch.setattr(event_index, "lookup", lambda spark, *_, **__: _empty_index(spark))
    # WHEN e1's re-delivery counts as new THEN the events gained fewer rows than "new" ids
    with pytest.raises(AccountingError, match=r"2 new event_id.*events gained 1 row"):
        _curate(spark, tmp_path)
    assert bookmarks.show(spark, str(tmp_path), "curate_events") == state


def _empty_index(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame([], event_index.SCHEMA)


def test_a_write_that_loses_a_row_fails_its_accounting(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _lake_with_a_second_batch(spark, tmp_path)
    original, replace = events_write.write_table, file_ops.replace_files

    def lossy(df: DataFrame, lake: str, table: Table, **kwargs: Any) -> None:
        original(df.where(F.col("event_id") != "e20"), lake, table, **kwargs)

    def lossy_files(spark: SparkSession, lake: str, path: str, df: DataFrame, *a: Any, **k: Any):
        return replace(spark, lake, path, df.where(F.col("event_id") != "e20"), *a, **k)

    # GIVEN an events write that silently drops the new event e20 after counting it (whole
    # dates, or the changed rows' Parquet files)
    monkeypatch.setattr(events_write, "write_table", lossy)
    monkeypatch.setattr(file_ops, "replace_files", lossy_files)
    # WHEN the run writes THEN the rows stored differ from the rows handed to the writer
    with pytest.raises(AccountingError, match=r"rows stored after the write"):
        _curate(spark, tmp_path)
    assert bookmarks.show(spark, str(tmp_path), "curate_events") == state
