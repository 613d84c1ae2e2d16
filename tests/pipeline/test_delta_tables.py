"""table_format=delta: the hand-built lake's tables as Delta Lake tables, read back by delta-rs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from clickstream.config import Settings, load_settings
from clickstream.pipeline.runner import run_pipeline
from clickstream.tables import DAILY_ACTIVE_USERS, EVENTS, QUARANTINE, SESSIONS, Table
from clickstream.writer import read_table
from tests.delta_rs import delta_table, read_delta
from tests.pipeline import lake_fixture as lf

pytestmark = pytest.mark.slow
DELTA_TABLES = (EVENTS, SESSIONS, DAILY_ACTIVE_USERS, QUARANTINE)


def settings_for(lake: Path, *overrides: str) -> Settings:
    return load_settings("local", [f"lake_root={lake}", "table_format=delta", *overrides])


@pytest.fixture(scope="module")
def delta_run(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, dict[str, str]]:
    lake = tmp_path_factory.mktemp("delta-lake")
    sources = lf.build_lake(lake)
    settings = settings_for(lake, "database=curated_delta")
    run_pipeline(settings, spark=spark, echo=lambda _: None)
    return settings, sources


@pytest.mark.parametrize("table", DELTA_TABLES, ids=lambda t: t.name)
def test_delta_tables_read_by_delta_rs_hold_the_same_rows_as_the_parquet_tables(
    spark: SparkSession,
    make_frame: Callable[..., DataFrame],
    delta_run: Any,
    table: Table,
    assert_frames_equal: Callable[..., None],
) -> None:
    # GIVEN the hand-built lake run with table_format=delta
    settings, sources = delta_run
    # WHEN delta-rs (not Spark) reads the table
    actual = read_delta(make_frame, settings.path(table.location), table)
    # THEN it holds exactly the rows the Parquet tables are held to, partitioned by dt
    assert_frames_equal(actual, lf.expected_table(spark, table, sources))
    assert delta_table(settings.path(table.location)).metadata().partition_columns == ["dt"]


def test_delta_tables_are_registered_as_delta_in_the_metastore(
    spark: SparkSession, delta_run: Any
) -> None:
    settings, _ = delta_run
    detail = spark.sql(f"DESCRIBE DETAIL {settings.database}.events").first()
    assert detail["format"] == "delta" and detail["partitionColumns"] == ["dt"]
    rows = spark.sql(
        f"select dt, active_users from {settings.database}.daily_active_users order by dt"
    ).collect()
    assert [tuple(r) for r in rows] == [("2026-03-01", 3), ("2026-03-02", 1)]


def versions(settings: Settings) -> dict[str, int]:
    return {t.name: delta_table(settings.path(t.location)).version() for t in DELTA_TABLES}


def test_a_run_with_nothing_new_adds_no_table_version(spark: SparkSession, delta_run: Any) -> None:
    # GIVEN the Delta lake after its run
    settings, _ = delta_run
    before = versions(settings)
    # WHEN the pipeline runs again with no new object
    summary = run_pipeline(settings, spark=spark, echo=lambda _: None)
    # THEN no table gets a new version
    assert summary["totals"]["records_read"] == 0
    assert versions(settings) == before


def live_files(uri: str) -> dict[str, set[str]]:
    """The live data files of a Delta table, by dt."""
    actions = delta_table(uri).get_add_actions(flatten=True).to_pylist()
    files: dict[str, set[str]] = {}
    for action in actions:
        files.setdefault(action["partition.dt"], set()).add(action["path"])
    return files


def test_a_late_event_far_from_its_sessions_is_one_commit_per_table_and_an_events_append(
    spark: SparkSession, tmp_path: Path, assert_frames_equal: Callable[..., None]
) -> None:
    # GIVEN a Delta lake after one run over the hand-built raw zone
    lf.build_lake(tmp_path)
    settings = settings_for(tmp_path, "catalog=none")
    run_pipeline(settings, spark=spark, echo=lambda _: None)
    events_uri = settings.path(EVENTS.location)
    before_files, before = live_files(events_uri), versions(settings)
    # WHEN a late object brings one more event of u2 on 2026-03-01 (far from its sessions)
    late = lf.object_path(tmp_path, "d", "2026/03/02/05", "2026-03-02-05-00-00").with_name(
        "clickstream-1-2026-03-02-05-00-00-0e0e0e0e-0000-4000-8000-00000000000e"
    )
    late.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "event_id": "e10",
        "user_id": "u2",
        "event_type": "view",
        "event_time": "2026-03-01T03:00:00Z",
    }
    late.write_text(json.dumps(record) + "\n")
    run_pipeline(settings, spark=spark, echo=lambda _: None)
    # THEN events, sessions and DAU each got exactly one new version (one commit per table);
    # quarantine, which got no rejected record, none
    after = versions(settings)
    for name in (EVENTS.name, SESSIONS.name, DAILY_ACTIVE_USERS.name):
        assert after[name] == before[name] + 1, name
    assert after[QUARANTINE.name] == before[QUARANTINE.name]
    # and no stored event changed, so the events commit is an append: one more file on
    # 2026-03-01, every file before kept
    after_files = live_files(events_uri)
    assert after_files["2026-03-02"] == before_files["2026-03-02"]
    assert after_files["2026-03-01"] > before_files["2026-03-01"]
    assert len(after_files["2026-03-01"] - before_files["2026-03-01"]) == 1
    history = delta_table(events_uri).history(1)[0]
    assert history["operation"] == "WRITE"
    assert history["operationParameters"]["mode"] == "Append"
    # and the new event is there, read back by Spark as by delta-rs
    events = read_table(spark, settings.lake, EVENTS)
    assert events.where("event_id = 'e10'").count() == 1
