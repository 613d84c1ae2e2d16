"""Writing curated Parquet: dt partitions, dynamic overwrite, sensible file sizes."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from clickstream import fs
from clickstream.observe import observed
from clickstream.tables import PARTITION_COLUMN, Table

# Parquet compresses clickstream rows ~3-4x against Spark's shuffle bytes; AQE sizes shuffle
# partitions in shuffle bytes, so a file of target_mb needs about this many shuffle bytes.
SHUFFLE_BYTES_PER_PARQUET_BYTE = 3


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
    df: DataFrame, lake: str, table: Table, *, target_file_mb: int = 128, rebalance: bool = True
) -> None:
    """Overwrite the dt partitions present in df (all of an unpartitioned table) as snappy Parquet.

    One file per small partition, files of about target_file_mb at scale: the rebalance hint lets
    AQE coalesce small partitions and split skewed ones, and each dt goes to its own tasks.
    rebalance=False writes df's partitions as they are (one file per task and dt), no shuffle.
    """
    spark = df.sparkSession
    out = conform(df, table)
    path = f"{lake}/{table.location}"
    if not table.partitioned:
        out.coalesce(1).write.mode("overwrite").parquet(path)
        return
    if not rebalance:
        out.write.mode("overwrite").partitionBy(PARTITION_COLUMN).parquet(path)
        return
    # The file-size target applies to this write only; other shuffles keep the session's sizing.
    advisory = "spark.sql.adaptive.advisoryPartitionSizeInBytes"
    previous = spark.conf.get(advisory)
    spark.conf.set(advisory, str(target_file_mb * SHUFFLE_BYTES_PER_PARQUET_BYTE * 1024 * 1024))
    try:
        rebalanced = spark.sql(f"SELECT /*+ REBALANCE({PARTITION_COLUMN}) */ * FROM {{df}}", df=out)
        rebalanced.write.mode("overwrite").partitionBy(PARTITION_COLUMN).parquet(path)
    finally:
        spark.conf.set(advisory, previous)


def read_table(
    spark: SparkSession, lake: str, table: Table, dts: list[str] | None = None
) -> DataFrame:
    """The table's rows (all, or only the given dt partitions); empty when nothing was written yet."""
    path = f"{lake}/{table.location}"
    schema = table_schema(table)
    if not fs.exists(spark, path):
        return spark.createDataFrame([], schema)
    reader = spark.read.schema(schema).option("basePath", path)
    if table.partitioned and dts is not None:
        existing = [f"{path}/{PARTITION_COLUMN}={dt}" for dt in sorted(set(dts))]
        existing = [p for p in existing if fs.exists(spark, p)]
        if not existing:
            return spark.createDataFrame([], schema)
        return reader.parquet(*existing)
    return reader.parquet(path)


def dts_metric() -> Column:
    """Observed metric: the dt values a write saw, comma-joined (Observation can't return arrays)."""
    return F.concat_ws(",", F.array_sort(F.collect_set(PARTITION_COLUMN))).alias("dts")


def observed_dts(observation: Observation) -> list[str]:
    """The dt values recorded by dts_metric()."""
    value = observed(observation)["dts"]
    return value.split(",") if value else []
