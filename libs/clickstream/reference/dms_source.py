"""The AWS DMS source: an S3 target folder of full-load and CDC CSV files of the titles table.

Endpoint settings it expects: AddColumnName=true (a header row), IncludeOpForFullLoad=true (an Op
column in full-load rows too), TimestampColumnName=dms_commit_ts (UTC, yyyy-MM-dd
HH:mm:ss.ffffff). Full-load files are LOAD*.csv, CDC files are named by time
(20141029-1134010000.csv); either may be gzip-compressed (.csv.gz).

Each row is a change as of its dms_commit_ts, applied in order of (dms_commit_ts, file name, row
order). A row with an Op other than I, U or D, a dms_commit_ts that is not a time or no title_id
is not a change: it goes to the quarantine_titles table with its reason (dms_rejected), and the
run goes on. Full-load files that are new or rewritten are a new snapshot: every present LOAD file
is read, and titles absent from all of them are deleted as of the earliest dms_commit_ts among
the new LOAD rows (the time the reload started).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from clickstream.config import ConfigError
from clickstream.raw_objects import RawObject

OP, COMMIT_TS = "Op", "dms_commit_ts"
COLUMNS = ("title_id", "title", "genre")
FILE_COLUMNS = (OP, COMMIT_TS, *COLUMNS)
TIMESTAMP_FORMATS = ("yyyy-MM-dd HH:mm:ss.SSSSSS", "yyyy-MM-dd HH:mm:ss")
SUFFIXES = (".csv", ".csv.gz")
# Why a row is not a change (quarantine_titles.reason), in priority order.
UNKNOWN_OP = "unknown_op"
INVALID_COMMIT_TS = "invalid_dms_commit_ts"
MISSING_TITLE_ID = "missing_title_id"
REASONS = (UNKNOWN_OP, INVALID_COMMIT_TS, MISSING_TITLE_ID)


def file_name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def is_dms_file(obj: RawObject) -> bool:
    """A DMS data file: .csv or .csv.gz (other objects in the folder are ignored)."""
    return file_name(obj.path).endswith(SUFFIXES)


def is_full_load(path: str) -> bool:
    """Full-load files are LOAD*.csv[.gz]; every other data file is CDC."""
    return file_name(path).startswith("LOAD")


@dataclass(frozen=True)
class DmsBatch:
    """Files to read: the new or changed ones, plus every LOAD file when a reload arrived."""

    paths: list[str]
    snapshot: str | None  # the reload's snapshot id, when LOAD files are new or rewritten


def plan_batch(all_files: list[RawObject], chosen: list[str], snapshot: str) -> DmsBatch:
    """What to read: the chosen files; on a reload (a chosen LOAD file) every LOAD file."""
    if any(is_full_load(p) for p in chosen):
        loads = [f.path for f in all_files if is_full_load(f.path)]
        return DmsBatch(sorted(set(chosen) | set(loads)), snapshot)
    return DmsBatch(sorted(chosen), None)


def read_dms_rows(spark: SparkSession, paths: list[str]) -> DataFrame:
    """The files' Op, dms_commit_ts and title columns (by header name: the table may have more
    columns), with their file name and row order; gzip by suffix."""
    rows = (
        spark.read.option("header", True)
        .option("multiLine", True)  # whole files per task: row order is the read order
        .option("quote", '"')
        .option("escape", '"')
        .option("encoding", "UTF-8")
        .csv(paths)
    )
    missing = [c for c in FILE_COLUMNS if c.lower() not in {n.lower() for n in rows.columns}]
    if missing:
        raise ConfigError(
            f"titles_dms_path: the DMS files have no column(s) {', '.join(missing)} (header: "
            f"{', '.join(rows.columns)}); set AddColumnName=true, IncludeOpForFullLoad=true and "
            "TimestampColumnName=dms_commit_ts on the DMS S3 endpoint"
        )
    return (
        rows.select(*FILE_COLUMNS, F.col("_metadata.file_modification_time").alias("_modified"))
        .withColumn("_file", F.input_file_name())
        .withColumn("_row", F.monotonically_increasing_id())
    )


def changed_at(column: str) -> F.Column:
    """dms_commit_ts (UTC text) as a timestamp; null when it is not one."""
    return F.coalesce(*(F.try_to_timestamp(F.col(column), F.lit(f)) for f in TIMESTAMP_FORMATS))


def rejection_reason(op: F.Column, changed: F.Column, title_id: F.Column) -> F.Column:
    """The first rule a row breaks (null: the row is a change): Op I, U or D, a dms_commit_ts
    in the endpoint's format, a title_id."""
    return (
        F.when(op.isNull() | ~op.isin("I", "U", "D"), F.lit(UNKNOWN_OP))
        .when(changed.isNull(), F.lit(INVALID_COMMIT_TS))
        .when(title_id.isNull() | (F.trim(title_id) == ""), F.lit(MISSING_TITLE_ID))
    )


