"""Registering curated tables in the embedded Hive metastore."""

from __future__ import annotations

import shutil
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql.types import LongType, StructField, StructType

from clickstream.catalog import CatalogSync, register_hive_table
from clickstream.tables import Table
from clickstream.writer import table_schema

# A dt-partitioned table of two counts (the first shape of daily_active_users).
COUNTS = Table(
    "daily_active_users",
    "curated/daily_active_users",
    StructType([StructField("active_users", LongType()), StructField("events", LongType())]),
)


def partitions(spark: SparkSession, name: str) -> list[str]:
    return sorted(r[0] for r in spark.sql(f"SHOW PARTITIONS {name}").collect())


def test_several_partitions_are_added_and_dropped_in_one_call(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN a registered table with three dt folders on disk
    location = str(tmp_path / "dau")
    rows = [(1, 1, dt) for dt in ("2026-03-01", "2026-03-02", "2026-03-03")]
    spark.createDataFrame(rows, table_schema(COUNTS)).write.partitionBy("dt").parquet(location)
    sync = CatalogSync()  # one run's record: the second call adds and drops only
    register_hive_table(spark, "catalog_test", COUNTS, location, sync=sync)
    name = "catalog_test.daily_active_users"
    assert partitions(spark, name) == ["dt=2026-03-01", "dt=2026-03-02", "dt=2026-03-03"]
    # WHEN a later job empties two dates and writes a new one
    register_hive_table(
        spark,
        "catalog_test",
        COUNTS,
        location,
        dts=["2026-03-04"],
        dropped=["2026-03-01", "2026-03-02"],
        sync=sync,
    )
    # THEN both are dropped (DROP takes comma-separated specs) and the new one is added
    assert partitions(spark, name) == ["dt=2026-03-03", "dt=2026-03-04"]


def test_a_new_run_syncs_the_partitions_with_the_folders(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN a table registered by one run, then, behind the catalog's back, a dt folder removed
    # and one written (a run that died before registering it)
    location = tmp_path / "dau"
    rows = [(1, 1, dt) for dt in ("2026-03-01", "2026-03-02")]
    spark.createDataFrame(rows, table_schema(COUNTS)).write.partitionBy("dt").parquet(str(location))
    register_hive_table(spark, "catalog_runs", COUNTS, str(location), sync=CatalogSync())
    shutil.rmtree(location / "dt=2026-03-01")
    late = [(2, 2, "2026-03-05")]
    spark.createDataFrame(late, table_schema(COUNTS)).write.partitionBy("dt").mode(
        "append"
    ).parquet(str(location))
    # WHEN the next run (its own CatalogSync) registers the table
    register_hive_table(spark, "catalog_runs", COUNTS, str(location), sync=CatalogSync())
    # THEN its first registration syncs the partitions with the folders: one dropped, one added
    name = "catalog_runs.daily_active_users"
    assert partitions(spark, name) == ["dt=2026-03-02", "dt=2026-03-05"]
    assert sorted(r["dt"] for r in spark.table(name).collect()) == ["2026-03-02", "2026-03-05"]
