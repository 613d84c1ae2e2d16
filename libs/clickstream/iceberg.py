"""Apache Iceberg tables (table_format: iceberg): the catalog, identifiers, reads and writes.

Locally (catalog hive or none) a lake's Iceberg tables live in a Hadoop catalog whose warehouse
is the lake root: the table of `curated/events` is `<catalog>.curated.events`, with Iceberg's
`data/` and `metadata/` inside that folder, so any Iceberg reader finds it from its metadata files
(`metadata/version-hint.text` names the current `vN.metadata.json`). A Hadoop catalog needs no
server and no extra jar; it commits by renaming a metadata file, which is atomic on a local
disk and, since each table has one writer at a time (the runs' leases), safe enough on S3 for a
local run. The catalog's Spark name is derived from the lake root, so one session can hold many
lakes (the tests') without a catalog instance caching another lake's warehouse.

Tables are format version 2, partitioned by dt (identity), Parquet data files with the table's
columns. Rows that change in place (row_writes) are written merge-on-read: a MERGE adds the new
and changed rows and position-delete files, and rewrites no stored data file; compaction
(rewrite_data_files) folds the deletes back into the data files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from clickstream import fs
from clickstream.tables import PARTITION_COLUMN, Table

EXTENSIONS = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"
# Table properties of every Iceberg table the project creates.
TABLE_PROPERTIES: Mapping[str, str] = {
    "format-version": "2",
    "write.format.default": "parquet",
    "write.parquet.compression-codec": "snappy",
    "write.delete.mode": "merge-on-read",
    "write.update.mode": "merge-on-read",
    "write.merge.mode": "merge-on-read",
}


def catalog_name(lake: str) -> str:
    """The Spark catalog name of the lake's Hadoop catalog (one per lake root)."""
    return f"clickstream_{hashlib.sha1(lake.encode(), usedforsecurity=False).hexdigest()[:12]}"


def ensure_catalog(spark: SparkSession, lake: str) -> str:
    """Register the lake's Hadoop catalog in the session (catalogs are created on first use
    from these settings) and return its name."""
    name = catalog_name(lake)
    prefix = f"spark.sql.catalog.{name}"
    if spark.conf.get(prefix, None) is None:
        spark.conf.set(f"{prefix}.type", "hadoop")
        spark.conf.set(f"{prefix}.warehouse", lake)
        # No cached table: every read sees the last commit, whichever writer made it.
        spark.conf.set(f"{prefix}.cache-enabled", "false")
        spark.conf.set(prefix, "org.apache.iceberg.spark.SparkCatalog")
    return name


def identifier(spark: SparkSession, lake: str, table: Table) -> str:
    """The table's Spark identifier: catalog, then its folder's parts (curated/events)."""
    parts = [ensure_catalog(spark, lake), *table.location.split("/")]
    return ".".join(f"`{p}`" for p in parts)


def namespace_and_name(table: Table) -> str:
    """The table as the catalog's procedures name it: 'curated.events'."""
    return ".".join(table.location.split("/"))


def is_iceberg(spark: SparkSession, path: str) -> bool:
    """Whether a folder holds an Iceberg table (it has metadata/)."""
    return fs.exists(spark, f"{path}/metadata")


def _column_ddl(schema: StructType) -> str:
    return ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in schema.fields)


def ensure_table(spark: SparkSession, lake: str, table: Table, schema: StructType) -> str:
    """Create the table when it does not exist (partitioned by dt) and add the columns of schema
    it lacks (a promoted field added since); its identifier."""
    ident = identifier(spark, lake, table)
    path = f"{lake}/{table.location}"
    if not is_iceberg(spark, path):
        properties = ", ".join(f"'{k}'='{v}'" for k, v in TABLE_PROPERTIES.items())
        partitioned = f"PARTITIONED BY (`{PARTITION_COLUMN}`)" if table.partitioned else ""
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS {ident} ({_column_ddl(schema)}) USING iceberg "
            f"{partitioned} TBLPROPERTIES ({properties})"
        )
        return ident
    current = set(spark.table(ident).columns)
    missing = StructType([f for f in schema.fields if f.name not in current])
    if missing.fields:
        spark.sql(f"ALTER TABLE {ident} ADD COLUMNS ({_column_ddl(missing)})")
    return ident


def replace_dates(rows: DataFrame, lake: str, table: Table, dts: Sequence[str]) -> None:
    """Replace exactly the dates dts with rows (which hold no other date) in one snapshot: the
    dates' rows are deleted and rows appended in one overwrite commit."""
    spark = rows.sparkSession
    ident = ensure_table(spark, lake, table, rows.schema)
    if table.partitioned:
        rows.writeTo(ident).overwrite(F.col(PARTITION_COLUMN).isin(sorted(set(dts))))
    else:
        rows.writeTo(ident).overwrite(F.lit(True))


