"""Glue Data Catalog: database and table definitions, create-or-update, partition registration.

Curated tables (clickstream.tables.CURATED_TABLES) live in `database`, the quarantine tables
(QUARANTINE_TABLES: raw payloads) in `quarantine_database`, as external Parquet tables at
<lake>/<table.location>/ with a `dt` string partition key and Athena partition projection on dt.
Athena uses the projection; Redshift Spectrum and EMR ignore it and need real partitions, which
`register_partitions` adds after each run (batch create, idempotent).

The projection's range starts at the lake's first date, not years before it: a query without a
dt condition makes Athena list every projected date (seconds per thousand dates). Deploy starts
it at the table's first `dt=` folder in the lake (yesterday, UTC, for an empty table; an existing
table keeps its start), and a run that registers an earlier date moves the start back to it.

The raw sources live in `raw_database`: `raw_clickstream` (one string column `line` over the
Firehose objects, partitioned by the hour folder `datehour` = 'YYYY/MM/DD/HH' with projection from
the raw zone's first hour) and `ref_titles` (CSV), for queries from Athena; the jobs list S3
themselves.

`ensure_run_catalog` lets a run on an account where deploy never ran create the curated database
and the tables it writes, with deploy's definitions.
"""

from __future__ import annotations

import datetime as dt_
from collections.abc import Iterable, Iterator, Mapping, Sequence
from random import random
from time import sleep
from typing import Any

from pyspark.sql.types import (
    BooleanType,
    DataType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    ShortType,
    StringType,
    TimestampType,
)

from clickstream.aws import client as make_client
from clickstream.aws_clients import error_code
from clickstream.config import ConfigError, Settings
from clickstream.delta_lake import SYMLINK_MANIFEST_DIR
from clickstream.tables import ALL_TABLES, PARTITION_COLUMN, QUARANTINE_TABLES, Table, all_tables
from clickstream.writer import format_of

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
SYMLINK_INPUT = "org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
LAZY_SIMPLE_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPEN_CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"

RAW_CLICKSTREAM = "raw_clickstream"
REF_TITLES = "ref_titles"
# Athena reads NOW in UTC, while dt is the date in the lake's timezone: up to 14 hours ahead
# (UTC+14). One day past NOW keeps the newest dt visible in every timezone.
PROJECTION_END = "NOW+1DAYS"
DT_RANGE = f"projection.{PARTITION_COLUMN}.range"
# raw_clickstream's partition: the Firehose hour folder YYYY/MM/DD/HH (UTC arrival hour).
RAW_HOUR_COLUMN = "datehour"
RAW_HOUR_FORMAT = "yyyy/MM/dd/HH"
# Table parameters deploy owns: a stale one of these (e.g. projection.* after projection was
# dropped) makes the table differ; any other extra parameter is left to whoever set it.
MANAGED_PARAMETER_PREFIXES = (
    "EXTERNAL",
    "table_type",
    "spark.sql.sources.provider",
    "classification",
    "parquet.",
    "projection.",
    "skip.header.line.count",
    "storage.location.template",
)
# Glue APIs take at most 100 partitions per BatchCreatePartition call.
BATCH_SIZE = 100

_HIVE_TYPES: dict[type[DataType], str] = {
    StringType: "string",
    TimestampType: "timestamp",
    LongType: "bigint",
    IntegerType: "int",
    ShortType: "smallint",
    DoubleType: "double",
    FloatType: "float",
    BooleanType: "boolean",
    DateType: "date",
}


def hive_type(dtype: DataType) -> str:
    """The Hive/Glue column type of a Spark type (string, timestamp, bigint, double, ...)."""
    if isinstance(dtype, DecimalType):
        return f"decimal({dtype.precision},{dtype.scale})"
    try:
        return _HIVE_TYPES[type(dtype)]
    except KeyError:
        raise TypeError(f"no Glue column type for Spark type {dtype.simpleString()}") from None


def lake_uri(settings: Settings) -> str:
    """The lake root as an s3:// URI (no trailing slash); fails naming the key when it is not."""
    lake = settings.lake
    if not lake.startswith("s3://"):
        raise ConfigError(
            f"lake_root={lake!r}: the Glue catalog needs the lake on S3; set lake_uri to an "
            "s3:// URI and lake_root to ${lake_uri} (as conf/dev.yaml does)"
        )
    return lake


