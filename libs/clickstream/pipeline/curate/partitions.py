"""The dt partitions a table has on disk, and removing those a rewrite left empty."""

from __future__ import annotations

from pyspark.sql import SparkSession

from clickstream import fs
from clickstream.config import Settings
from clickstream.tables import PARTITION_COLUMN, Table
from clickstream.writer import folder_dts, format_of


def partition_dts(spark: SparkSession, settings: Settings, table: Table) -> set[str]:
    """The dt values of the table's partition folders."""
    return folder_dts(spark, settings.path(table.location))


def drop_empty(
    spark: SparkSession, settings: Settings, table: Table, dts: list[str], written: list[str]
) -> list[str]:
    """Delete partitions of dts the rewrite left without rows (dynamic overwrite keeps them).

    A Delta write already removed their rows in its commit: its files stay for time travel.
    """
    emptied = sorted(set(dts) - set(written))
    if format_of(table, settings.table_format) == "delta":
        return emptied
    for dt in emptied:
        fs.delete(spark, f"{settings.path(table.location)}/{PARTITION_COLUMN}={dt}")
    return emptied
