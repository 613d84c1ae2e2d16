"""The quarantine tables are registered in quarantine_database, apart from the curated tables."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pyspark.sql import SparkSession

from clickstream.catalog import CatalogSync, register_tables
from clickstream.config import load_settings
from clickstream.tables import EVENTS, QUARANTINE, QUARANTINE_TITLES, TITLES
from clickstream.writer import table_schema


def test_hive_registers_quarantine_in_its_own_database_and_forgets_the_old_entry(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN a local lake with quarantine rows, and an old registration in the curated database
    settings = load_settings(
        "local", [f"lake_root={tmp_path}", "database=qdb_curated", "catalog=hive"]
    )
    location = settings.path(QUARANTINE.location)
    row = [("not json", "not_json", "file:/x", datetime(2026, 3, 1), "2026-03-01")]
    spark.createDataFrame(row, table_schema(QUARANTINE)).write.partitionBy("dt").parquet(location)
    spark.sql("CREATE DATABASE IF NOT EXISTS qdb_curated")
    spark.sql(
        f"CREATE TABLE qdb_curated.{QUARANTINE.name} (record string) USING parquet "
        f"LOCATION '{tmp_path / 'elsewhere'}'"
    )
    # WHEN a run registers quarantine
    register_tables(
        spark, settings, (QUARANTINE,), {QUARANTINE.name: ["2026-03-01"]}, sync=CatalogSync()
    )
    # THEN it is in qdb_curated_quarantine with its row, and the curated database lists no quarantine
    assert settings.quarantine_database == "qdb_curated_quarantine"
    found = spark.sql(f"select reason from qdb_curated_quarantine.{QUARANTINE.name}").collect()
    assert [r.reason for r in found] == ["not_json"]
    assert not spark.catalog.tableExists(f"qdb_curated.{QUARANTINE.name}")


def test_every_table_names_its_database() -> None:
    settings = load_settings("dev", ["quarantine_database=secret_stuff"])
    assert settings.database_of(QUARANTINE.name) == "secret_stuff"
    assert settings.database_of(QUARANTINE_TITLES.name) == "secret_stuff"
    assert settings.database_of(f"{QUARANTINE.name}_manifest") == "secret_stuff"
    assert (
        settings.database_of(EVENTS.name) == settings.database_of(TITLES.name) == "clickstream_dev"
    )
