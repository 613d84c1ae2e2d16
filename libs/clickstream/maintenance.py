"""`clickstream maintain`: compact the recently written dates, then vacuum the Delta tables.

Per Delta table (events, sessions, daily_active_users, user_activity, quarantine):
1. the dates written by commits of the last maintenance_lookback_days days, from the commits'
   add actions in the Delta log (a handful of small JSON files);
2. the tables written by changed rows only (events, sessions: Table.cluster_by), among those
   dates the ones holding more than one small file, rewritten sorted by user in one commit
   (clickstream.compaction); the other tables: OPTIMIZE ... WHERE dt IN (those dates), bin-packing;
3. VACUUM ... RETAIN delta_retention_days*24 HOURS: files no version of the last
   delta_retention_days days needs are deleted, so time travel reaches back that far (and no
   further than the Delta log's own retention, 30 days by default).
Per Parquet table written by changed rows only (events, sessions): the dates holding a file
written in the last maintenance_lookback_days days (one recursive listing) and more than one
small file are rewritten clustered by user through clickstream.file_ops (exact at any crash).
The other Parquet tables rewrite whole dates and have nothing to compact.
Maintenance holds the lease of every job that writes these tables from before Spark starts to
the end.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pyspark.sql import SparkSession

from clickstream import delta_lake, file_ops, fs, iceberg
from clickstream.compaction import compact, fragmented_dts, recent_dts
from clickstream.config import Settings
from clickstream.leases import acquire_all
from clickstream.tables import PARTITION_COLUMN, Table, all_tables
from clickstream.writer import dt_predicate, format_of, is_delta

MIB = 1024 * 1024

# Delta refuses a VACUUM retention under 7 days unless this check is off; a shorter
# delta_retention_days is an explicit choice, so the check is lifted for that VACUUM only.
RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
# VACUUM lists the table's files in this many tasks (Spark's default: 10,000, which alone takes
# minutes on a small cluster); a few tasks per core list a table's dt folders as well.
LISTING_PARALLELISM = "spark.sql.sources.parallelPartitionDiscovery.parallelism"


def delta_tables(settings: Settings) -> list[Table]:
    """The tables written as Delta with these settings."""
    tables = all_tables(settings.promoted_fields)
    return [t for t in tables if format_of(t, settings.table_format) == "delta"]


def maintained_tables(settings: Settings) -> list[Table]:
    """The Delta tables, and the Parquet tables written by changed rows only (cluster_by)."""
    tables = all_tables(settings.promoted_fields)
    return [
        t
        for t in tables
        if format_of(t, settings.table_format) in ("delta", "iceberg")
        or (t.cluster_by and format_of(t, settings.table_format) == "parquet")
    ]


def recently_rewritten_dts(spark: SparkSession, path: str, since: datetime) -> list[str]:
    """Dates that commits at or after `since` added files to (from the Delta log's commits)."""
    history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").select("version", "timestamp")
    versions = [r["version"] for r in history.collect() if r["timestamp"].astimezone(UTC) >= since]
    dts: set[str] = set()
    for version in versions:
        text = fs.read_text(spark, f"{path}/_delta_log/{version:020d}.json") or ""
        for line in text.splitlines():
            add = json.loads(line).get("add") if line.strip() else None
            if add and PARTITION_COLUMN in (add.get("partitionValues") or {}):
                dts.add(add["partitionValues"][PARTITION_COLUMN])
    return sorted(dts)


def maintain_table(
    spark: SparkSession, settings: Settings, table: Table, now: datetime | None = None
) -> dict[str, Any]:
    """Compact the table's recently written dates (then vacuum a Delta table); what was done."""
    path = settings.path(table.location)
    since = (now or datetime.now(UTC)) - timedelta(days=settings.maintenance_lookback_days)
    if format_of(table, settings.table_format) == "iceberg":
        return _maintain_iceberg(spark, settings, table, path, now or datetime.now(UTC))
    if format_of(table, settings.table_format) != "delta":
        return _maintain_parquet(spark, settings, table, path, since)
    if not is_delta(spark, path):
        return {"table": table.name, "skipped": "no Delta table yet"}
    dts = recently_rewritten_dts(spark, path, since) if settings.maintenance_lookback_days else []
    compacted = 0
    if dts and table.cluster_by:
        target = settings.target_file_mb * MIB
        fragmented = fragmented_dts(spark, path, dts, target, "delta")
        compacted = compact(spark, settings.lake, table, path, fragmented, table_format="delta")
    elif dts:
        metrics = spark.sql(f"OPTIMIZE delta.`{path}` WHERE {dt_predicate(dts)}").first()["metrics"]
        compacted = int(metrics["numFilesRemoved"])
    # The compacted dates' COPY manifests (and any a dead writer or maintenance left stale).
    delta_lake.refresh_manifests(spark, path, hooked=compacted > 0, partitioned=table.partitioned)
    _vacuum(spark, path, settings.delta_retention_days)
    return {"table": table.name, "dates": dts, "files_compacted": compacted}


def _maintain_parquet(
    spark: SparkSession, settings: Settings, table: Table, path: str, since: datetime
) -> dict[str, Any]:
    """A Parquet table's recent dates holding more than one small file, rewritten clustered."""
    dts = recent_dts(spark, path, since) if settings.maintenance_lookback_days else []
    fragmented = fragmented_dts(spark, path, dts, settings.target_file_mb * MIB, "parquet")
    compacted = compact(spark, settings.lake, table, path, fragmented, table_format="parquet")
    return {"table": table.name, "dates": dts, "files_compacted": compacted}


def _maintain_iceberg(
    spark: SparkSession, settings: Settings, table: Table, path: str, now: datetime
) -> dict[str, Any]:
    """An Iceberg table's dates holding more than one small file (or a delete file) rewritten
    clustered, then snapshots older than delta_retention_days expired and orphans removed."""
    if not iceberg.is_iceberg(spark, path):
        return {"table": table.name, "skipped": "no Iceberg table yet"}
    dts = sorted(iceberg.live_dts(spark, settings.lake, table))
    fragmented = fragmented_dts(spark, path, dts, settings.target_file_mb * MIB, "iceberg")
    compacted = compact(spark, settings.lake, table, path, fragmented, table_format="iceberg")
    iceberg.expire(spark, settings.lake, table, now - timedelta(days=settings.delta_retention_days))
    return {"table": table.name, "dates": fragmented, "files_compacted": compacted}


def _vacuum(spark: SparkSession, path: str, retention_days: int) -> None:
    """VACUUM the Delta table past retention_days (the 7-day check lifted for this call)."""
    hours = retention_days * 24
    conf = {LISTING_PARALLELISM: str(4 * spark.sparkContext.defaultParallelism)}
    if hours < 7 * 24:
        conf[RETENTION_CHECK] = "false"
    previous = {key: spark.conf.get(key, None) for key in conf}
    for key, value in conf.items():
        spark.conf.set(key, value)
    try:
        spark.sql(f"VACUUM delta.`{path}` RETAIN {hours} HOURS").collect()
    finally:
        for key, value in previous.items():
            spark.conf.unset(key) if value is None else spark.conf.set(key, value)


def maintain(
    settings: Settings,
    *,
    writers: Sequence[str],
    spark: SparkSession | None = None,
    echo: Callable[[str], None] = print,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Maintain the lake's Delta tables and its Parquet tables written by changed rows, holding
    the leases of the jobs that write them, writers (LeaseHeld, naming the holder, while one is
    running)."""
    tables = maintained_tables(settings)
    from clickstream.spark import get_spark

    leases = acquire_all(
        settings.lake, writers, stale_minutes=settings.lease_stale_minutes, warn=echo
    )
    try:
        leases.keep_renewed(settings.lease_stale_minutes * 60 / 4)
        spark = spark or get_spark(settings, "clickstream-maintain")
        paths = [settings.path(t.location) for t in tables]
        for op in file_ops.complete_pending(spark, settings.lake, paths):
            echo(f"completed the file operation {op} a dead run left unfinished")
        return _maintain_all(spark, settings, tables, echo, now)
    finally:
        leases.release()


def _maintain_all(
    spark: SparkSession,
    settings: Settings,
    tables: list[Table],
    echo: Callable[[str], None],
    now: datetime | None,
) -> list[dict[str, Any]]:
    done = []
    for table in tables:
        result = maintain_table(spark, settings, table, now)
        if "skipped" in result:
            echo(f"{table.name}: {result['skipped']}")
        else:
            vacuumed = (
                f"; vacuumed files older than {settings.delta_retention_days} day(s)"
                if format_of(table, settings.table_format) == "delta"
                else f"; expired snapshots older than {settings.delta_retention_days} day(s)"
                if format_of(table, settings.table_format) == "iceberg"
                else ""
            )
            echo(
                f"{table.name}: compacted {result['files_compacted']} file(s) over "
                f"{len(result['dates'])} recent date(s){vacuumed}"
            )
        done.append(result)
    return done