def table_location(settings: Settings, table: Table) -> str:
    """s3://<lake>/<table.location>/ (with the trailing slash Glue and Athena expect)."""
    return f"{lake_uri(settings)}/{table.location.strip('/')}/"


def database_input(name: str, description: str, location: str | None = None) -> dict[str, Any]:
    """A Glue DatabaseInput."""
    database: dict[str, Any] = {"Name": name, "Description": description}
    if location:
        database["LocationUri"] = location
    return database


def database_inputs(settings: Settings) -> list[dict[str, Any]]:
    """The curated, the quarantine and the raw database."""
    lake = lake_uri(settings)
    return [
        database_input(
            settings.database, "clickstream-etl curated tables (Parquet)", f"{lake}/curated/"
        ),
        database_input(
            settings.quarantine_database,
            "clickstream-etl quarantine: rejected raw records (raw payloads; grant apart)",
            f"{lake}/quarantine/",
        ),
        database_input(
            settings.raw_database, "clickstream-etl raw sources (Firehose, titles)", f"{lake}/raw/"
        ),
    ]


def _columns(table: Table) -> list[dict[str, str]]:
    """Glue columns of a table's schema, in file order."""
    return [{"Name": f.name, "Type": hive_type(f.dataType)} for f in table.schema.fields]


def default_projection_start(today: dt_.date | None = None) -> str:
    """The projection start of a table with no data yet: yesterday in UTC (a lake's dt may be a
    day behind UTC); the first run that registers an earlier date moves it back."""
    day = today or dt_.datetime.now(dt_.UTC).date()
    return (day - dt_.timedelta(days=1)).isoformat()


def projection_start(parameters: Mapping[str, str] | None) -> str | None:
    """The first date of a table's dt projection range, or None without projection."""
    value = (parameters or {}).get(DT_RANGE)
    return value.split(",", 1)[0].strip() if value else None


def curated_table_input(
    settings: Settings, table: Table, *, first_dt: str | None = None
) -> dict[str, Any]:
    """A Glue TableInput for a curated table: external Parquet, dt partitions, dt projection
    from first_dt (the lake's first date; default: default_projection_start())."""
    location = table_location(settings, table)
    parameters = {
        "EXTERNAL": "TRUE",
        "classification": "parquet",
        "parquet.compression": "SNAPPY",
    }
    partition_keys: list[dict[str, str]] = []
    if table.partitioned:
        partition_keys = [{"Name": PARTITION_COLUMN, "Type": "string"}]
        parameters.update(
            {
                "projection.enabled": "true",
                f"projection.{PARTITION_COLUMN}.type": "date",
                f"projection.{PARTITION_COLUMN}.format": "yyyy-MM-dd",
                DT_RANGE: f"{first_dt or default_projection_start()},{PROJECTION_END}",
                f"projection.{PARTITION_COLUMN}.interval": "1",
                f"projection.{PARTITION_COLUMN}.interval.unit": "DAYS",
                "storage.location.template": f"{location}{PARTITION_COLUMN}=${{{PARTITION_COLUMN}}}/",
            }
        )
    return {
        "Name": table.name,
        "Description": table.description,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": parameters,
        "PartitionKeys": partition_keys,
        "StorageDescriptor": _storage(_columns(table), location, {"serialization.format": "1"}),
    }


def default_raw_start(now: dt_.datetime | None = None) -> str:
    """The raw projection start of an empty raw zone: the current UTC hour (Firehose delivers
    into the hour it receives a record, so nothing older arrives later)."""
    return (now or dt_.datetime.now(dt_.UTC)).strftime("%Y/%m/%d/%H")


