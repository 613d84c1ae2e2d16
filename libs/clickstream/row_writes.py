"""Writing only what changed in a dt-partitioned table: new rows added, the files holding a
changed row rewritten, nothing else touched.

- Parquet: new rows (and the rewrites of files holding an updated or deleted row) go to new
  files through clickstream.file_ops, which replaces those files exactly once whatever step a
  crash interrupts. Rows are clustered by the table's cluster columns (user_id first), so a
  user's rows sit in few files and a change rewrites few.
- Delta: an append commit when no stored row changes; otherwise one MERGE (copy-on-write: the
  files holding a matched row are rewritten in the same commit). Deletion vectors are not used:
  the symlink manifests Redshift Spectrum reads list files, and would show a deleted row again.
- Iceberg: an append snapshot, or one MERGE written merge-on-read: the new and changed rows go to
  new data files and the stored copies are masked by position deletes, so no stored data file is
  rewritten (Athena and Redshift both read v2 position deletes; compaction folds them in).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from clickstream import delta_lake, file_ops, fs, iceberg
from clickstream.observe import observed
from clickstream.tables import PARTITION_COLUMN, Table
from clickstream.writer import (
    conform,
    dt_predicate,
    dts_metric,
    is_delta,
    observed_dts,
    table_schema,
)

_OP = "_op"


@dataclass(frozen=True)
class RowsWritten:
    """Rows added (new files, or inserted by Delta), rows removed (the replaced files' rows, or
    deleted by Delta), the dates written and the dates left without rows; and what it cost: the
    rows written to files (new, and stored ones written again) and the files replaced."""

    rows: int
    removed: int
    written: list[str]
    emptied: list[str]
    rows_written: int = 0
    files_replaced: int = 0


def clustered(rows: DataFrame, cluster_by: Sequence[str]) -> DataFrame:
    """Rows spread over tasks by date (AQE sizes them), each date's rows sorted by cluster_by."""
    spark = rows.sparkSession
    spread = spark.sql(f"SELECT /*+ REBALANCE({PARTITION_COLUMN}) */ * FROM {{df}}", df=rows)
    return spread.sortWithinPartitions(PARTITION_COLUMN, *cluster_by)


def write_changed_rows(
    table: Table,
    path: str,
    lake: str,
    *,
    new: DataFrame,
    updated: DataFrame,
    deleted: DataFrame,
    key: str,
    set_columns: Sequence[str],
    files: Sequence[str],
    touched_dts: Sequence[str],
    table_format: str,
    metrics: Sequence[Column] = (),
) -> tuple[RowsWritten, dict[str, object]]:
    """Add new (whole rows), set set_columns of the stored rows in updated (key, set_columns),
    delete the stored rows in deleted (key); files: the Parquet files holding an updated or
    deleted row; touched_dts: their dates. Returns what was written and the metrics observed
    over the written rows (new rows, for Delta)."""
    if table_format == "delta":
        return _delta(table, path, new, updated, deleted, key, set_columns, touched_dts, metrics)
    if table_format == "iceberg":
        return _iceberg(table, lake, new, updated, deleted, key, set_columns, touched_dts, metrics)
    spark = new.sparkSession
    rows = conform(new, table)
    removed_obs = Observation(f"{table.name}_removed")
    if files:
        stored = spark.read.schema(table_schema(table)).option("basePath", path).parquet(*files)
        stored = stored.observe(removed_obs, F.count(F.lit(1)).alias("rows"))
        kept = stored.join(deleted.select(key), key, "left_anti")
        changes = updated.select(key, *(F.col(c).alias(f"_set_{c}") for c in set_columns))
        kept = kept.join(changes, key, "left").select(
            *(
                F.coalesce(F.col(f"_set_{c}"), F.col(c)).alias(c) if c in set_columns else F.col(c)
                for c in table_schema(table).names
            )
        )
        rows = kept.unionByName(rows)
    obs = Observation(f"{table.name}_added")
    rows = clustered(rows, table.cluster_by).observe(
        obs, F.count(F.lit(1)).alias("rows"), dts_metric(), *metrics
    )
    file_ops.replace_files(spark, lake, path, rows, PARTITION_COLUMN, remove=files)
    seen = observed(obs)
    emptied = [
        dt
        for dt in sorted(set(touched_dts))
        if not file_ops.files_of(spark, path, [f"{PARTITION_COLUMN}={dt}"])
    ]
    for dt in emptied:
        fs.delete(spark, f"{path}/{PARTITION_COLUMN}={dt}")
    removed = int(observed(removed_obs)["rows"]) if files else 0
    written = sorted(set(observed_dts(obs)) - set(emptied))
    rows_added = int(seen["rows"])
    done = RowsWritten(rows_added, removed, written, emptied, rows_added, len(files))
    return done, seen


