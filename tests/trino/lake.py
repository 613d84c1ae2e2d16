"""The lakes the query-engine tier queries: one per table format, written by the project itself.

Each lake lives on a moto server of its own (an AWS account of its own: database `curated`, as in
the README's examples), which the per-test reset of the suite's `moto` fixture never touches, so
one Trino server queries the same lake in every test. A lake is made as on AWS:

1. the raw zone's objects that arrived before BOUNDARY, and the titles;
2. deploy's catalog: the databases and every table definition (`catalog_tables`), with partition
   projection from the lake's first date and raw hour, as `clickstream deploy` makes them;
3. a first run (`catalog: glue`) over those objects;
4. a second run with two promoted fields (new columns) over the later objects and EXTRA_OBJECT,
   whose late events rewrite dates the first run wrote.

The lake is dated March 2026 while the clock reads later: with deploy's projection end (NOW+1
day, NOW for the raw hours) Trino would list every projected date and hour up to today on moto
(~50 LISTs a second; 130 s for the raw table). So `end_projections` ends each range at the lake's
last date and hour; the start, and everything else, is what deploy and the runs wrote.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from pyspark.sql import SparkSession

from clickstream.aws.glue_catalog import (
    catalog_tables,
    database_inputs,
    ensure_database,
    ensure_table,
    lake_first_dates,
    lake_first_raw_hour,
)
from clickstream.config import Settings, load_settings
from clickstream.pipeline.runner import run_pipeline
from clickstream.spark import get_spark
from clickstream_tools.sample import generate_sample
from tests.aws_env import isolate_aws_env
from tests.pipeline import incremental_helpers as ih

DATABASE = "curated"
RAW_DATABASE = "raw"
# Two arrival batches cut at midnight UTC: sessions, late events and re-deliveries cross them.
BOUNDARY = "2026/03/02/00"
PROMOTED = ("promoted_fields.app_version=string", "promoted_fields.duration_ms=long")
FIRST_DATE = "2026-03-01"

# Late plays of 2026-03-01 that arrive with the second batch (2026-03-03 10:15 UTC): a promoted
# long, nested properties, an event_time with a +09:00 offset, one in epoch milliseconds.
EXTRA_KEY = (
    "raw/clickstream/2026/03/03/10/"
    "clickstream-1-2026-03-03-10-15-00-0f0e0d0c-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
)
EXTRA_EVENTS = (
    {
        "event_id": "tier-play-1",
        "user_id": "u-tier-1",
        "event_type": "play",
        "event_time": "2026-03-01T09:30:00.250+09:00",
        "title_id": "t0001",
        "device": "tv",
        "app_version": "9.1.0",
        "duration_ms": 1500,
        "context": {"page": "home", "row": 2},
    },
    {
        "event_id": "tier-play-2",
        "user_id": "u-tier-1",
        "event_type": "play",
        "event_time": 1772326800999,  # 2026-03-01T01:00:00.999Z
        "title_id": "t0002",
        "device": "tv",
        "app_version": "9.1.0",
        "duration_ms": 2500,
        "context": {"page": "search", "row": 0},
    },
    {
        "event_id": "tier-play-3",
        "user_id": "u-tier-2",
        "event_type": "play",
        "event_time": "2026-03-01T23:59:59.001Z",
        "device": "web",
        "app_version": "9.2.0",
        "duration_ms": "3500",  # a numeric string fits a long
    },
)
# The instants those event_time values denote (what every engine must read).
EXTRA_INSTANTS = {
    "tier-play-1": datetime(2026, 3, 1, 0, 30, 0, 250_000, tzinfo=UTC),
    "tier-play-2": datetime(2026, 3, 1, 1, 0, 0, 999_000, tzinfo=UTC),
    "tier-play-3": datetime(2026, 3, 1, 23, 59, 59, 1_000, tzinfo=UTC),
}
EXTRA_INGESTED_AT = datetime(2026, 3, 3, 10, 15, 0, tzinfo=UTC)


@dataclass
class Lake:
    """One lake: its format, moto endpoint, bucket, the settings of its last run and its runs'
    written dates."""

    table_format: str
    endpoint: str
    bucket: str
    settings: Settings
    sample: Path
    first_run_dates: list[str] = field(default_factory=list)
    summaries: list[dict[str, object]] = field(default_factory=list)

    @property
    def root(self) -> str:
        """s3://<bucket>/lake"""
        return self.settings.lake


def lake_settings(root: str, table_format: str, *overrides: str) -> Settings:
    """A local run on an S3 lake that registers its tables in the Glue Data Catalog."""
    return load_settings(
        "local",
        [
            f"lake_root={root}",
            "catalog=glue",
            f"database={DATABASE}",
            f"raw_database={RAW_DATABASE}",
            f"table_format={table_format}",
            *overrides,
        ],
    )


@contextmanager
def aws_env(endpoint: str, tmp: Path) -> Iterator[None]:
    """The standard AWS variables pointing at one moto server, for boto3 and the project."""
    patch = pytest.MonkeyPatch()
    try:
        isolate_aws_env(patch, tmp, endpoint)
        yield
    finally:
        patch.undo()


