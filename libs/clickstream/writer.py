"""Writing curated tables: dt partitions replaced whole, sensible file sizes, Parquet or Delta.

Parquet: dynamic partition overwrite replaces the dt folders present in the data. Delta: one
commit per write replaces exactly the dates the caller recomputed (replaceWhere), so a reader
never sees a date half rewritten, and dates left without rows disappear in the same commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, DataFrameWriter, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from clickstream import delta_lake, fs, iceberg
from clickstream.observe import observed
from clickstream.tables import DELTA_CAPABLE, PARTITION_COLUMN, Table


def format_of(table: Table, table_format: str) -> str:
    """The format a table is written in: table_format for the curated tables Delta may hold
    (events, sessions, daily_active_users, quarantine), Parquet for titles and internal state."""
    return table_format if table.name in DELTA_CAPABLE else "parquet"


def table_schema(table: Table) -> StructType:
    """The table's columns as stored, plus the dt partition column when partitioned."""
    if not table.partitioned:
        return table.schema
    return StructType([*table.schema.fields, StructField(PARTITION_COLUMN, StringType(), False)])


def conform(df: DataFrame, table: Table) -> DataFrame:
    """Select the table's columns in table order, cast to the table's types; fail on a missing one."""
    missing = [c for c in table_schema(table).names if c not in df.columns]
    if missing:
        raise ValueError(f"{table.name}: missing column(s) {', '.join(missing)} in {df.columns}")
    return df.select(
        [df[f.name].cast(f.dataType).alias(f.name) for f in table_schema(table).fields]
    )


def write_table(
    df: DataFrame,
    lake: str,
    table: Table,
    *,
    rebalance: bool = True,
    table_format: str = "parquet",
    dts: Sequence[str] | None = None,
) -> None:
    """Replace dt partitions of the table with df's rows (all of an unpartitioned table).

    parquet: the dt partitions present in df are overwritten (dynamic partition overwrite).
    delta: the dates in dts are replaced in one atomic commit (replaceWhere), whether df has rows
    for them or not; df may hold no other date. Empty dts writes nothing (no table version).

    One file per small partition, files of about target_file_mb at scale: the rebalance hint lets
    AQE coalesce small partitions and split skewed ones to the session's advisory partition size
    (set from target_file_mb with the session: clickstream.spark.file_sizing_conf), and each dt
    goes to its own tasks. rebalance=False writes df's partitions as they are (one file per task
    and dt), no shuffle.
    """
    spark = df.sparkSession
    out = conform(df, table)
    path = f"{lake}/{table.location}"
    table_format = format_of(table, table_format)
    if table_format in ("delta", "iceberg") and table.partitioned:
        if dts is None:
            raise ValueError(f"{table.name}: a {table_format} write names the dates it replaces")
        if not dts:
            return
    if table_format == "iceberg":
        iceberg.replace_dates(out, lake, table, dts or ())
        return
    if not table.partitioned:
        _save(spark, out.coalesce(1).write, path, table, table_format, dts)
        return
    if not rebalance:
        _save(spark, out.write.partitionBy(PARTITION_COLUMN), path, table, table_format, dts)
        return
    rebalanced = spark.sql(f"SELECT /*+ REBALANCE({PARTITION_COLUMN}) */ * FROM {{df}}", df=out)
    _save(spark, rebalanced.write.partitionBy(PARTITION_COLUMN), path, table, table_format, dts)


def _save(
    spark: SparkSession,
    writer: DataFrameWriter,
    path: str,
    table: Table,
    table_format: str,
    dts: Sequence[str] | None,
) -> None:
    """Parquet: overwrite (dynamic per dt). Delta: overwrite only the dts, in one commit."""
    if table_format == "parquet":
        writer.mode("overwrite").parquet(path)
        return
    if table_format != "delta":
        raise ValueError(f"table_format={table_format!r}: use parquet, delta or iceberg")
    # mergeSchema: columns added since the table was created (events.properties, a promoted
    # field) are added to the table's schema; rows are conformed to the table, so nothing else is.
    writer = writer.format("delta").mode("overwrite").option("mergeSchema", "true")
    if table.partitioned:
        assert dts
        writer = writer.option("replaceWhere", dt_predicate(dts))
    writer.save(path)
    # The commit's post-commit hook wrote its symlink manifests; the COPY manifests of the dates
    # it changed follow (and those of any earlier commit a dead process left without them).
    delta_lake.refresh_manifests(spark, path, hooked=True, partitioned=table.partitioned)


