"""Spark baselines on the raw zone: the floor for any Spark pipeline here, and Spark's own reader.

* ``scan``: list the raw objects and read them with the project's Firehose reader
  (``read_firehose`` over ``list_raw_objects``, the only reader here that sees every record of
  concatenated and pretty-printed objects), derive ``dt`` from ``event_time`` and write every
  record as dt-partitioned Parquet (dynamic overwrite). No validation split, dedup, join,
  window or shuffle: what every Spark pipeline on this raw zone pays at least.
* ``core``: the scan's read plus the contract's core, as the pipeline computes it: the valid
  records deduplicated (``dedup_events``) and sessionized (``sessionize``), written as
  dt-partitioned Parquet. No quarantine, enrichment, catalog, change sets, other jobs or checks:
  the least a pipeline meeting the contract does in Spark, between the scan and the pipeline.
* ``scan_native``: ``spark.read.json`` with an explicit schema (recursiveFileLookup) writing
  dt-partitioned Parquet. Spark's JSON reader is line-based: it keeps the first value of a line
  and turns each line of a pretty-printed object into a corrupt (all-null) row, so it reads far
  fewer events than there are. It shows what the raw format costs.

Run alone: ``python -m clickstream_tools.bench.spark_scan --mode scan --lake LAKE --out DIR``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from clickstream.config import Settings, load_settings
from clickstream.config_args import add_env_args
from clickstream.firehose_reader import ReaderLimits, read_firehose, split_valid
from clickstream.raw_objects import list_raw_objects
from clickstream.spark import get_spark
from clickstream.tables import PARTITION_COLUMN
from clickstream.transforms import dedup_events, local_date, sessionize
from clickstream_tools.bench import emit_result

MODES = ("scan", "core", "scan_native")
NATIVE_SCHEMA = StructType(
    [
        StructField(name, StringType(), True)
        for name in ("event_id", "user_id", "event_type", "event_time", "title_id")
    ]
)


def _write(df: DataFrame, path: str) -> None:
    """dt-partitioned snappy Parquet, dynamic partition overwrite (the session's settings)."""
    df.write.mode("overwrite").partitionBy(PARTITION_COLUMN).parquet(path)


def scan(spark: SparkSession, settings: Settings, raw_root: str, out: str) -> dict[str, Any]:
    """Firehose reader over every raw object, dt from event_time, every record to Parquet."""
    objects = list_raw_objects(spark, raw_root)
    parsed = read_firehose(spark, objects, limits=ReaderLimits.of(settings.values))
    # Rejected records have no event_time: their arrival date keeps them out of a null partition.
    dt = F.coalesce(
        local_date("event_time", settings.timezone), F.date_format("ingested_at", "yyyy-MM-dd")
    )
    obs = Observation("scan")
    rows = parsed.withColumn(PARTITION_COLUMN, dt).observe(
        obs,
        F.count(F.lit(1)).alias("rows"),
        F.count("event_time").alias("rows_with_event_time"),
        F.count(F.when(F.col("reason").isNull(), 1)).alias("valid"),
    )
    _write(rows, out)
    metrics = obs.get
    return {
        "objects": len(objects),
        "rows": int(metrics["rows"]),
        "records_read": int(metrics["rows"]),
        "valid": int(metrics["valid"]),
        "rows_with_event_time": int(metrics["rows_with_event_time"]),
    }


def core(spark: SparkSession, settings: Settings, raw_root: str, out: str) -> dict[str, Any]:
    """Firehose reader, valid records deduplicated and sessionized, written by dt (no bookkeeping)."""
    objects = list_raw_objects(spark, raw_root)
    valid, _ = split_valid(read_firehose(spark, objects, limits=ReaderLimits.of(settings.values)))
    # Parsed once and cached, as curate_events does: dedup reads the keys, then the rows.
    valid = valid.persist()
    events = sessionize(
        dedup_events(valid),
        timeout_minutes=settings.session_timeout_minutes,
        max_session_hours=settings.max_session_hours,
    )
    obs = Observation("core")
    rows = events.withColumn(PARTITION_COLUMN, local_date("event_time", settings.timezone)).observe(
        obs, F.count(F.lit(1)).alias("rows")
    )
    _write(rows, out)
    return {"objects": len(objects), "rows": int(obs.get["rows"])}


def scan_native(spark: SparkSession, settings: Settings, raw_root: str, out: str) -> dict[str, Any]:
    """spark.read.json (explicit schema, recursive) to dt-partitioned Parquet; counts what it got."""
    df = (
        spark.read.schema(NATIVE_SCHEMA)
        .option("recursiveFileLookup", "true")
        .option("mode", "PERMISSIVE")
        .json(raw_root)
    )
    event_time = F.coalesce(
        F.col("event_time").cast("timestamp"),
        F.timestamp_millis(F.col("event_time").cast("long")),
    )
    obs = Observation("scan_native")
    rows = df.withColumn(PARTITION_COLUMN, local_date(event_time, settings.timezone)).observe(
        obs,
        F.count(F.lit(1)).alias("rows"),
        F.count("event_id").alias("rows_with_event_id"),
        F.count(PARTITION_COLUMN).alias("rows_with_event_time"),
    )
    _write(rows, out)
    metrics = obs.get
    return {
        "rows": int(metrics["rows"]),
        "records_read": int(metrics["rows"]),
        "rows_with_event_id": int(metrics["rows_with_event_id"]),
        "rows_with_event_time": int(metrics["rows_with_event_time"]),
    }


def measure(
    mode: str, lake: str, out: str, *, env: str = "local", overrides: Sequence[str] = ()
) -> dict[str, Any]:
    """Start Spark with the pipeline's settings (lake_root=lake), then time one baseline."""
    settings = load_settings(env, [f"lake_root={lake}", *overrides])
    t0 = time.perf_counter()
    spark = get_spark(settings, app_name=f"clickstream-bench-{mode}")
    start = time.perf_counter() - t0
    work = {"scan": scan, "core": core, "scan_native": scan_native}[mode]
    t1 = time.perf_counter()
    result = work(spark, settings, settings.path("raw/clickstream"), out)
    seconds = time.perf_counter() - t1
    spark.stop()
    return {**result, "start_seconds": round(start, 3), "seconds": round(seconds, 3)}


def main(argv: list[str] | None = None) -> int:
    """Run one baseline and write its JSON result (the harness runs this in a child process)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--lake", required=True, help="lake root (raw/clickstream is read)")
    parser.add_argument("--out", required=True, help="folder for the Parquet output")
    parser.add_argument("--result", help="JSON file for the result (default: stdout)")
    add_env_args(parser)
    args = parser.parse_args(argv)
    result = measure(args.mode, args.lake, args.out, env=args.env, overrides=args.overrides)
    return emit_result(result, args.result)


if __name__ == "__main__":
    raise SystemExit(main())
