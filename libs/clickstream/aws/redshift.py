"""`clickstream redshift-sql`: Redshift SQL over the curated lake.

The script has three parts:

1. a Redshift Spectrum external schema over the Glue database (`database`), to query the lake
   in place (Spectrum reads the partitions registered by register_partitions, not projection);
2. native tables, one per curated table: the Parquet file columns in file order, then `dt DATE`;
3. per table, a load of one partition, idempotent and atomic: COPY ... FORMAT AS PARQUET maps
   columns by position and needs exactly the file's columns, and dt is not in the files, so each
   load COPYs into a temp staging table with exactly the file columns, then, in one transaction,
   deletes the target rows of that dt and inserts the staged rows with dt as a literal.
   `titles` is not partitioned: its load replaces the whole table the same way.

Without `dt` the loads are a template with the placeholder ${dt} (envsubst-friendly), e.g.
`clickstream redshift-sql --env dev | dt=2024-05-01 envsubst '$dt' | psql ...`.
"""

from __future__ import annotations

import datetime as dt_
import re

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

from clickstream.aws.glue_catalog import lake_uri
from clickstream.config import ConfigError, Settings
from clickstream.delta_lake import copy_manifest_path
from clickstream.tables import PARTITION_COLUMN, Table, curated_tables
from clickstream.writer import format_of

DT_PLACEHOLDER = "${dt}"
PLACEHOLDER_ROLE = "arn:aws:iam::<account-id>:role/<redshift-spectrum-role>"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_ARN_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):")

_REDSHIFT_TYPES: dict[type[DataType], str] = {
    # Redshift's largest VARCHAR; lengths are bytes and titles hold multibyte text.
    StringType: "VARCHAR(65535)",
    # Parquet timestamps are UTC instants; stored as TIMESTAMP (UTC, no zone).
    TimestampType: "TIMESTAMP",
    LongType: "BIGINT",
    IntegerType: "INTEGER",
    ShortType: "SMALLINT",
    DoubleType: "DOUBLE PRECISION",
    FloatType: "REAL",
    BooleanType: "BOOLEAN",
    DateType: "DATE",
}


def redshift_type(dtype: DataType) -> str:
    """The Redshift column type of a Spark type."""
    if isinstance(dtype, DecimalType):
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    try:
        return _REDSHIFT_TYPES[type(dtype)]
    except KeyError:
        raise TypeError(f"no Redshift type for Spark type {dtype.simpleString()}") from None


def default_iam_role(settings: Settings) -> str:
    """redshift_iam_role if configured, else clickstream-redshift-<env> in the Glue role's account."""
    configured = settings.values.get("redshift_iam_role")
    if configured:
        return str(configured)
    match = _ARN_ACCOUNT.match(str(settings.values.get("glue_role_arn") or ""))
    if match:
        return f"arn:aws:iam::{match.group(1)}:role/clickstream-redshift-{settings.env}"
    return PLACEHOLDER_ROLE


def _identifier(name: str, what: str) -> str:
    """The name when it is a plain lower-case SQL identifier, else ConfigError."""
    if not _IDENTIFIER.match(name):
        raise ConfigError(f"{what}={name!r}: use lower-case letters, digits and underscores")
    return name