def _delta(
    table: Table,
    path: str,
    new: DataFrame,
    updated: DataFrame,
    deleted: DataFrame,
    key: str,
    set_columns: Sequence[str],
    touched_dts: Sequence[str],
    metrics: Sequence[Column],
) -> tuple[RowsWritten, dict[str, object]]:
    """Delta: one append or one MERGE commit; the manifests of the dates it changed follow."""
    spark = new.sparkSession
    obs = Observation(f"{table.name}_added")
    rows = conform(new, table).observe(obs, F.count(F.lit(1)).alias("rows"), dts_metric(), *metrics)
    exists = is_delta(spark, path)
    if exists:
        _evolve_schema(spark, path, table)
    if not touched_dts or not exists:
        # Sorted by user only where the rows reach files as they are: a MERGE re-partitions
        # its source, so sorting that would be work thrown away.
        writer = (
            clustered(rows, table.cluster_by)
            .write.format("delta")
            .mode("append")
            .option("mergeSchema", "true")
        )
        writer.partitionBy(PARTITION_COLUMN).save(path)
        removed = 0
        cost = None
    else:
        _merge(
            spark, f"delta.`{path}`", table, rows, updated, deleted, key, set_columns, touched_dts
        )
        removed = deleted.count()
        cost = _merge_cost(spark, path)
    delta_lake.refresh_manifests(spark, path, hooked=True, partitioned=table.partitioned)
    if touched_dts and exists:
        # A MERGE runs its source more than once and reports no reliable observation: the
        # new rows (few, from a cached frame) are counted apart.
        seen, added = _counted(conform(new, table), metrics)
    else:
        seen = observed(obs)
        added = observed_dts(obs)
    live = _live_dts(spark, path) if touched_dts and exists else set()
    emptied = sorted(set(touched_dts) - live)
    written = sorted((set(added) | set(touched_dts)) - set(emptied))
    rows_added = int(seen["rows"])
    rows_written, files_replaced = cost if cost is not None else (rows_added, 0)
    return RowsWritten(rows_added, removed, written, emptied, rows_written, files_replaced), seen


def _counted(rows: DataFrame, metrics: Sequence[Column]) -> tuple[dict[str, object], list[str]]:
    """The rows' count, dates and metrics, counted apart: a MERGE runs its source more than once
    and reports no reliable observation (the new rows are few, from a cached frame)."""
    metric = rows.agg(F.count(F.lit(1)).alias("rows"), dts_metric(), *metrics).first()
    seen = metric.asDict() if metric is not None else {}
    dts = seen.get("dts")
    return seen, str(dts).split(",") if dts else []


def _merge(
    spark: SparkSession,
    target: str,
    table: Table,
    rows: DataFrame,
    updated: DataFrame,
    deleted: DataFrame,
    key: str,
    set_columns: Sequence[str],
    touched_dts: Sequence[str],
) -> None:
    """One MERGE into target (a Delta path or an Iceberg identifier): rows inserted, updated's
    set_columns set on the stored rows of their key, deleted's stored rows removed."""
    columns = table_schema(table).names
    source = rows.withColumn(_OP, F.lit("insert"))
    nulls = {c: F.lit(None).cast(table_schema(table)[c].dataType) for c in columns}
    for name, frame, kept in (
        ("update", updated, (key, *set_columns)),
        ("delete", deleted, (key,)),
    ):
        source = source.unionByName(
            frame.select(
                *(F.col(c) if c in kept else nulls[c].alias(c) for c in columns),
                F.lit(name).alias(_OP),
            )
        )
    view = f"_changes_{uuid.uuid4().hex[:8]}"
    source.createOrReplaceTempView(view)
    assignments = ", ".join(f"t.{c} = s.{c}" for c in set_columns)
    # Deletes only (clickstream forget) set no column: no update clause.
    update = (
        f"WHEN MATCHED AND s.{_OP} = 'update' THEN UPDATE SET {assignments} " if set_columns else ""
    )
    names = ", ".join(columns)
    values = ", ".join(f"s.{c}" for c in columns)
    try:
        spark.sql(
            f"MERGE INTO {target} AS t USING {view} AS s "
            f"ON t.{key} = s.{key} AND s.{_OP} <> 'insert' AND t.{dt_predicate(touched_dts)} "
            f"WHEN MATCHED AND s.{_OP} = 'delete' THEN DELETE "
            f"{update}"
            f"WHEN NOT MATCHED AND s.{_OP} = 'insert' THEN INSERT ({names}) VALUES ({values})"
        )
    finally:
        spark.catalog.dropTempView(view)