def raw_table_inputs(settings: Settings, *, first_hour: str | None = None) -> list[dict[str, Any]]:
    """TableInputs of the raw sources: raw_clickstream (text lines, partitioned by the hour
    folder with projection from first_hour, 'YYYY/MM/DD/HH') and ref_titles (CSV)."""
    lake = lake_uri(settings)
    location = f"{lake}/raw/clickstream/"
    hour = RAW_HOUR_COLUMN
    raw_clickstream = {
        "Name": RAW_CLICKSTREAM,
        "Description": "Firehose objects under raw/clickstream/YYYY/MM/DD/HH/, one line per row; "
        f"{hour} = the hour folder YYYY/MM/DD/HH (UTC arrival hour)",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "EXTERNAL": "TRUE",
            "classification": "text",
            # Athena reads a table's folder, not its subfolders: one partition per hour folder.
            "projection.enabled": "true",
            f"projection.{hour}.type": "date",
            f"projection.{hour}.format": RAW_HOUR_FORMAT,
            f"projection.{hour}.range": f"{first_hour or default_raw_start()},NOW",
            f"projection.{hour}.interval": "1",
            f"projection.{hour}.interval.unit": "HOURS",
            "storage.location.template": f"{location}${{{hour}}}/",
        },
        "PartitionKeys": [{"Name": hour, "Type": "string"}],
        # Default field delimiter \001 never occurs in the text: the whole line is `line`.
        "StorageDescriptor": _storage(
            [{"Name": "line", "Type": "string"}],
            location,
            {"serialization.format": "1"},
            serde=LAZY_SIMPLE_SERDE,
            formats=(TEXT_INPUT, TEXT_OUTPUT),
        ),
    }
    ref_titles = {
        "Name": REF_TITLES,
        "Description": "Reference snapshot of titles: UTF-8 CSV with header title_id,title,genre",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "EXTERNAL": "TRUE",
            "classification": "csv",
            "skip.header.line.count": "1",
        },
        "PartitionKeys": [],
        "StorageDescriptor": _storage(
            [{"Name": c, "Type": "string"} for c in ("title_id", "title", "genre")],
            f"{lake}/ref/titles/",
            {"separatorChar": ",", "quoteChar": '"', "escapeChar": "\\"},
            serde=OPEN_CSV_SERDE,
            formats=(TEXT_INPUT, TEXT_OUTPUT),
        ),
    }
    return [raw_clickstream, ref_titles]


def manifest_table(table: Table) -> Table:
    """Redshift Spectrum's table over a Delta table's symlink manifests: <name>_manifest."""
    return Table(
        f"{table.name}_manifest",
        f"{table.location}/{SYMLINK_MANIFEST_DIR}",
        table.schema,
        description=f"Redshift Spectrum view of Delta table {table.name} (symlink manifests)",
    )


def _storage(
    columns: list[dict[str, str]],
    location: str,
    serde_params: dict[str, str],
    *,
    serde: str = PARQUET_SERDE,
    formats: tuple[str, str] = (PARQUET_INPUT, PARQUET_OUTPUT),
) -> dict[str, Any]:
    """A Glue StorageDescriptor: Parquet files at location unless serde and formats say else."""
    return {
        "Columns": columns,
        "Location": location,
        "InputFormat": formats[0],
        "OutputFormat": formats[1],
        "Compressed": False,
        "StoredAsSubDirectories": False,
        "SerdeInfo": {"SerializationLibrary": serde, "Parameters": serde_params},
    }


def delta_table_input(settings: Settings, table: Table) -> dict[str, Any]:
    """A Glue TableInput for a Delta table that Athena (engine v3) and Spark read natively.

    Athena needs only the location and table_type=DELTA: schema, partitions and live files come
    from the Delta log, so the table has no partition keys to keep up to date.
    """
    location = table_location(settings, table)
    columns = _columns(table)
    if table.partitioned:
        columns.append({"Name": PARTITION_COLUMN, "Type": "string"})
    return {
        "Name": table.name,
        "Description": f"{table.description} (Delta Lake)",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "EXTERNAL": "TRUE",
            "table_type": "DELTA",
            "spark.sql.sources.provider": "delta",
        },
        "PartitionKeys": [],
        "StorageDescriptor": _storage(
            columns, location, {"serialization.format": "1", "path": location}
        ),
    }


