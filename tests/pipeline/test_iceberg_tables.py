"""table_format=iceberg: the hand-built lake's tables as Iceberg tables, read back by PyIceberg."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from clickstream import iceberg
from clickstream.config import Settings, load_settings
from clickstream.maintenance import maintain
from clickstream.pipeline import writers_of
from clickstream.pipeline.runner import run_pipeline
from clickstream.tables import (
    DAILY_ACTIVE_USERS,
    DELTA_CAPABLE,
    EVENTS,
    QUARANTINE,
    SESSIONS,
    Table,
)
from clickstream.writer import read_table
from tests.iceberg_reader import iceberg_table, read_iceberg
from tests.pipeline import lake_fixture as lf

pytestmark = pytest.mark.slow
ICEBERG_TABLES = (EVENTS, SESSIONS, DAILY_ACTIVE_USERS, QUARANTINE)


def settings_for(lake: Path, *overrides: str) -> Settings:
    return load_settings(
        "local", [f"lake_root={lake}", "table_format=iceberg", "catalog=none", *overrides]
    )


@pytest.fixture(scope="module")
def iceberg_run(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, dict[str, str]]:
    lake = tmp_path_factory.mktemp("iceberg-lake")
    sources = lf.build_lake(lake)
    settings = settings_for(lake)
    run_pipeline(settings, spark=spark, echo=lambda _: None)
    return settings, sources


@pytest.mark.parametrize("table", ICEBERG_TABLES, ids=lambda t: t.name)
def test_iceberg_tables_read_by_pyiceberg_hold_the_same_rows_as_the_parquet_tables(
    spark: SparkSession,
    make_frame: Callable[..., DataFrame],
    iceberg_run: Any,
    table: Table,
    assert_frames_equal: Callable[..., None],
) -> None:
    # GIVEN the hand-built lake run with table_format=iceberg
    settings, sources = iceberg_run
    location = settings.path(table.location)
    # WHEN PyIceberg (not Spark) reads the table from its metadata files alone
    actual = read_iceberg(make_frame, location, table)
    # THEN it holds exactly the rows the Parquet tables are held to: a v2 table partitioned by
    # dt (identity), where its folder always was, data and metadata inside
    assert_frames_equal(actual, lf.expected_table(spark, table, sources))
    found = iceberg_table(location)
    assert found.metadata.format_version == 2
    (field,) = found.spec().fields
    assert (field.name, str(field.transform)) == ("dt", "identity")
    assert (Path(location) / "data").is_dir() and (Path(location) / "metadata").is_dir()


def snapshots(settings: Settings) -> dict[str, int]:
    return {
        t.name: len(iceberg_table(settings.path(t.location)).metadata.snapshots)
        for t in ICEBERG_TABLES
    }


def test_a_run_with_nothing_new_adds_no_snapshot(spark: SparkSession, iceberg_run: Any) -> None:
    # GIVEN the Iceberg lake after its run
    settings, _ = iceberg_run
    before = snapshots(settings)
    # WHEN the pipeline runs again with no new object
    summary = run_pipeline(settings, spark=spark, echo=lambda _: None)
    # THEN no table gets a new snapshot
    assert summary["totals"]["records_read"] == 0
    assert snapshots(settings) == before


def _late_object(lake: Path, key: str, stamp: str, records: list[dict[str, str]]) -> None:
    """A raw object that arrives late (hour 2026/03/02/05), holding records."""
    late = lf.object_path(lake, "d", "2026/03/02/05", stamp).with_name(
        f"clickstream-1-{stamp}-0e0e0e0e-0000-4000-8000-00000000000{key}"
    )
    late.parent.mkdir(parents=True, exist_ok=True)
    late.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_a_late_copy_that_starts_a_session_earlier_is_one_merge_on_read_snapshot(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN an Iceberg lake after one run over the hand-built raw zone
    lf.build_lake(tmp_path)
    settings = settings_for(tmp_path)
    run_pipeline(settings, spark=spark, echo=lambda _: None)
    before = snapshots(settings)
    stored = {
        r["event_id"]: r["session_id"] for r in read_table(spark, settings.lake, EVENTS).collect()
    }
    # WHEN a late object brings an event of u1 five minutes before its first session's first
    # event (e1, 10:00): that session's id (the hash of its first event) changes for e1, e2, e4
    _late_object(
        tmp_path,
        "e",
        "2026-03-02-05-00-00",
        [
            {
                "event_id": "e0",
                "user_id": "u1",
                "event_type": "view",
                "event_time": "2026-03-01T09:55:00Z",
                "title_id": "t1",
            }
        ],
    )
    summary = run_pipeline(settings, spark=spark, echo=lambda _: None)
    # THEN events got exactly one snapshot, written merge-on-read: the new row and the changed
    # rows added, their stored copies masked by position deletes, no stored data file rewritten
    after = snapshots(settings)
    assert after[EVENTS.name] == before[EVENTS.name] + 1
    last = iceberg.last_snapshot_summary(spark, settings.lake, EVENTS)
    curate = summary["jobs"]["curate_events"]
    changed = curate["event_rows_changed"]
    assert changed >= 1
    assert last.get("deleted-data-files", "0") == "0"
    assert int(last["added-position-deletes"]) == changed
    assert int(last["added-records"]) == 1 + changed == curate["event_rows_written"]
    # AND the events read back give e0 the session its successors now share
    events = {
        r["event_id"]: r["session_id"] for r in read_table(spark, settings.lake, EVENTS).collect()
    }
    assert events["e0"] == events["e1"] == events["e2"] != stored["e1"]


def test_maintain_folds_position_deletes_and_expires_old_snapshots(
    spark: SparkSession, tmp_path: Path, assert_frames_equal: Callable[..., None]
) -> None:
    # GIVEN an Iceberg lake whose events carry position deletes (a late copy changed rows)
    lf.build_lake(tmp_path)
    settings = settings_for(tmp_path, "delta_retention_days=0")
    run_pipeline(settings, spark=spark, echo=lambda _: None)
    _late_object(
        tmp_path,
        "f",
        "2026-03-02-05-10-00",
        [
            {
                "event_id": "e0",
                "user_id": "u1",
                "event_type": "view",
                "event_time": "2026-03-01T09:55:00Z",
                "title_id": "t1",
            }
        ],
    )
    run_pipeline(settings, spark=spark, echo=lambda _: None)
    rows_before = read_table(spark, settings.lake, EVENTS)
    rows_before = spark.createDataFrame(rows_before.collect(), rows_before.schema)
    # WHEN clickstream maintain runs (retention 0 days: every older snapshot goes)
    maintain(settings, writers=writers_of(DELTA_CAPABLE), spark=spark, echo=lambda _: None)
    # THEN the events keep their rows, with no delete file left
    assert_frames_equal(read_table(spark, settings.lake, EVENTS), rows_before)
    table = iceberg_table(settings.path(EVENTS.location))
    summaries = [s.summary for s in table.metadata.snapshots]
    assert summaries[-1] is not None and summaries[-1]["total-delete-files"] == "0"
    # AND only maintain's own snapshots (replace: rows unchanged) are left, the runs' expired
    assert {s.operation.value for s in summaries if s is not None} == {"replace"}
