"""`clickstream maintain`: compact the recently rewritten dates of the Delta tables, then vacuum.

Per Delta table (events, sessions, daily_active_users, quarantine):
1. the dates rewritten by commits of the last maintenance_lookback_days days, from the commits'
   add actions in the Delta log (a handful of small JSON files);
2. OPTIMIZE ... WHERE dt IN (those dates): bin-packing of their small files, one commit;
3. VACUUM ... RETAIN delta_retention_days*24 HOURS: files no version of the last
   delta_retention_days days needs are deleted, so time travel reaches back that far (and no
   further than the Delta log's own retention, 30 days by default).
Parquet lakes have nothing to maintain. Delta on S3 assumes one writer: maintenance holds the
lease of every job (they all write these tables) from before Spark starts to the end.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pyspark.sql import SparkSession

from clickstream import delta_lake, fs
from clickstream.config import Settings
from clickstream.leases import acquire_all
from clickstream.tables import ALL_TABLES, PARTITION_COLUMN, Table
from clickstream.writer import dt_predicate, format_of, is_delta

# Delta refuses a VACUUM retention under 7 days unless this check is off; a shorter
# delta_retention_days is an explicit choice, so the check is lifted for that VACUUM only.
RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
# VACUUM lists the table's files in this many tasks (Spark's default: 10,000, which alone takes
# minutes on a small cluster); a few tasks per core list a table's dt folders as well.
LISTING_PARALLELISM = "spark.sql.sources.parallelPartitionDiscovery.parallelism"


def delta_tables(settings: Settings) -> list[Table]:
    """The tables written as Delta with these settings."""
    return [t for t in ALL_TABLES if format_of(t, settings.table_format) == "delta"]


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
    """Compact the table's recently rewritten dates, then vacuum it; returns what was done."""
    path = settings.path(table.location)
    if not is_delta(spark, path):
        return {"table": table.name, "skipped": "no Delta table yet"}
    now = now or datetime.now(UTC)
    since = now - timedelta(days=settings.maintenance_lookback_days)
    dts = recently_rewritten_dts(spark, path, since) if settings.maintenance_lookback_days else []
    compacted = 0
    if dts:
        metrics = spark.sql(f"OPTIMIZE delta.`{path}` WHERE {dt_predicate(dts)}").first()["metrics"]
        compacted = int(metrics["numFilesRemoved"])
    # The compacted dates' COPY manifests (and any a dead writer or maintenance left stale).
    delta_lake.refresh_manifests(spark, path, hooked=compacted > 0, partitioned=table.partitioned)
    hours = settings.delta_retention_days * 24
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
    return {"table": table.name, "dates": dts, "files_compacted": compacted}


def maintain(
    settings: Settings,
    *,
    writers: Sequence[str],
    spark: SparkSession | None = None,
    echo: Callable[[str], None] = print,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Maintain every Delta table of the lake (nothing to do for Parquet), holding the leases of
    the jobs that write them, writers (LeaseHeld, naming the holder, while one is running)."""
    tables = delta_tables(settings)
    if not tables:
        echo("table_format is parquet: nothing to maintain")
        return []
    from clickstream.spark import get_spark

    leases = acquire_all(
        settings.lake, writers, stale_minutes=settings.lease_stale_minutes, warn=echo
    )
    try:
        leases.keep_renewed(settings.lease_stale_minutes * 60 / 4)
        spark = spark or get_spark(settings, "clickstream-maintain")
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
            echo(
                f"{table.name}: compacted {result['files_compacted']} file(s) over "
                f"{len(result['dates'])} recent date(s); vacuumed files older than "
                f"{settings.delta_retention_days} day(s)"
            )
        done.append(result)
    return done
