"""Reading Iceberg tables with PyIceberg, a reader independent of Spark (from the metadata files
alone: the table's newest metadata JSON, as any Iceberg reader without a catalog finds it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyiceberg.table import StaticTable
from pyspark.sql import DataFrame

from clickstream.tables import Table
from clickstream.writer import table_schema


def iceberg_table(location: str) -> StaticTable:
    """The table at a local location, from metadata/version-hint.text's metadata file."""
    metadata = Path(location) / "metadata"
    version = (metadata / "version-hint.text").read_text(encoding="utf-8").strip()
    return StaticTable.from_metadata(str(metadata / f"v{version}.metadata.json"))


def read_iceberg(make_frame: Callable[..., DataFrame], location: str, table: Table) -> DataFrame:
    """The table's current rows (position deletes applied) as PyIceberg reads them."""
    schema = table_schema(table)
    rows: list[dict[str, Any]] = iceberg_table(location).scan().to_arrow().to_pylist()
    return make_frame([tuple(row[name] for name in schema.names) for row in rows], schema)