def _literal(value: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _column_defs(table: Table, *, nullable: bool) -> list[str]:
    """Column definitions in file order (NOT NULL from the schema unless nullable)."""
    defs = []
    for f in table.schema.fields:
        null = "" if nullable or f.nullable else " NOT NULL"
        defs.append(f"{f.name} {redshift_type(f.dataType)}{null}")
    return defs


def external_schema_sql(settings: Settings, spectrum_schema: str, iam_role: str) -> str:
    """CREATE EXTERNAL SCHEMA over the Glue database (Redshift Spectrum)."""
    return (
        f"CREATE EXTERNAL SCHEMA IF NOT EXISTS {spectrum_schema} "
        f"FROM DATA CATALOG DATABASE {_literal(settings.database)} "
        f"IAM_ROLE {_literal(iam_role)} REGION {_literal(str(settings.aws_region))}"
    )


def create_table_sql(schema: str, table: Table) -> str:
    """CREATE TABLE of the native table: file columns in file order, then dt DATE."""
    columns = _column_defs(table, nullable=False)
    options = "DISTSTYLE AUTO"
    if table.partitioned:
        columns.append(f"{PARTITION_COLUMN} DATE NOT NULL")
        options += f" SORTKEY ({PARTITION_COLUMN})"
    body = ",\n  ".join(columns)
    return f"CREATE TABLE IF NOT EXISTS {schema}.{table.name} (\n  {body}\n) {options}"


def load_statements(
    settings: Settings, schema: str, table: Table, iam_role: str, dt: str = DT_PLACEHOLDER
) -> list[str]:
    """Statements loading one partition (or all of titles) into the native table, atomically."""
    lake = lake_uri(settings)
    stage = f"stage_{table.name}"
    columns = ", ".join(table.columns)
    target = f"{schema}.{table.name}"
    manifest = ""
    if table.partitioned and format_of(table, settings.table_format) == "delta":
        # The folder still holds replaced files until VACUUM: load the date's live files only.
        source = copy_manifest_path(f"{lake}/{table.location}", dt)
        manifest = " MANIFEST"
    elif table.partitioned:
        source = f"{lake}/{table.location}/{PARTITION_COLUMN}={dt}/"
    if table.partitioned:
        dt_value = f"{_literal(dt)}::DATE"
        delete = f"DELETE FROM {target} WHERE {PARTITION_COLUMN} = {dt_value}"
        insert = (
            f"INSERT INTO {target} ({columns}, {PARTITION_COLUMN}) "
            f"SELECT {columns}, {dt_value} FROM {stage}"
        )
    else:
        source = f"{lake}/{table.location}/"
        delete = f"DELETE FROM {target}"
        insert = f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {stage}"
    stage_columns = ", ".join(_column_defs(table, nullable=True))
    return [
        "BEGIN",
        f"CREATE TEMP TABLE {stage} ({stage_columns})",
        f"COPY {stage} ({columns}) FROM {_literal(source)} "
        f"IAM_ROLE {_literal(iam_role)} FORMAT AS PARQUET{manifest}",
        delete,
        insert,
        f"DROP TABLE {stage}",
        "COMMIT",
    ]


def redshift_statements(
    settings: Settings,
    *,
    iam_role: str | None = None,
    dt: str | None = None,
    schema: str | None = None,
    spectrum_schema: str | None = None,
) -> list[tuple[str, list[str]]]:
    """(comment, statements) sections of the script; see redshift_sql."""
    role = iam_role or default_iam_role(settings)
    native = _identifier(schema or str(settings.database), "schema")
    spectrum = _identifier(spectrum_schema or f"{settings.database}_spectrum", "spectrum_schema")
    if dt is not None:
        try:
            if dt_.date.fromisoformat(dt).isoformat() != dt:
                raise ValueError(dt)
        except ValueError:
            raise ValueError(f"dt={dt!r}: expected a date as YYYY-MM-DD") from None
    day = dt or DT_PLACEHOLDER
    spectrum_comment = (
        f"Spectrum: query the lake in place through Glue database {settings.database} (the "
        f"quarantine tables, raw payloads, stay in {settings.quarantine_database}: not mapped)"
    )
    tables = curated_tables(settings.promoted_fields)  # events with its promoted columns
    delta = [t.name for t in tables if format_of(t, settings.table_format) == "delta"]
    if delta:
        spectrum_comment += "; Delta tables through their symlink-manifest tables " + ", ".join(
            f"{spectrum}.{name}_manifest" for name in delta
        )
    sections = [
        (spectrum_comment, [external_schema_sql(settings, spectrum, role)]),
        (
            f"Native tables in schema {native}: Parquet file columns in file order, then dt",
            [f"CREATE SCHEMA IF NOT EXISTS {native}"]
            + [create_table_sql(native, t) for t in tables],
        ),
    ]
    for table in tables:
        what = f"partition dt={day}" if table.partitioned else "full refresh (not partitioned)"
        sections.append(
            (
                f"Load {table.name}: {what}; COPY into staging, then replace in one transaction",
                load_statements(settings, native, table, role, day),
            )
        )
    return sections


def redshift_sql(
    settings: Settings,
    *,
    iam_role: str | None = None,
    dt: str | None = None,
    schema: str | None = None,
    spectrum_schema: str | None = None,
) -> str:
    """The Redshift script: Spectrum external schema, native tables, per-partition COPY loads.

    iam_role: default redshift_iam_role from config, else
    arn:aws:iam::<account of glue_role_arn>:role/clickstream-redshift-<env>. dt: the partition
    to load (YYYY-MM-DD); default a template with ${dt}. schema: native schema (default
    `database`); spectrum_schema: external schema (default <database>_spectrum).
    """
    sections = redshift_statements(
        settings, iam_role=iam_role, dt=dt, schema=schema, spectrum_schema=spectrum_schema
    )
    parts = [
        f"-- clickstream-etl Redshift SQL for env {settings.env} (lake {lake_uri(settings)})",
    ]
    if dt is None:
        parts.append(f"-- Template: replace {DT_PLACEHOLDER} with the partition date YYYY-MM-DD.")
    for comment, statements in sections:
        parts.append(f"\n-- {comment}")
        parts.extend(f"{statement};" for statement in statements)
    return "\n".join(parts) + "\n"