def append(rows: DataFrame, lake: str, table: Table) -> None:
    """Append rows in one snapshot (the table is created first when missing)."""
    ident = ensure_table(rows.sparkSession, lake, table, rows.schema)
    rows.writeTo(ident).append()


def read(spark: SparkSession, lake: str, table: Table) -> DataFrame:
    """The table's current rows."""
    return spark.table(identifier(spark, lake, table))


def live_dts(spark: SparkSession, lake: str, table: Table) -> set[str]:
    """The dates with at least one live row, from the partitions metadata table (no data read):
    a partition whose rows are all position-deleted is not live."""
    parts = spark.table(f"{identifier(spark, lake, table)}.partitions")
    live = parts.where(F.col("record_count") > F.col("position_delete_record_count"))
    return {r[0] for r in live.select(f"partition.{PARTITION_COLUMN}").collect()}


def data_files(spark: SparkSession, lake: str, table: Table, dts: Sequence[str]) -> list[str]:
    """The live data files of the dates (the files metadata table)."""
    files = spark.table(f"{identifier(spark, lake, table)}.data_files")
    wanted = files.where(F.col(f"partition.{PARTITION_COLUMN}").isin(sorted(set(dts))))
    return [r[0] for r in wanted.select("file_path").collect()]


def delete_dates(spark: SparkSession, lake: str, table: Table, dts: Sequence[str]) -> None:
    """Delete whole dates in one snapshot (metadata only: their files are dropped whole)."""
    quoted = ", ".join(f"'{d}'" for d in sorted(set(dts)))
    spark.sql(
        f"DELETE FROM {identifier(spark, lake, table)} WHERE `{PARTITION_COLUMN}` IN ({quoted})"
    )


def last_snapshot_summary(spark: SparkSession, lake: str, table: Table) -> dict[str, str]:
    """The newest snapshot's summary (added-records, removed-data-files, ...)."""
    snapshots = spark.table(f"{identifier(spark, lake, table)}.snapshots")
    last = snapshots.orderBy(F.col("committed_at").desc()).select("summary").first()
    return dict(last["summary"] or {}) if last is not None else {}


def compact_dates(spark: SparkSession, lake: str, table: Table, dts: Sequence[str]) -> int:
    """Rewrite the dates' data files, clustered by table.cluster_by, into files of the table's
    write.target-file-size-bytes, folding their position deletes in (a replace snapshot, then
    one dropping the deletes left dangling; rows never change); the data files rewritten."""
    catalog = ensure_catalog(spark, lake)
    where = f"{PARTITION_COLUMN} in ({', '.join(repr(d) for d in sorted(set(dts)))})"
    order = ", ".join(f"{c} ASC NULLS LAST" for c in table.cluster_by)
    strategy = f"strategy => 'sort', sort_order => '{order}', " if order else ""
    row = spark.sql(
        f"CALL `{catalog}`.system.rewrite_data_files(table => '{namespace_and_name(table)}', "
        f'{strategy}where => "{where}", options => map('
        "'rewrite-all', 'true', 'delete-file-threshold', '1', 'remove-dangling-deletes', 'true'))"
    ).first()
    # Position deletes whose data files were just rewritten are dangling: dropped here.
    spark.sql(
        f"CALL `{catalog}`.system.rewrite_position_delete_files("
        f"table => '{namespace_and_name(table)}', where => \"{where}\", "
        "options => map('rewrite-all', 'true'))"
    ).collect()
    return int(row["rewritten_data_files_count"]) if row is not None else 0


def expire(spark: SparkSession, lake: str, table: Table, older_than: datetime) -> None:
    """Expire snapshots older than the time (the newest is kept; their unreferenced files go
    with them), then remove orphan files (a dead writer's) older than that and than a day: a
    younger file may belong to a write in progress, which Iceberg's procedure refuses to risk."""
    catalog = ensure_catalog(spark, lake)
    name = namespace_and_name(table)
    stamp = older_than.strftime("%Y-%m-%d %H:%M:%S")
    orphans = min(older_than, datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    spark.sql(
        f"CALL `{catalog}`.system.expire_snapshots(table => '{name}', "
        f"older_than => TIMESTAMP '{stamp}', retain_last => 1)"
    ).collect()
    spark.sql(
        f"CALL `{catalog}`.system.remove_orphan_files(table => '{name}', "
        f"older_than => TIMESTAMP '{orphans}')"
    ).collect()
