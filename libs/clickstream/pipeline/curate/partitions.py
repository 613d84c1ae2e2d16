"""The dt partitions a table has on disk, and removing those a rewrite left empty."""

from __future__ import annotations

from pyspark.sql import SparkSession

from clickstream import fs, iceberg
from clickstream.config import Settings
from clickstream.tables import PARTITION_COLUMN, Table
from clickstream.writer import folder_dts, format_of


def partition_dts(spark: SparkSession, settings: Settings, table: Table) -> set[str]:
    """The dt values of the table's partition folders (an Iceberg table's live partitions, from
    its metadata: its files sit under data/)."""
    path = settings.path(table.location)
    if iceberg.is_iceberg(spark, path):
        return iceberg.live_dts(spark, settings.lake, table)
    return folder_dts(spark, path)


def drop_empty(
    spark: SparkSession, settings: Settings, table: Table, dts: list[str], written: list[str]
) -> list[str]:
    """Delete partitions of dts the rewrite left without rows (dynamic overwrite keeps them).

    A Delta or Iceberg write already removed their rows in its commit: its files stay for time
    travel.
    """
    emptied = sorted(set(dts) - set(written))
    if format_of(table, settings.table_format) in ("delta", "iceberg"):
        return emptied
    for dt in emptied:
        fs.delete(spark, f"{settings.path(table.location)}/{PARTITION_COLUMN}={dt}")
    return emptied