def manifest_table_input(
    settings: Settings, table: Table, *, first_dt: str | None = None
) -> dict[str, Any]:
    """A Glue TableInput for <table>_manifest: Parquet files listed by symlink manifests, by dt."""
    spec = curated_table_input(settings, manifest_table(table), first_dt=first_dt)
    spec["StorageDescriptor"]["InputFormat"] = SYMLINK_INPUT
    spec["StorageDescriptor"]["OutputFormat"] = TEXT_OUTPUT
    return spec


def curated_table_inputs(
    settings: Settings, table: Table, first_dates: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The catalog entries of a curated table: Parquet, or Delta and its Spectrum manifest table
    (first_dates: the lake's first date per catalog table name, for the projection)."""
    first = first_dates or {}
    if format_of(table, settings.table_format) == "delta":
        manifest = manifest_table(table).name
        return [
            delta_table_input(settings, table),
            manifest_table_input(settings, table, first_dt=first.get(manifest)),
        ]
    return [curated_table_input(settings, table, first_dt=first.get(table.name))]


def catalog_tables(
    settings: Settings,
    first_dates: Mapping[str, str] | None = None,
    first_raw_hour: str | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """(database, TableInput) of every table deploy manages: curated + quarantine, then raw.

    first_dates and first_raw_hour (see lake_first_dates, lake_first_raw_hour) start the
    projections at the lake's first date and hour.
    """
    curated = [
        (settings.database_of(t.name), spec)
        for t in all_tables(settings.promoted_fields)
        for spec in curated_table_inputs(settings, t, first_dates)
    ]
    raw = [
        (settings.raw_database, t) for t in raw_table_inputs(settings, first_hour=first_raw_hour)
    ]
    return curated + raw


def _first_prefix(s3: Any, bucket: str, prefix: str, pattern: str) -> str | None:
    """The smallest child folder name under prefix matching pattern (one LIST per page)."""
    import re

    names = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/"
    ):
        for common in page.get("CommonPrefixes", []):
            name = common["Prefix"][len(prefix) :].strip("/")
            if re.fullmatch(pattern, name):
                names.append(name)
    return min(names) if names else None


def lake_first_dates(settings: Settings, *, client: Any = None) -> dict[str, str]:
    """The first dt with a folder in the lake, per partitioned catalog table (a Delta table's
    `<table>_manifest` by its symlink-manifest folders); tables without data are left out."""
    s3 = client or make_client("s3", settings)
    found = {}
    for table in all_tables(settings.promoted_fields):
        if not table.partitioned:
            continue
        if format_of(table, settings.table_format) == "delta":
            table = manifest_table(table)
        dates = lake_partitions(settings, table, client=s3)
        if dates:
            found[table.name] = dates[0]
    return found


def lake_first_raw_hour(settings: Settings, *, client: Any = None) -> str | None:
    """The first raw/clickstream/YYYY/MM/DD/HH folder of the lake as 'YYYY/MM/DD/HH', or None."""
    s3 = client or make_client("s3", settings)
    bucket, _, prefix = f"{lake_uri(settings)}/raw/clickstream/"[5:].partition("/")
    parts = []
    for pattern in (r"[0-9]{4}", r"[0-9]{2}", r"[0-9]{2}", r"[0-9]{2}"):
        name = _first_prefix(s3, bucket, prefix + "".join(f"{p}/" for p in parts), pattern)
        if name is None:
            return None
        parts.append(name)
    return "/".join(parts)


def _same(existing: Any, wanted: Any) -> bool:
    """Whether `existing` (as Glue returns it) matches `wanted` (as we would send it).

    Mappings compare on the wanted keys only (Glue adds CreateTime, VersionId, ... of its own);
    lists compare item by item; a missing value equals an empty one, 0 and False.
    """
    if isinstance(wanted, Mapping):
        existing = existing or {}
        if not isinstance(existing, Mapping):
            return False
        return all(_same(existing.get(key), value) for key, value in wanted.items())
    if isinstance(wanted, list):
        existing = existing or []
        return len(existing) == len(wanted) and all(map(_same, existing, wanted))
    if wanted in (None, "", False, [], {}) and existing in (None, "", False, [], {}):
        return True
    return bool(existing == wanted)


def parameters_match(existing: Mapping[str, str] | None, wanted: Mapping[str, str]) -> bool:
    """Wanted table parameters all set; no stale managed ones (projection.*, ...) left over.

    Other extra parameters (transient_lastDdlTime, statistics, ...) belong to the services
    that add them and are ignored, so they never cause an update loop.
    """
    existing = existing or {}
    if any(existing.get(key) != value for key, value in wanted.items()):
        return False
    extra = set(existing) - set(wanted)
    return not any(key.startswith(MANAGED_PARAMETER_PREFIXES) for key in extra)


def table_matches(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Whether a table from get_table already has the wanted TableInput."""
    if not parameters_match(existing.get("Parameters"), wanted.get("Parameters") or {}):
        return False
    sd_existing = existing.get("StorageDescriptor") or {}
    sd_wanted = wanted.get("StorageDescriptor") or {}
    serde_params = (sd_existing.get("SerdeInfo") or {}).get("Parameters") or {}
    if dict(serde_params) != dict((sd_wanted.get("SerdeInfo") or {}).get("Parameters") or {}):
        return False
    return _same(existing, wanted)


def ensure_database(glue: Any, database: Mapping[str, Any]) -> str:
    """Create or update a database; returns created, updated or unchanged."""
    try:
        current = glue.get_database(Name=database["Name"])["Database"]
    except glue.exceptions.EntityNotFoundException:
        glue.create_database(DatabaseInput=dict(database))
        return "created"
    if _same(current, database):
        return "unchanged"
    glue.update_database(Name=database["Name"], DatabaseInput=dict(database))
    return "updated"


def stale_quarantine_tables(settings: Settings) -> list[str]:
    """The names a quarantine table (or its manifest table) had in the curated database before
    quarantine_database: deploy deletes them there (the catalog entry only, never data)."""
    names = [t.name for t in QUARANTINE_TABLES]
    return [*names, *(f"{n}_manifest" for n in names)]


def delete_stale_table(glue: Any, database: str, name: str) -> str:
    """Delete a catalog table if it exists (looked up first: a deploy with nothing to delete
    calls no mutation); deleted or absent."""
    try:
        glue.get_table(DatabaseName=database, Name=name)
        glue.delete_table(DatabaseName=database, Name=name)
    except glue.exceptions.EntityNotFoundException:
        return "absent"
    return "deleted"


def ensure_table(
    glue: Any, database: str, table: Mapping[str, Any], *, keep_projection_start: bool = False
) -> str:
    """Create or update a table; returns created, updated or unchanged (partitions are kept).

    When the columns of a partitioned table change (a promoted field added), its partitions get
    the new columns first, so Athena and Spectrum see no HIVE_PARTITION_SCHEMA_MISMATCH; the
    table is updated last, so a call that dies halfway is completed by the next one.
    keep_projection_start: an existing table keeps the start of its projection ranges (deploy
    found no data to date it by; the runs keep it at the lake's first date).
    """
    try:
        current = glue.get_table(DatabaseName=database, Name=table["Name"])["Table"]
    except glue.exceptions.EntityNotFoundException:
        glue.create_table(DatabaseName=database, TableInput=dict(table))
        return "created"
    if keep_projection_start:
        table = _with_projection_starts(table, current.get("Parameters") or {})
    if table_matches(current, table):
        return "unchanged"
    columns = (table.get("StorageDescriptor") or {}).get("Columns") or []
    if table.get("PartitionKeys") and _column_types(current) != _column_types(table):
        sync_partition_columns(glue, database, table["Name"], columns)
    glue.update_table(DatabaseName=database, TableInput=dict(table))
    return "updated"


def _with_projection_starts(
    table: Mapping[str, Any], existing: Mapping[str, str]
) -> Mapping[str, Any]:
    """The TableInput with the start of each projection range taken from existing parameters."""
    parameters = dict(table.get("Parameters") or {})
    for key, value in parameters.items():
        if key.startswith("projection.") and key.endswith(".range") and existing.get(key):
            start = existing[key].split(",", 1)[0]
            parameters[key] = f"{start},{value.split(',', 1)[1]}"
    return {**table, "Parameters": parameters}


class CatalogAccessError(RuntimeError):
    """The run's role may not create the catalog objects it writes; deploy must create them."""


def _create_if_missing(settings: Settings, what: str, get: Any, create: Any) -> bool:
    """get(); on EntityNotFound create() (AlreadyExists from a race is fine). True if created."""
    from botocore.exceptions import ClientError

    try:
        get()
        return False
    except ClientError as exc:
        if error_code(exc) != "EntityNotFoundException":
            raise
    try:
        create()
    except ClientError as exc:
        code = error_code(exc)
        if code == "AlreadyExistsException":
            return False
        if code in ("AccessDeniedException", "AccessDenied"):
            raise CatalogAccessError(
                f"Glue Data Catalog: {what} does not exist and this role may not create it "
                f"({code}); run `clickstream deploy --env {settings.env}` once, which creates "
                "the databases and tables"
            ) from None
        raise
    return True


def ensure_run_catalog(
    settings: Settings, tables: Iterable[Table], *, client: Any = None
) -> list[str]:
    """Create the curated database and the tables a run writes when they are missing; give an
    existing table the run's columns when they differ (a promoted field added).

    The definitions are deploy's (database_inputs, curated_table_inputs); otherwise what exists
    is left as it is (deploy updates definitions). Only columns are a run's business: the events
    a run writes carry its promoted fields, and a table (and partitions) without them would make
    Athena and Spectrum fail with HIVE_PARTITION_SCHEMA_MISMATCH or hide the new column. Returns
    what was created or updated. On an account where deploy never ran this is what makes the
    first run's partition registration work.
    """
    glue = client or make_client("glue", settings)
    tables = list(tables)
    wanted = {settings.database_of(t.name) for t in tables} | {settings.database}
    created = []
    for database in database_inputs(settings):
        if database["Name"] in wanted and _create_if_missing(
            settings,
            f"database {database['Name']}",
            lambda d=database: glue.get_database(Name=d["Name"]),
            lambda d=database: glue.create_database(DatabaseInput=d),
        ):
            created.append(database["Name"])
    for table in tables:
        db = settings.database_of(table.name)
        for spec in curated_table_inputs(settings, table):
            name = spec["Name"]
            found: dict[str, Any] = {}
            if _create_if_missing(
                settings,
                f"table {db}.{name}",
                lambda n=name, f=found, db=db: f.update(
                    glue.get_table(DatabaseName=db, Name=n)["Table"]
                ),
                lambda ti=spec, db=db: glue.create_table(DatabaseName=db, TableInput=ti),
            ):
                created.append(f"{db}.{name}")
            elif found and _column_types(found) != _column_types(spec):
                update_columns(glue, db, found, spec)
                created.append(f"{db}.{name} (columns)")
    return created


# The TableInput keys of a get_table answer (the rest is Glue's bookkeeping).
_TABLE_INPUT_KEYS = (
    "Name",
    "Description",
    "Owner",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "TableType",
    "Parameters",
)


def update_columns(
    glue: Any, database: str, current: Mapping[str, Any], wanted: Mapping[str, Any]
) -> None:
    """Give a table (as get_table described it) and its partitions the wanted columns; the rest
    of its definition stays as it is. Partitions first, so a call that dies halfway is completed
    by the next one (the table's columns still differ)."""
    columns = [dict(c) for c in (wanted.get("StorageDescriptor") or {}).get("Columns") or []]
    if current.get("PartitionKeys"):
        sync_partition_columns(glue, database, current["Name"], columns)
    table = {k: current[k] for k in _TABLE_INPUT_KEYS if current.get(k) is not None}
    table["StorageDescriptor"] = {**table["StorageDescriptor"], "Columns": columns}
    glue.update_table(DatabaseName=database, TableInput=table)


def _column_types(described: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, type) of a table's or partition's columns."""
    columns = (described.get("StorageDescriptor") or {}).get("Columns") or []
    return [(c["Name"], c["Type"]) for c in columns]


def sync_partition_columns(
    glue: Any, database: str, table: str, columns: Sequence[Mapping[str, str]]
) -> int:
    """Give every partition of the table these columns; returns how many were updated."""
    wanted = [(c["Name"], c["Type"]) for c in columns]
    entries = []
    for page in glue.get_paginator("get_partitions").paginate(
        DatabaseName=database, TableName=table
    ):
        for part in page.get("Partitions", []):
            if _column_types(part) == wanted:
                continue
            storage = {k: v for k, v in part["StorageDescriptor"].items() if v is not None}
            entries.append(
                {
                    "PartitionValueList": part["Values"],
                    "PartitionInput": {
                        "Values": part["Values"],
                        "StorageDescriptor": {**storage, "Columns": [dict(c) for c in columns]},
                        "Parameters": part.get("Parameters") or {},
                    },
                }
            )
    for start in range(0, len(entries), BATCH_SIZE):
        response = glue.batch_update_partition(
            DatabaseName=database, TableName=table, Entries=entries[start : start + BATCH_SIZE]
        )
        if errors := response.get("Errors") or []:
            detail = "; ".join(
                f"{e['PartitionValueList']}: {e['ErrorDetail'].get('ErrorCode')}" for e in errors
            )
            raise RuntimeError(f"{database}.{table}: could not update partitions: {detail}")
    return len(entries)


def _resolve_table(table: Table | str) -> Table:
    """A Table from a Table or a table name."""
    if isinstance(table, Table):
        return table
    for candidate in ALL_TABLES:
        if candidate.name == table:
            return candidate
    names = ", ".join(t.name for t in ALL_TABLES)
    raise ValueError(f"unknown table {table!r}; known tables: {names}")


def _check_dt(value: str) -> str:
    """The value when it is a YYYY-MM-DD date, else ValueError."""
    try:
        if dt_.date.fromisoformat(value).isoformat() == value:
            return value
    except (TypeError, ValueError):
        pass
    raise ValueError(f"dt={value!r}: expected a date as YYYY-MM-DD")


# BatchGetPartition may leave keys unprocessed when throttled: asked again with jittered backoff.
UNPROCESSED_ATTEMPTS = 8
UNPROCESSED_BACKOFF_S = 0.5


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _registered(glue: Any, database: str, table: str, dts: Sequence[str]) -> set[str]:
    """Which of the dt values already have a partition."""
    found: set[str] = set()
    for chunk in _chunks(dts, BATCH_SIZE):
        pending = [{"Values": [d]} for d in chunk]
        for attempt in range(UNPROCESSED_ATTEMPTS):
            if attempt:  # Glue left keys unprocessed (throttled): back off, then ask for those
                sleep(min(UNPROCESSED_BACKOFF_S * 2 ** (attempt - 1), 20) * (0.5 + random()))
            response = glue.batch_get_partition(
                DatabaseName=database, TableName=table, PartitionsToGet=pending
            )
            found.update(p["Values"][0] for p in response.get("Partitions", []))
            pending = response.get("UnprocessedKeys") or []
            if not pending:
                break
        else:
            raise RuntimeError(
                f"{database}.{table}: Glue left {len(pending)} partition key(s) unprocessed "
                f"after {UNPROCESSED_ATTEMPTS} attempts with backoff (throttled); run again"
            )
    return found


def register_partitions(
    settings: Settings, table: Table | str, dts: Iterable[str], *, client: Any = None
) -> int:
    """Add the dt partitions not yet in the Glue catalog; returns how many were created.

    The partitions get the table's StorageDescriptor with location <table location>dt=<dt>/.
    Idempotent: existing partitions (and AlreadyExists races) are left alone.
    """
    resolved = _resolve_table(table)
    if not resolved.partitioned:
        raise ValueError(f"table {resolved.name} is not partitioned by {PARTITION_COLUMN}")
    wanted = sorted({_check_dt(d) for d in dts})
    if not wanted:
        return 0
    glue = client or make_client("glue", settings)
    database = settings.database_of(resolved.name)
    described = glue.get_table(DatabaseName=database, Name=resolved.name)["Table"]
    storage = {k: v for k, v in described["StorageDescriptor"].items() if v is not None}
    base = storage["Location"].rstrip("/") + "/"
    existing = _registered(glue, database, resolved.name, wanted)
    missing = [d for d in wanted if d not in existing]
    created = 0
    for chunk in _chunks(missing, BATCH_SIZE):
        inputs = [
            {
                "Values": [d],
                "StorageDescriptor": {**storage, "Location": f"{base}{PARTITION_COLUMN}={d}/"},
            }
            for d in chunk
        ]
        response = glue.batch_create_partition(
            DatabaseName=database, TableName=resolved.name, PartitionInputList=inputs
        )
        errors = response.get("Errors") or []
        failed = [e for e in errors if e["ErrorDetail"]["ErrorCode"] != "AlreadyExistsException"]
        if failed:
            detail = "; ".join(
                f"{e['PartitionValues']}: {e['ErrorDetail']['ErrorCode']} "
                f"{e['ErrorDetail'].get('ErrorMessage', '')}"
                for e in failed
            )
            raise RuntimeError(f"{database}.{resolved.name}: could not add partitions: {detail}")
        created += len(chunk) - len(errors)
    # Athena's projection must reach the earliest date too (Spectrum reads the partitions).
    start = projection_start(described.get("Parameters"))
    if start is not None and wanted[0] < start:
        extend_projection(settings, glue, database, described, wanted[0])
    return created


def extend_projection(
    settings: Settings, glue: Any, database: str, current: Mapping[str, Any], first_dt: str
) -> None:
    """Start the table's dt projection at first_dt (a date before its start was written); the
    rest of its definition stays as get_table described it. A role that may not update the
    table fails naming the permission (Athena would not see the date)."""
    from botocore.exceptions import ClientError

    table = {k: current[k] for k in _TABLE_INPUT_KEYS if current.get(k) is not None}
    parameters = dict(table.get("Parameters") or {})
    start, end = parameters[DT_RANGE].split(",", 1)
    table["Parameters"] = {**parameters, DT_RANGE: f"{first_dt},{end}"}
    try:
        glue.update_table(DatabaseName=database, TableInput=table)
    except ClientError as exc:
        if error_code(exc) not in ("AccessDeniedException", "AccessDenied"):
            raise
        raise CatalogAccessError(
            f"Glue Data Catalog: {database}.{current['Name']} holds dt={first_dt} now, "
            f"but its partition projection starts at {start} and this role may not update the "
            "table (glue:UpdateTable); grant it, or run `clickstream deploy "
            f"--env {settings.env}`, which starts the projection at the lake's first date"
        ) from None


def drop_partitions(
    settings: Settings, table: Table | str, dts: Iterable[str], *, client: Any = None
) -> int:
    """Delete the dt partitions a run emptied from the Glue catalog; returns how many existed.

    Idempotent: partitions already gone (EntityNotFound) are fine.
    """
    resolved = _resolve_table(table)
    gone = sorted({_check_dt(d) for d in dts})
    if not gone or not resolved.partitioned:
        return 0
    glue = client or make_client("glue", settings)
    database = settings.database_of(resolved.name)
    existing = [d for d in gone if d in _registered(glue, database, resolved.name, gone)]
    for chunk in _chunks(existing, BATCH_SIZE):
        response = glue.batch_delete_partition(
            DatabaseName=database,
            TableName=resolved.name,
            PartitionsToDelete=[{"Values": [d]} for d in chunk],
        )
        failed = [
            e
            for e in response.get("Errors") or []
            if e["ErrorDetail"]["ErrorCode"] != "EntityNotFoundException"
        ]
        if failed:
            detail = "; ".join(
                f"{e['PartitionValues']}: {e['ErrorDetail']['ErrorCode']}" for e in failed
            )
            raise RuntimeError(f"{database}.{resolved.name}: could not drop partitions: {detail}")
    return len(existing)


def lake_partitions(settings: Settings, table: Table | str, *, client: Any = None) -> list[str]:
    """The dt values that have a dt=YYYY-MM-DD/ folder under the table's S3 location."""
    resolved = _resolve_table(table)
    location = table_location(settings, resolved)
    bucket, _, prefix = location[5:].partition("/")
    s3 = client or make_client("s3", settings)
    found = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            name = common["Prefix"][len(prefix) :].strip("/")
            key, _, value = name.partition("=")
            if key == PARTITION_COLUMN:
                try:
                    found.append(_check_dt(value))
                except ValueError:
                    continue
    return sorted(found)
