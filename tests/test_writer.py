"""Writing dt-partitioned tables: with and without the dt rebalance (clickstream.writer)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql.types import LongType, StructField, StructType

from clickstream.config import load_settings
from clickstream.spark import ADVISORY_PARTITION_SIZE, apply_sql_conf, file_sizing_conf
from clickstream.tables import Table
from clickstream.writer import read_table, write_table

# A dt-partitioned table of two counts (the first shape of daily_active_users).
COUNTS = Table(
    "daily_counts",
    "curated/daily_counts",
    StructType([StructField("active_users", LongType()), StructField("events", LongType())]),
)

ROWS = [(1, 10, "2026-03-01"), (2, 20, "2026-03-01"), (3, 30, "2026-03-02")]
SCHEMA = "active_users long, events long, dt string"


def _files(lake: Path) -> dict[str, int]:
    root = lake / COUNTS.location
    return {p.name: len(list(p.glob("*.parquet"))) for p in sorted(root.glob("dt=*"))}


def test_rebalanced_small_data_gets_one_file_per_date(spark: SparkSession, tmp_path: Path) -> None:
    # GIVEN rows of two dates spread over three tasks
    df = spark.createDataFrame(ROWS, SCHEMA).repartition(3)
    # WHEN written with the dt rebalance (the default)
    write_table(df, str(tmp_path), COUNTS)
    # THEN each date has one file, and every row is there
    assert _files(tmp_path) == {"dt=2026-03-01": 1, "dt=2026-03-02": 1}
    assert sorted(read_table(spark, str(tmp_path), COUNTS).collect()) == sorted(
        spark.createDataFrame(ROWS, SCHEMA).collect()
    )


def test_without_rebalance_each_task_writes_its_own_file_per_date(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN the rows of 2026-03-01 in two tasks and those of 2026-03-02 in another
    df = spark.createDataFrame(ROWS, SCHEMA).repartition(5, "active_users")
    tasks = {
        dt: len({p for p, r in enumerate(df.rdd.glom().collect()) for row in r if row.dt == dt})
        for dt in ("2026-03-01", "2026-03-02")
    }
    assert tasks == {"2026-03-01": 2, "2026-03-02": 1}
    # WHEN written without the rebalance
    write_table(df, str(tmp_path), COUNTS, rebalance=False)
    # THEN a date gets one file per task that held it (no shuffle), and every row is there
    assert _files(tmp_path) == {f"dt={dt}": n for dt, n in tasks.items()}
    assert sorted(read_table(spark, str(tmp_path), COUNTS).collect()) == sorted(
        spark.createDataFrame(ROWS, SCHEMA).collect()
    )


def _session_conf(spark: SparkSession) -> dict[str, str]:
    """Every SQL setting the session has been given."""
    return {row["key"]: row["value"] for row in spark.sql("SET").collect()}


def test_a_rebalanced_write_leaves_the_session_configuration_as_it_was(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN the session's settings
    before = _session_conf(spark)
    # WHEN a table is written with the dt rebalance
    write_table(spark.createDataFrame(ROWS, SCHEMA), str(tmp_path), COUNTS)
    # THEN no setting changed
    assert _session_conf(spark) == before


@pytest.mark.parametrize(
    ("env", "overrides", "size"),
    [
        ("dev", [], "384m"),  # target_file_mb 128: ~3 shuffle bytes per Parquet byte
        ("prod", [], "768m"),  # prod.yaml: target_file_mb 256
        ("dev", ["target_file_mb=64"], "192m"),
        ("local", ["target_file_mb=64"], "48m"),  # local.yaml names the size in spark_conf
    ],
)
def test_the_session_sizes_rebalanced_partitions_for_files_of_target_file_mb(
    env: str, overrides: list[str], size: str
) -> None:
    assert file_sizing_conf(load_settings(env, overrides)) == {ADVISORY_PARTITION_SIZE: size}


def test_the_run_session_gets_its_file_sizing_with_the_contract_settings(
    spark: SparkSession,
) -> None:
    # GIVEN dev settings with files of 64 MB
    settings = load_settings("dev", ["target_file_mb=64"])
    previous = spark.conf.get(ADVISORY_PARTITION_SIZE)
    try:
        # WHEN a run's session gets its settings (get_spark, and the Glue adapter, do this)
        apply_sql_conf(spark, settings)
        # THEN AQE sizes rebalanced partitions for 64 MB files: 192 MiB of shuffle bytes
        assert spark.conf.get(ADVISORY_PARTITION_SIZE) == "192m"
    finally:
        spark.conf.set(ADVISORY_PARTITION_SIZE, previous)
