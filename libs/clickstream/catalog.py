"""Registering the curated tables and their partitions in the configured catalog."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from clickstream.config import Settings
from clickstream.tables import PARTITION_COLUMN, Table, events_table
from clickstream.writer import folder_dts, format_of, is_delta, table_schema


@dataclass
class CatalogSync:
    """The tables one run has fully synced with the metastore: (database, table) -> location.

    A table's first registration in a run creates or re-points it and syncs its partitions with
    the folders; after that, a job's written and emptied partitions are added and dropped only.
    The runner holds one per run (JobContext.catalog_sync); a fresh one syncs every table fully.
    """

    synced: dict[tuple[str, str], str] = field(default_factory=dict)


def _ddl_columns(table: Table) -> str:
    return ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in table_schema(table).fields)


def _described(spark: SparkSession, name: str) -> tuple[str, str]:
    """(location, provider) of a registered table."""
    rows = spark.sql(f"DESCRIBE FORMATTED {name}").collect()
    info = {r["col_name"]: r["data_type"] for r in rows}
    return info.get("Location", "").rstrip("/").removeprefix("file:"), info.get("Provider", "")


def _columns_of(spark: SparkSession, name: str) -> list[str]:
    return [f.name for f in spark.table(name).schema.fields]


def _partition_spec(dts: Iterable[str], separator: str = " ") -> str:
    """PARTITION (dt='...') clauses: ADD takes them space-separated, DROP comma-separated."""
    specs = (f"PARTITION (`{PARTITION_COLUMN}`='{dt}')" for dt in sorted(set(dts)))
    return separator.join(specs)


def _sync_partitions(spark: SparkSession, name: str, location: str) -> None:
    """Add the dt folders the metastore lacks and drop the partitions whose folder is gone.

    What MSCK REPAIR TABLE ... SYNC PARTITIONS does, from one listing of the table folder and one
    of its partitions; MSCK also lists every file of every partition for statistics, which made
    a run's first registration of a table cost 1 to 3 s on a lake of a few dates.
    """
    prefix = f"{PARTITION_COLUMN}="
    folders = folder_dts(spark, location)
    rows = spark.sql(f"SHOW PARTITIONS {name}").collect()
    registered = {r[0][len(prefix) :] for r in rows if r[0].startswith(prefix)}
    if added := folders - registered:
        spark.sql(f"ALTER TABLE {name} ADD IF NOT EXISTS {_partition_spec(added)}")
    if gone := registered - folders:
        spark.sql(f"ALTER TABLE {name} DROP IF EXISTS {_partition_spec(gone, ', ')}")


def register_hive_table(
    spark: SparkSession,
    database: str,
    table: Table,
    location: str,
    dts: Iterable[str] = (),
    dropped: Iterable[str] = (),
    *,
    sync: CatalogSync | None = None,
    table_format: str = "parquet",
) -> None:
    """Create (or re-point) an external table and bring its dt partitions up to date.

    Parquet tables list their dt partitions in the metastore; a Delta table's schema and files
    come from its log, so it is registered once (USING delta) and has no partitions to sync.
    """
    if table_format == "iceberg":
        # The lake's Iceberg catalog (clickstream.iceberg) names the table; the embedded
        # metastore does not list it (not built yet: see the README's Iceberg section).
        return
    name = f"`{database}`.`{table.name}`"
    sync = sync if sync is not None else CatalogSync()
    key = (database, table.name)
    delta = table_format == "delta"
    if sync.synced.get(key) != location:
        spark.sql(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        exists = spark.catalog.tableExists(f"{database}.{table.name}")
        wanted = (location.rstrip("/").removeprefix("file:"), table_format)
        if exists and _described(spark, name) != wanted:
            spark.sql(f"DROP TABLE {name}")  # external: the data stays where it is
            exists = False
        if exists and not delta and _columns_of(spark, name) != table_schema(table).names:
            spark.sql(f"DROP TABLE {name}")  # new columns (a promoted field): re-create
            exists = False
        if not exists and delta:
            if not is_delta(spark, location):
                return  # nothing written yet: the first write creates the table
            spark.sql(
                f"CREATE TABLE {name} USING delta LOCATION '{location}' "
                f"COMMENT '{table.description}'"
            )
        elif not exists:
            partitioning = f"PARTITIONED BY (`{PARTITION_COLUMN}`)" if table.partitioned else ""
            spark.sql(
                f"CREATE TABLE {name} ({_ddl_columns(table)}) USING parquet {partitioning} "
                f"LOCATION '{location}' COMMENT '{table.description}'"
            )
        if table.partitioned and not delta:
            _sync_partitions(spark, name, location)
        sync.synced[key] = location
    elif table.partitioned and not delta:
        if dts := list(dts):
            spark.sql(f"ALTER TABLE {name} ADD IF NOT EXISTS {_partition_spec(dts)}")
        if dropped := list(dropped):
            spark.sql(f"ALTER TABLE {name} DROP IF EXISTS {_partition_spec(dropped, ', ')}")
    spark.catalog.refreshTable(f"{database}.{table.name}")


def _forget_old_quarantine_entry(
    spark: SparkSession, settings: Settings, table: Table, sync: CatalogSync | None
) -> None:
    """Drop a quarantine table an earlier release registered in the curated database (once per
    run): the curated database never lists raw payloads. External: the data stays."""
    home = settings.database_of(table.name)
    old = (str(settings.database), table.name)
    if home == old[0] or (sync is not None and old in sync.synced):
        return
    if spark.catalog.databaseExists(old[0]):
        spark.sql(f"DROP TABLE IF EXISTS `{old[0]}`.`{table.name}`")
    if sync is not None:
        sync.synced[old] = ""  # checked this run


def register_tables(
    spark: SparkSession,
    settings: Settings,
    tables: Iterable[Table],
    dts: Mapping[str, Iterable[str]] | None = None,
    dropped: Mapping[str, Iterable[str]] | None = None,
    *,
    sync: CatalogSync | None = None,
) -> None:
    """Make each table queryable by name: Hive metastore locally, Glue Data Catalog on AWS.

    dts and dropped name, per table, the partitions a job wrote and the ones it emptied; sync is
    the run's record of the tables it has fully synced (none: sync each table fully).
    """
    if settings.catalog == "none":
        return
    dts, dropped = dts or {}, dropped or {}
    # events always with its promoted columns, whichever job registers it.
    promoted_events = events_table(settings.promoted_fields)
    tables = [promoted_events if t.name == promoted_events.name else t for t in tables]
    if settings.catalog == "hive":
        for table in tables:
            location = settings.path(table.location)
            _forget_old_quarantine_entry(spark, settings, table, sync)
            register_hive_table(
                spark,
                settings.database_of(table.name),
                table,
                location,
                dts.get(table.name, ()),
                dropped.get(table.name, ()),
                sync=sync,
                table_format=format_of(table, settings.table_format),
            )
        return
    from clickstream.aws import client
    from clickstream.aws.glue_catalog import (
        drop_partitions,
        ensure_run_catalog,
        manifest_table,
        register_partitions,
    )

    tables = list(tables)
    glue = client("glue", settings)
    # The database and tables, with deploy's definitions, when missing (a fresh account or a
    # local run against a Glue endpoint); AccessDenied names `clickstream deploy`.
    ensure_run_catalog(settings, tables, client=glue)
    for table in tables:
        if not table.partitioned:
            continue
        # Athena reads a Delta table's log; Spectrum's manifest table lists its partitions.
        target = (
            manifest_table(table) if format_of(table, settings.table_format) == "delta" else table
        )
        register_partitions(settings, target, dts.get(table.name, ()), client=glue)
        drop_partitions(settings, target, dropped.get(table.name, ()), client=glue)
