"""Reading Delta tables with delta-rs (the `deltalake` package), a reader independent of Spark."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
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


def stale_manifests(table_dir: str) -> list[str]:
    """Dates of a local Delta table whose symlink manifest (Spectrum) or COPY manifest (Redshift)
    does not list exactly the live files (with their sizes) delta-rs reads from the log."""
    root = Path(table_dir)
    live: dict[str, set[tuple[str, int]]] = {}
    for action in delta_table(table_dir).get_add_actions(flatten=True).to_pylist():
        live.setdefault(action["partition.dt"], set()).add((action["path"], action["size_bytes"]))

    def relative(url: str) -> str:
        return url.split(f"{root}/", 1)[-1]

    symlinks = {
        p.parent.name.removeprefix("dt="): {relative(u) for u in p.read_text().split()}
        for p in root.glob("_symlink_format_manifest/dt=*/manifest")
    }
    copies = {
        p.name.removeprefix("dt=").removesuffix(".manifest"): {
            (relative(e["url"]), e["meta"]["content_length"])
            for e in json.loads(p.read_text())["entries"]
        }
        for p in root.glob("_redshift_manifest/dt=*.manifest")
    }
    return sorted(
        dt
        for dt in {*live, *symlinks, *copies}
        if symlinks.get(dt) != {path for path, _ in live.get(dt, ())}
        or copies.get(dt) != live.get(dt)
    )
