"""The test session carries the settings the curated output contract depends on."""

from __future__ import annotations

from pyspark.sql import SparkSession

from clickstream.spark import SQL_CONF


def test_session_uses_utc_dynamic_overwrite_and_micros_timestamps(spark: SparkSession) -> None:
    for key, value in SQL_CONF.items():
        assert spark.conf.get(key) == value, key
    assert spark.conf.get("spark.sql.catalogImplementation") == "hive"
