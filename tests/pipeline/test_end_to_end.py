"""The whole local pipeline over a hand-built lake with every raw quirk: exact outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from pyspark.sql import DataFrame, SparkSession

from clickstream.config import Settings, load_settings
from clickstream.pipeline.runner import run_pipeline
from clickstream.spark import SHORT_RUN_JAVA_OPTIONS, SHORT_RUN_SQL_CONF
from clickstream.tables import (
    DAILY_ACTIVE_USERS,
    DQ_RESULTS,
    EVENTS,
    QUARANTINE,
    SESSIONS,
    TITLES,
    Table,
)
from clickstream.writer import read_table, table_schema
from tests.pipeline import lake_fixture as lf

pytestmark = pytest.mark.slow


def settings_for(lake: Path, *overrides: str) -> Settings:
    return load_settings("local", [f"lake_root={lake}", *overrides])


def snapshot(spark: SparkSession, settings: Settings) -> dict[str, list[Any]]:
    """Every curated table's rows (sorted) and every data file's name and modification time,
    but dq_results': every run, one with nothing new too, appends its data-quality results."""
    tables = {
        t.name: sorted(map(tuple, read_table(spark, settings.lake, t).collect()), key=repr)
        for t in (EVENTS, SESSIONS, DAILY_ACTIVE_USERS, TITLES, QUARANTINE)
    }
    log = Path(settings.path(DQ_RESULTS.location))
    files = sorted(
        (str(p), p.stat().st_mtime_ns)
        for p in Path(settings.lake).glob("*/**/*.parquet")
        if log not in p.parents
    )
    return {**tables, "files": files}


@pytest.fixture(scope="module")
def lake_run(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, dict[str, str], dict[str, Any]]:
    lake = tmp_path_factory.mktemp("lake")
    sources = lf.build_lake(lake)
    settings = settings_for(lake)
    summary = run_pipeline(settings, spark=spark, echo=lambda _: None)
    return settings, sources, summary


def frame(spark: SparkSession, table: Table, rows: list[tuple]) -> DataFrame:
    return spark.createDataFrame(rows, table_schema(table))


def test_events_are_deduplicated_enriched_and_sessionized(
    spark: SparkSession, lake_run: Any, assert_frames_equal: Callable[..., None]
) -> None:
    # GIVEN a raw zone with ndjson, gzip+concatenated, pretty-printed, empty and late objects
    settings, sources, _ = lake_run
    # WHEN the pipeline ran (fixture) THEN each event appears once, with its title and session
    actual = read_table(spark, settings.lake, EVENTS)
    assert_frames_equal(actual, frame(spark, EVENTS, lf.expected_events(sources)))


def test_sessions_follow_the_strict_timeout_and_cross_midnight(
    spark: SparkSession, lake_run: Any, assert_frames_equal: Callable[..., None]
) -> None:
    settings, _, _ = lake_run
    actual = read_table(spark, settings.lake, SESSIONS)
    assert_frames_equal(actual, frame(spark, SESSIONS, lf.expected_sessions()))


def test_daily_active_users_count_distinct_users_per_date(
    spark: SparkSession, lake_run: Any, assert_frames_equal: Callable[..., None]
) -> None:
    settings, _, _ = lake_run
    actual = read_table(spark, settings.lake, DAILY_ACTIVE_USERS)
    assert_frames_equal(actual, frame(spark, DAILY_ACTIVE_USERS, lf.EXPECTED_DAU))


def test_every_rejected_record_is_quarantined_with_its_reason_and_source(
    spark: SparkSession, lake_run: Any, assert_frames_equal: Callable[..., None]
) -> None:
    settings, sources, _ = lake_run
    actual = read_table(spark, settings.lake, QUARANTINE)
    assert_frames_equal(actual, frame(spark, QUARANTINE, lf.expected_quarantine(sources)))


def test_titles_keep_korean_and_quoted_text_one_row_per_key(
    spark: SparkSession, lake_run: Any, assert_frames_equal: Callable[..., None]
) -> None:
    settings, _, summary = lake_run
    expected = [
        ("t1", "오징어 게임", "drama"),
        ("t2", lf.TITLE_T2, "comedy"),
        ("t3", "Commas, commas", "documentary"),
    ]
    assert_frames_equal(read_table(spark, settings.lake, TITLES), frame(spark, TITLES, expected))
    # the job's metric counts the rows written (4 CSV rows, one duplicate key)
    assert summary["jobs"]["load_titles"]["titles"] == len(expected)


def test_summary_accounts_for_every_record_read(lake_run: Any) -> None:
    # GIVEN 16 records: 9 distinct events, 2 extra copies, 5 rejected
    settings, _, summary = lake_run
    totals = summary["totals"]
    assert (
        totals["records_read"],
        totals["curated"],
        totals["duplicates_removed"],
        totals["quarantined"],
    ) == (16, 9, 2, 5)
    assert (
        totals["records_read"]
        == totals["curated"] + totals["duplicates_removed"] + totals["quarantined"]
    )
    assert totals["quarantined_by_reason"] == {
        "invalid_event_time": 2,
        "missing_user_id": 1,
        "not_an_object": 1,
        "not_json": 1,
    }
    stored = json.loads((Path(settings.lake) / "_runs" / "latest.json").read_text())
    assert stored["totals"] == totals


