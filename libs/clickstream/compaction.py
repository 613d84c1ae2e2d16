"""Compaction: a date's many small files rewritten as few, clustered by user.

Writing only what changed adds files to a date every hourly run. A date is compacted
- by the run that wrote it, once it holds more than compact_after_files files (null: never);
- by `clickstream maintain`, when it holds more than one small file (under half of
  target_file_mb), among the dates written in the last maintenance_lookback_days.
Parquet: the date's rows are rewritten clustered by the table's columns (user_id first) through
clickstream.file_ops (exact at any crash); Delta: OPTIMIZE ... ZORDER BY (user_id), one commit.
Rows never change: a compaction rewrites them as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import SparkSession

from clickstream import delta_lake, file_ops
from clickstream.row_writes import clustered
from clickstream.tables import PARTITION_COLUMN, Table
from clickstream.writer import dt_predicate, table_schema


def _files(spark: SparkSession, path: str, dt: str) -> list[tuple[str, int]]:
    """(path, bytes) of a date's data files."""
    jvm = spark.sparkContext._jvm  # type: ignore[attr-defined]
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    folder = jvm.org.apache.hadoop.fs.Path(f"{path}/{PARTITION_COLUMN}={dt}")
    fs = folder.getFileSystem(conf)
    if not fs.exists(folder):
        return []
    return sorted(
        (str(s.getPath().toString()), int(s.getLen()))
        for s in fs.listStatus(folder)
        if s.isFile() and not str(s.getPath().getName()).startswith(("_", "."))
    )


def crowded_dts(
    spark: SparkSession, path: str, dts: Sequence[str], limit: int | None, table_format: str
) -> list[str]:
    """The dates among dts holding more than limit live data files (none when limit is None)."""
    wanted = sorted(set(dts))
    if limit is None or not wanted:
        return []
    if table_format != "delta":
        return [dt for dt in wanted if len(_files(spark, path, dt)) > limit]
    live = spark.read.format("delta").load(path).where(dt_predicate(wanted)).inputFiles()
    prefix = f"{PARTITION_COLUMN}="
    count = dict.fromkeys(wanted, 0)
    for f in live:
        for part in f.split("/"):
            if part.startswith(prefix) and part[len(prefix) :] in count:
                count[part[len(prefix) :]] += 1
    return [dt for dt in wanted if count[dt] > limit]


def compact_crowded(
    spark: SparkSession,
    lake: str,
    table: Table,
    path: str,
    dts: Sequence[str],
    *,
    limit: int | None,
    table_format: str,
    cluster_by: Sequence[str],
) -> list[str]:
    """Compact the dates among dts holding more than limit files; those dates."""
    crowded = crowded_dts(spark, path, dts, limit, table_format)
    compact(spark, lake, table, path, crowded, table_format=table_format, cluster_by=cluster_by)
    return crowded


def fragmented_dts(
    spark: SparkSession, path: str, dts: Sequence[str], target_bytes: int
) -> list[str]:
    """The dates among dts holding more than one file under half of target_bytes."""
    small = target_bytes // 2
    return [
        dt
        for dt in sorted(set(dts))
        if sum(1 for _, size in _files(spark, path, dt) if size < small) > 1
    ]


def compact(
    spark: SparkSession,
    lake: str,
    table: Table,
    path: str,
    dts: Sequence[str],
    *,
    table_format: str,
    cluster_by: Sequence[str],
) -> int:
    """Rewrite the dates' files as few clustered ones; the files removed."""
    if not dts:
        return 0
    if table_format == "delta":
        metrics = spark.sql(
            f"OPTIMIZE delta.`{path}` WHERE {dt_predicate(dts)} ZORDER BY ({cluster_by[0]})"
        ).first()["metrics"]
        delta_lake.refresh_manifests(spark, path, hooked=True, partitioned=table.partitioned)
        return int(metrics["numFilesRemoved"])
    files = [f for dt in dts for f, _ in _files(spark, path, dt)]
    if not files:
        return 0
    rows = spark.read.schema(table_schema(table)).option("basePath", path).parquet(*files)
    file_ops.replace_files(
        spark, lake, path, clustered(rows, cluster_by), PARTITION_COLUMN, remove=files
    )
    return len(files)
