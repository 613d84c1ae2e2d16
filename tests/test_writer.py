"""Writing dt-partitioned tables: with and without the dt rebalance (clickstream.writer)."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession

from clickstream.tables import DAILY_ACTIVE_USERS
from clickstream.writer import read_table, write_table

ROWS = [(1, 10, "2026-03-01"), (2, 20, "2026-03-01"), (3, 30, "2026-03-02")]
SCHEMA = "active_users long, events long, dt string"


def _files(lake: Path) -> dict[str, int]:
    root = lake / DAILY_ACTIVE_USERS.location
    return {p.name: len(list(p.glob("*.parquet"))) for p in sorted(root.glob("dt=*"))}


def test_rebalanced_small_data_gets_one_file_per_date(spark: SparkSession, tmp_path: Path) -> None:
    # GIVEN rows of two dates spread over three tasks
    df = spark.createDataFrame(ROWS, SCHEMA).repartition(3)
    # WHEN written with the dt rebalance (the default)
    write_table(df, str(tmp_path), DAILY_ACTIVE_USERS)
    # THEN each date has one file, and every row is there
    assert _files(tmp_path) == {"dt=2026-03-01": 1, "dt=2026-03-02": 1}
    assert sorted(read_table(spark, str(tmp_path), DAILY_ACTIVE_USERS).collect()) == sorted(
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
    write_table(df, str(tmp_path), DAILY_ACTIVE_USERS, rebalance=False)
    # THEN a date gets one file per task that held it (no shuffle), and every row is there
    assert _files(tmp_path) == {f"dt={dt}": n for dt, n in tasks.items()}
    assert sorted(read_table(spark, str(tmp_path), DAILY_ACTIVE_USERS).collect()) == sorted(
        spark.createDataFrame(ROWS, SCHEMA).collect()
    )


def test_the_rebalance_file_size_target_does_not_leak_into_the_session(
    spark: SparkSession, tmp_path: Path
) -> None:
    key = "spark.sql.adaptive.advisoryPartitionSizeInBytes"
    before = spark.conf.get(key)
    write_table(spark.createDataFrame(ROWS, SCHEMA), str(tmp_path), DAILY_ACTIVE_USERS)
    assert spark.conf.get(key) == before