def _read(spark: SparkSession, batch: DmsBatch) -> DataFrame:
    """Every row of the batch's files as a change candidate, with its rejection reason."""
    rows = read_dms_rows(spark, batch.paths)
    name = F.regexp_extract("_file", r"([^/]+)$", 1)
    load = name.startswith("LOAD")
    op, changed = F.upper(F.trim(F.col(OP))), changed_at(COMMIT_TS)
    return rows.select(
        F.col("title_id"),
        F.col("title"),
        F.col("genre"),
        op.alias("op"),
        changed.alias("changed_at"),
        (F.when(load, F.lit(batch.snapshot)) if batch.snapshot else F.lit(None))
        .cast("string")
        .alias("snapshot"),
        name.alias("source"),
        F.col("_row").cast("long").alias("seq"),
        rejection_reason(op, changed, F.col("title_id")).alias("_reason"),
        F.to_json(F.struct(*FILE_COLUMNS)).alias("_record"),
        F.col("_file"),
        F.col("_modified"),
    )


def dms_rejected(spark: SparkSession, batch: DmsBatch) -> DataFrame:
    """The batch's rows that are not changes: the row as JSON, the rule it broke, its file and
    the file's modification time (quarantine_titles columns), and the row's number in its file."""
    rows = _read(spark, batch)
    place = F.row_number().over(Window.partitionBy("_file").orderBy("seq"))
    return (
        rows.withColumn("row_in_file", place.cast("long"))
        .where(F.col("_reason").isNotNull())
        .select(
            F.col("_record").alias("record"),
            F.col("_reason").alias("reason"),
            F.col("_file").alias("source_file"),
            F.col("_modified").alias("ingested_at"),
            "row_in_file",
        )
    )


def dms_changes(spark: SparkSession, batch: DmsBatch) -> DataFrame:
    """The batch's rows that are changes (dms_rejected has the others), and on a reload its
    snapshot marker."""
    changes = _read(spark, batch)
    out = changes.where(F.col("_reason").isNull()).drop("_reason", "_record", "_file", "_modified")
    if batch.snapshot is None:
        return out
    # The reload's marker: as of its earliest new row, ordered before that row.
    # (An empty reload has no row to date it by: no marker, nothing deleted.)
    first = F.min(F.struct("changed_at", "source")).alias("m")
    marker = (
        out.where(F.col("snapshot").isNotNull())
        .agg(first)
        .where(F.col("m").isNotNull())
        .select(
            *(F.lit(None).cast("string").alias(c) for c in COLUMNS),
            F.lit("S").alias("op"),
            F.col("m.changed_at").alias("changed_at"),
            F.lit(batch.snapshot).alias("snapshot"),
            F.col("m.source").alias("source"),
            F.lit(-1).cast("long").alias("seq"),
        )
    )
    return marker.unionByName(out)