def _iceberg(
    table: Table,
    lake: str,
    new: DataFrame,
    updated: DataFrame,
    deleted: DataFrame,
    key: str,
    set_columns: Sequence[str],
    touched_dts: Sequence[str],
    metrics: Sequence[Column],
) -> tuple[RowsWritten, dict[str, object]]:
    """Iceberg: one append, or one merge-on-read MERGE that writes the new and changed rows and
    position deletes, rewriting no stored data file."""
    spark = new.sparkSession
    rows = conform(new, table)
    ident = iceberg.ensure_table(spark, lake, table, rows.schema)
    exists = bool(touched_dts) and bool(iceberg.live_dts(spark, lake, table))
    if not exists:
        obs = Observation(f"{table.name}_added")
        observed_rows = clustered(rows, table.cluster_by).observe(
            obs, F.count(F.lit(1)).alias("rows"), dts_metric(), *metrics
        )
        observed_rows.writeTo(ident).append()
        seen, added, removed = observed(obs), observed_dts(obs), 0
    else:
        # Counted before the MERGE: deleted reads the stored rows, which the MERGE replaces.
        removed = deleted.count()
        _merge(spark, ident, table, rows, updated, deleted, key, set_columns, touched_dts)
        seen, added = _counted(rows, metrics)
    summary = iceberg.last_snapshot_summary(spark, lake, table) if exists else {}
    live = iceberg.live_dts(spark, lake, table) if exists else set()
    emptied = sorted(set(touched_dts) - live) if exists else []
    written = sorted((set(added) | set(touched_dts)) - set(emptied))
    rows_added = int(seen["rows"])
    rows_written = int(summary.get("added-records", rows_added)) if exists else rows_added
    files_replaced = int(summary.get("deleted-data-files", 0)) if exists else 0
    return RowsWritten(rows_added, removed, written, emptied, rows_written, files_replaced), seen


def _merge_cost(spark: SparkSession, path: str) -> tuple[int, int]:
    """Rows the last MERGE wrote (inserted, updated and copied along) and files it removed,
    from its commit's operation metrics."""
    last = spark.sql(f"DESCRIBE HISTORY delta.`{path}` LIMIT 1").first()
    metrics = (last["operationMetrics"] or {}) if last is not None else {}
    rows = sum(
        int(metrics.get(k, 0))
        for k in ("numTargetRowsInserted", "numTargetRowsUpdated", "numTargetRowsCopied")
    )
    return rows, int(metrics.get("numTargetFilesRemoved", 0))


def _live_dts(spark: SparkSession, path: str) -> set[str]:
    """The dates a Delta table has live files for (from its log)."""
    prefix = f"{PARTITION_COLUMN}="
    files = spark.read.format("delta").load(path).inputFiles()
    return {p[len(prefix) :] for f in files for p in f.split("/") if p.startswith(prefix)}


def _evolve_schema(spark: SparkSession, path: str, table: Table) -> None:
    """Give the Delta table the columns it lacks (a promoted field added since): an empty
    commit with mergeSchema, as a MERGE does not add columns by itself."""
    current = set(spark.read.format("delta").load(path).columns)
    if set(table_schema(table).names) <= current:
        return
    empty = spark.createDataFrame([], table_schema(table))
    empty.write.format("delta").mode("append").option("mergeSchema", "true").save(path)
