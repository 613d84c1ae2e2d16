"""Reading Delta tables with delta-rs (the `deltalake` package), a reader independent of Spark."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deltalake import DeltaTable
from pyspark.sql import DataFrame

from clickstream.tables import Table
from clickstream.writer import table_schema


def storage_options(endpoint: str | None) -> dict[str, str]:
    """delta-rs options for an S3 endpoint over plain HTTP (the moto server), or none."""
    if endpoint is None:
        return {}
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


def delta_table(uri: str, endpoint: str | None = None) -> DeltaTable:
    """delta-rs's view of the table at uri (s3:// is read as S3)."""
    return DeltaTable(uri.replace("s3a://", "s3://"), storage_options=storage_options(endpoint))


def read_delta(
    make_frame: Callable[..., DataFrame], uri: str, table: Table, endpoint: str | None = None
) -> DataFrame:
    """The table's current rows as delta-rs reads them, as a frame in the table's schema."""
    schema = table_schema(table)
    rows: list[dict[str, Any]] = delta_table(uri, endpoint).to_pyarrow_table().to_pylist()
    return make_frame([tuple(row[name] for name in schema.names) for row in rows], schema)
