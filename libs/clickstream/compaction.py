"""Compaction: a date's many small files rewritten as few, clustered by user.

Writing only what changed adds files to a date every hourly run. A date is compacted
- by the run that wrote it, once it holds more than compact_after_files files (null: never);
- by `clickstream maintain`, when it holds more than one small file (under half of
  target_file_mb), among the dates written in the last maintenance_lookback_days.
The date's rows are rewritten sorted by the table's cluster_by (user_id first): Parquet through
clickstream.file_ops (exact at any crash); Delta in one overwrite commit of those dates
(replaceWhere, dataChange=false), rather than OPTIMIZE: its bin-packing keeps no user order and
ZORDER BY states no order of the rows inside a file, while this rewrite sorts them (tested).
Rows never change: a compaction rewrites them as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from clickstream import delta_lake, file_ops, iceberg
from clickstream.row_writes import clustered
from clickstream.tables import PARTITION_COLUMN, Table
from clickstream.writer import dt_predicate, table_schema


def _files(spark: SparkSession, path: str, dt: str) -> list[tuple[str, int]]:
    """(path, bytes) of the data files in a date's folder."""
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


def recent_dts(spark: SparkSession, path: str, since: datetime) -> list[str]:
    """Dates whose folders hold a data file written at or after since (one recursive listing)."""
    jvm = spark.sparkContext._jvm  # type: ignore[attr-defined]
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    root = jvm.org.apache.hadoop.fs.Path(path)
    fs = root.getFileSystem(conf)
    if not fs.exists(root):
        return []
    base = len(str(fs.makeQualified(root).toString()).rstrip("/"))
    cutoff = int(since.timestamp() * 1000)
    prefix = f"{PARTITION_COLUMN}="
    found: set[str] = set()
    listing = fs.listFiles(root, True)
    while listing.hasNext():
        status = listing.next()
        parts = str(status.getPath().toString())[base:].split("/")
        hidden = any(p.startswith(("_", ".")) for p in parts if p)
        if status.getModificationTime() >= cutoff and not hidden and parts[1].startswith(prefix):
            found.add(parts[1][len(prefix) :])
    return sorted(found)


def live_files(
    spark: SparkSession, path: str, dts: Sequence[str], table_format: str
) -> dict[str, list[tuple[str, int]]]:
    """(path, bytes) of each date's live data files: the folder's files, and for Delta only
    those its log names (a Delta folder also holds files removed by later commits)."""
    wanted = sorted(set(dts))
    if table_format == "iceberg":
        return _iceberg_files(spark, path, wanted)
    found = {dt: _files(spark, path, dt) for dt in wanted}
    if table_format != "delta" or not wanted:
        return found
    live = spark.read.format("delta").load(path).where(dt_predicate(wanted)).inputFiles()
    names = {f.rsplit("/", 1)[-1] for f in live}
    return {
        dt: [(f, n) for f, n in files if f.rsplit("/", 1)[-1] in names]
        for dt, files in found.items()
    }


def _iceberg_files(
    spark: SparkSession, path: str, dts: Sequence[str]
) -> dict[str, list[tuple[str, int]]]:
    """(path, bytes) of each date's live data and delete files, from the table's metadata (a
    delete file counts: compaction folds it into the data files)."""
    found: dict[str, list[tuple[str, int]]] = {dt: [] for dt in dts}
    if not dts or not iceberg.is_iceberg(spark, path):
        return found
    files = spark.read.format("iceberg").load(f"{path}#files")
    files = files.where(F.col(f"partition.{PARTITION_COLUMN}").isin(list(dts)))
    for row in files.select(
        f"partition.{PARTITION_COLUMN}", "file_path", "file_size_in_bytes"
    ).collect():
        found[row[0]].append((row[1], int(row[2])))
    return found


def crowded_dts(
    spark: SparkSession, path: str, dts: Sequence[str], limit: int | None, table_format: str
) -> list[str]:
    """The dates among dts holding more than limit live data files (none when limit is None)."""
    if limit is None or not dts:
        return []
    files = live_files(spark, path, dts, table_format)
    return [dt for dt, found in files.items() if len(found) > limit]


def fragmented_dts(
    spark: SparkSession, path: str, dts: Sequence[str], target_bytes: int, table_format: str
) -> list[str]:
    """The dates among dts holding more than one live file under half of target_bytes."""
    small = target_bytes // 2
    files = live_files(spark, path, dts, table_format)
    return [dt for dt, found in files.items() if sum(1 for _, n in found if n < small) > 1]


def compact_crowded(
    spark: SparkSession,
    lake: str,
    table: Table,
    path: str,
    dts: Sequence[str],
    *,
    limit: int | None,
    table_format: str,
) -> list[str]:
    """Compact the dates among dts holding more than limit files; those dates."""
    crowded = crowded_dts(spark, path, dts, limit, table_format)
    compact(spark, lake, table, path, crowded, table_format=table_format)
    return crowded


def compact(
    spark: SparkSession,
    lake: str,
    table: Table,
    path: str,
    dts: Sequence[str],
    *,
    table_format: str,
) -> int:
    """Rewrite the dates' files as few, clustered by table.cluster_by; the files removed."""
    if not dts:
        return 0
    if table_format == "delta":
        return _compact_delta(spark, table, path, dts)
    if table_format == "iceberg":
        return iceberg.compact_dates(spark, lake, table, dts)
    files = [f for dt in dts for f, _ in _files(spark, path, dt)]
    if not files:
        return 0
    rows = spark.read.schema(table_schema(table)).option("basePath", path).parquet(*files)
    file_ops.replace_files(
        spark, lake, path, clustered(rows, table.cluster_by), PARTITION_COLUMN, remove=files
    )
    return len(files)


def _compact_delta(spark: SparkSession, table: Table, path: str, dts: Sequence[str]) -> int:
    """One commit that rewrites the dates' rows clustered (replaceWhere, dataChange=false: readers
    of the change feed and streaming see no new data); the files it removed."""
    where = dt_predicate(dts)
    before = len(spark.read.format("delta").load(path).where(where).inputFiles())
    rows = spark.read.format("delta").load(path).where(where)
    writer = clustered(rows, table.cluster_by).write.format("delta").mode("overwrite")
    writer.option("replaceWhere", where).option("dataChange", "false").save(path)
    delta_lake.refresh_manifests(spark, path, hooked=True, partitioned=table.partitioned)
    return before