def test_second_identical_run_changes_nothing(spark: SparkSession, lake_run: Any) -> None:
    # GIVEN the lake after one run
    settings, _, _ = lake_run
    before = snapshot(spark, settings)
    # WHEN the pipeline runs again with the same inputs (bookmarks: nothing new)
    summary = run_pipeline(settings, spark=spark, echo=lambda _: None)
    # THEN no record is read and no file is rewritten
    assert summary["totals"]["records_read"] == 0
    assert snapshot(spark, settings) == before


def test_rerun_over_all_objects_with_bookmark_disabled_gives_the_same_tables(
    spark: SparkSession, lake_run: Any
) -> None:
    # GIVEN the lake after one run
    settings, _, _ = lake_run
    before = snapshot(spark, settings)
    # WHEN every object is processed again (job-bookmark-disable)
    summary = run_pipeline(
        settings_for(Path(settings.lake), "bookmark_option=job-bookmark-disable"),
        spark=spark,
        echo=lambda _: None,
    )
    # THEN the copies already curated count as duplicates and every table is unchanged
    assert summary["totals"]["records_read"] == 16 and summary["totals"]["curated"] == 0
    after = snapshot(spark, settings)
    assert {k: v for k, v in after.items() if k != "files"} == {
        k: v for k, v in before.items() if k != "files"
    }


def test_catalog_tables_are_registered_with_their_partitions(
    spark: SparkSession, lake_run: Any
) -> None:
    settings, _, _ = lake_run
    rows = spark.sql(
        f"select dt, active_users from {settings.database}.daily_active_users order by dt"
    ).collect()
    assert [tuple(r) for r in rows] == [("2026-03-01", 3), ("2026-03-02", 1)]
    parts = [r[0] for r in spark.sql(f"show partitions {settings.database}.events").collect()]
    assert parts == ["dt=2026-03-01", "dt=2026-03-02"]
    assert spark.sql(f"select count(*) from {settings.database}.titles").first()[0] == 3


def test_curated_files_read_with_pyarrow_like_athena(lake_run: Any) -> None:
    # GIVEN the curated tables WHEN read by pyarrow alone with Hive partitioning
    settings, _, _ = lake_run
    import pyarrow as pa

    utc_us = pa.timestamp("us", tz="UTC")
    expected = {
        EVENTS: {
            "event_id": pa.string(),
            "event_time": utc_us,
            "ingested_at": utc_us,
            "session_id": pa.string(),
            "title": pa.string(),
        },
        SESSIONS: {
            "session_start": utc_us,
            "session_end": utc_us,
            "event_count": pa.int64(),
            "duration_seconds": pa.float64(),
        },
        DAILY_ACTIVE_USERS: {"active_users": pa.int64(), "events": pa.int64()},
    }
    for table, types in expected.items():
        root = Path(settings.lake) / table.location
        data = ds.dataset(root, format="parquet", partitioning="hive")
        # THEN the contract's columns and types are there, dt comes from the folder only
        assert data.schema.names == [*table.columns, "dt"]
        for name, dtype in types.items():
            assert data.schema.field(name).type == dtype, (table.name, name)
        for file in root.glob("dt=*/*.parquet"):
            assert "dt" not in pq.read_schema(file).names
            assert pq.ParquetFile(file).metadata.row_group(0).column(0).compression == "SNAPPY"
    dau = ds.dataset(
        Path(settings.lake) / DAILY_ACTIVE_USERS.location, format="parquet", partitioning="hive"
    ).to_table()
    assert sorted(zip(dau["dt"].to_pylist(), dau["active_users"].to_pylist(), strict=True)) == [
        ("2026-03-01", 3),
        ("2026-03-02", 1),
    ]


def test_one_file_per_partition_for_small_data(lake_run: Any) -> None:
    settings, _, _ = lake_run
    for table in (EVENTS, SESSIONS, DAILY_ACTIVE_USERS):
        for part in (Path(settings.lake) / table.location).glob("dt=*"):
            assert len(list(part.glob("*.parquet"))) == 1, part


def test_cli_run_then_catalog_query_in_a_new_session(tmp_path: Path) -> None:
    # GIVEN a fresh lake WHEN `clickstream run` runs in a process of its own
    lf.build_lake(tmp_path)
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    java_options = SHORT_RUN_JAVA_OPTIONS
    short_run = [f"spark_conf.{key}={value}" for key, value in SHORT_RUN_SQL_CONF.items()]
    script = f"""
from pyspark.sql import SparkSession
from clickstream import cli
from clickstream.config import load_settings
from clickstream.spark import get_spark
settings = ["lake_root={tmp_path}", "spark_conf.spark.driver.extraJavaOptions={java_options}",
            *{short_run!r}]
assert cli.main(["run", "--env", "local", *[a for s in settings for a in ("--set", s)]]) == 0
SparkSession.getActiveSession().stop()
# a new SparkSession (new SparkContext, new Hive client) finds the tables through the metastore
spark = get_spark(load_settings("local", ["lake_root={tmp_path}"]))
rows = spark.sql("select dt, active_users from curated.daily_active_users").collect()
print("DAU", sorted(tuple(r) for r in rows))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "[4/4] daily_active_users" in out.stdout and "records read" in out.stdout
    # THEN the new session reads DAU from the catalog
    assert "DAU [('2026-03-01', 3), ('2026-03-02', 1)]" in out.stdout


def test_cli_config_error_names_the_key(tmp_path: Path) -> None:
    cli = Path(sys.executable).parent / "clickstream"
    out = subprocess.run(
        [str(cli), "run", "--set", "session_timeout_minutes=abc"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "session_timeout_minutes='abc': expected a whole number" in out.stderr
