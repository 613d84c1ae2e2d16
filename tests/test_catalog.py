"""Registering curated tables in the embedded Hive metastore."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession

from clickstream.catalog import register_hive_table
from clickstream.tables import DAILY_ACTIVE_USERS
from clickstream.writer import table_schema


def partitions(spark: SparkSession, name: str) -> list[str]:
    return sorted(r[0] for r in spark.sql(f"SHOW PARTITIONS {name}").collect())


def test_several_partitions_are_added_and_dropped_in_one_call(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN a registered table with three dt folders on disk
    location = str(tmp_path / "dau")
    rows = [(1, 1, dt) for dt in ("2026-03-01", "2026-03-02", "2026-03-03")]
    spark.createDataFrame(rows, table_schema(DAILY_ACTIVE_USERS)).write.partitionBy("dt").parquet(
        location
    )
    register_hive_table(spark, "catalog_test", DAILY_ACTIVE_USERS, location)
    name = "catalog_test.daily_active_users"
    assert partitions(spark, name) == ["dt=2026-03-01", "dt=2026-03-02", "dt=2026-03-03"]
    # WHEN a later job empties two dates and writes a new one
    register_hive_table(
        spark,
        "catalog_test",
        DAILY_ACTIVE_USERS,
        location,
        dts=["2026-03-04"],
        dropped=["2026-03-01", "2026-03-02"],
    )
    # THEN both are dropped (DROP takes comma-separated specs) and the new one is added
    assert partitions(spark, name) == ["dt=2026-03-03", "dt=2026-03-04"]