def dt_predicate(dts: Sequence[str]) -> str:
    """SQL predicate selecting exactly these dt partitions."""
    quoted = ", ".join(f"'{date.fromisoformat(dt).isoformat()}'" for dt in sorted(set(dts)))
    return f"{PARTITION_COLUMN} IN ({quoted})"


def is_delta(spark: SparkSession, path: str) -> bool:
    """Whether a folder holds a Delta table (it has a _delta_log)."""
    return fs.exists(spark, f"{path}/_delta_log")


def read_table(
    spark: SparkSession, lake: str, table: Table, dts: list[str] | None = None
) -> DataFrame:
    """The table's rows (all, or only the given dt partitions); empty when nothing was written yet."""
    path = f"{lake}/{table.location}"
    schema = table_schema(table)
    if not fs.exists(spark, path):
        return spark.createDataFrame([], schema)
    delta = is_delta(spark, path)
    if delta or iceberg.is_iceberg(spark, path):
        rows = spark.read.format("delta").load(path) if delta else iceberg.read(spark, lake, table)
        if table.partitioned and dts is not None:
            if not dts:
                return spark.createDataFrame([], schema)
            rows = rows.where(dt_predicate(dts))
        # A column the table does not have yet (added to the schema later) reads as null.
        return rows.select(
            [
                (F.col(f.name) if f.name in rows.columns else F.lit(None))
                .cast(f.dataType)
                .alias(f.name)
                for f in schema.fields
            ]
        )
    reader = spark.read.schema(schema).option("basePath", path)
    if table.partitioned and dts is not None:
        existing = [f"{path}/{PARTITION_COLUMN}={dt}" for dt in sorted(set(dts))]
        existing = [p for p in existing if fs.exists(spark, p)]
        if not existing:
            return spark.createDataFrame([], schema)
        return reader.parquet(*existing)
    return reader.parquet(path)


def with_file_path(rows: DataFrame, name: str) -> DataFrame:
    """rows with the path of the Parquet file each was read from as column name (null for rows
    that come from no file: an empty table, a Delta read)."""
    try:
        return rows.select("*", F.col("_metadata.file_path").alias(name))
    except AnalysisException:
        return rows.select("*", F.lit(None).cast("string").alias(name))


def folder_dts(spark: SparkSession, path: str) -> set[str]:
    """The dt values of the dt=... folders directly under path (none when it does not exist)."""
    prefix = f"{PARTITION_COLUMN}="
    return {n[len(prefix) :] for n in fs.list_names(spark, path) if n.startswith(prefix)}


def stored_dts(spark: SparkSession, lake: str, table: Table) -> set[str]:
    """The dates a partitioned table holds: from the Delta log's live files (no Spark job), an
    Iceberg table's partitions metadata, or the dt folders of a Parquet table."""
    path = f"{lake}/{table.location}"
    prefix = f"{PARTITION_COLUMN}="
    if not fs.exists(spark, path):
        return set()
    if is_delta(spark, path):
        files = spark.read.format("delta").load(path).inputFiles()
        return {
            part[len(prefix) :] for f in files for part in f.split("/") if part.startswith(prefix)
        }
    if iceberg.is_iceberg(spark, path):
        return iceberg.live_dts(spark, lake, table)
    return folder_dts(spark, path)


def dts_metric() -> Column:
    """Observed metric: the dt values a write saw, comma-joined (Observation can't return arrays)."""
    return F.concat_ws(",", F.array_sort(F.collect_set(PARTITION_COLUMN))).alias("dts")


def observed_dts(observation: Observation) -> list[str]:
    """The dt values recorded by dts_metric()."""
    value = observed(observation)["dts"]
    return value.split(",") if value else []