def _upload(root: Path, files: list[Path], bucket: str) -> None:
    """Local lake files at the same relative keys under s3://<bucket>/lake/."""
    s3 = boto3.client("s3")
    for path in files:
        s3.upload_file(str(path), bucket, f"lake/{path.relative_to(root)}")


def extra_object() -> bytes:
    """EXTRA_EVENTS as one newline-delimited Firehose object."""
    return "".join(json.dumps(e) + "\n" for e in EXTRA_EVENTS).encode()


def build_lake(
    spark: SparkSession, table_format: str, endpoint: str, sample: Path, tmp: Path
) -> Lake:
    """Deploy's catalog, then two runs (the second with promoted fields); see the module doc."""
    bucket = f"tier-{table_format}"
    root = f"s3://{bucket}/lake"
    # S3A opens a bucket once per JVM: pin this bucket to its own moto server, whatever endpoint
    # other tests give the shared session later.
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    hadoop.set(f"fs.s3a.bucket.{bucket}.endpoint", endpoint)
    with aws_env(endpoint, tmp):
        first = lake_settings(root, table_format)
        boto3.client("s3").create_bucket(Bucket=bucket)
        _upload(sample, sorted((sample / "ref").rglob("*.csv")), bucket)
        early, late = ih.split_by_arrival(ih.raw_objects(sample), sample, [BOUNDARY])
        _upload(sample, early, bucket)
        glue = boto3.client("glue")
        for database in database_inputs(first):
            ensure_database(glue, database)
        starts = lake_first_dates(first), lake_first_raw_hour(first)
        for database, table in catalog_tables(first, *starts):
            ensure_table(glue, database, table)
        lake = Lake(table_format, endpoint, bucket, first, sample)
        assert get_spark(first) is spark
        lake.summaries.append(run_pipeline(first, spark=spark, echo=ih.quiet))
        lake.first_run_dates = _registered_dates(glue, table_format)
        second = lake_settings(root, table_format, *PROMOTED)
        _upload(sample, late, bucket)
        boto3.client("s3").put_object(Bucket=bucket, Key=f"lake/{EXTRA_KEY}", Body=extra_object())
        lake.summaries.append(run_pipeline(second, spark=spark, echo=ih.quiet))
        lake.settings = second
        end_projections(glue)
    return lake


def _registered_dates(glue: Any, table_format: str) -> list[str]:
    """The dates of events registered in Glue (its _manifest table's in a Delta lake)."""
    table = "events" if table_format == "parquet" else "events_manifest"
    parts = glue.get_partitions(DatabaseName=DATABASE, TableName=table)["Partitions"]
    return sorted(p["Values"][0] for p in parts)


def end_projections(glue: Any) -> None:
    """End every projection range of the lake's catalog at its last partition (see the module
    doc): the dt ranges at the last registered date + 1 day, the raw hours at EXTRA's hour."""
    from clickstream.aws.glue_catalog import _TABLE_INPUT_KEYS

    last_hour = EXTRA_KEY.removeprefix("raw/clickstream/").rsplit("/", 1)[0]
    for database in (DATABASE, RAW_DATABASE):
        for page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
            for table in page["TableList"]:
                parameters = dict(table.get("Parameters") or {})
                ranges = [
                    k for k in parameters if k.startswith("projection.") and k.endswith(".range")
                ]
                if not ranges:
                    continue
                if table.get("PartitionKeys") and table["PartitionKeys"][0]["Name"] == "dt":
                    parts = glue.get_partitions(DatabaseName=database, TableName=table["Name"])
                    dates = sorted(p["Values"][0] for p in parts["Partitions"])
                    start = parameters[ranges[0]].split(",", 1)[0]
                    end = (
                        (date.fromisoformat(dates[-1]) + timedelta(days=1)).isoformat()
                        if dates
                        else start  # no data: the one date the start names
                    )
                else:
                    end = last_hour
                for key in ranges:
                    parameters[key] = f"{parameters[key].split(',', 1)[0]},{end}"
                spec = {k: table[k] for k in _TABLE_INPUT_KEYS if table.get(k) is not None}
                glue.update_table(
                    DatabaseName=database, TableInput={**spec, "Parameters": parameters}
                )


def make_sample(root: Path) -> Path:
    """The generated raw zone and titles both lakes are made from (2 days from 2026-03-01)."""
    generate_sample(root, events=600, users=40, days=2, seed=11, titles=40)
    return root


def raw_lines(sample: Path) -> dict[str, int]:
    """Lines per raw hour folder (YYYY/MM/DD/HH) as Hadoop's text reader splits them, EXTRA
    included: gzip objects decompressed, a last line without a newline counted."""
    lines: dict[str, int] = {}

    def add(hour: str, content: bytes) -> None:
        pieces = content.split(b"\n")
        if pieces and pieces[-1] == b"":
            pieces.pop()
        lines[hour] = lines.get(hour, 0) + len(pieces)

    for path in ih.raw_objects(sample):
        content = path.read_bytes()
        if path.name.endswith(".gz"):
            content = gzip.decompress(content) if content else b""
        add(ih.relative(path, sample).rsplit("/", 1)[0], content)
    add(EXTRA_KEY.removeprefix("raw/clickstream/").rsplit("/", 1)[0], extra_object())
    return lines
