"""The AWS DMS source: an S3 target folder of full-load and CDC CSV files of the titles table.

Endpoint settings it expects: AddColumnName=true (a header row), IncludeOpForFullLoad=true (an Op
column in full-load rows too), TimestampColumnName=dms_commit_ts (UTC, yyyy-MM-dd
HH:mm:ss.ffffff). Full-load files are LOAD*.csv, CDC files are named by time
(20141029-1134010000.csv); either may be gzip-compressed (.csv.gz).

Each row is a change as of its dms_commit_ts, applied in order of (dms_commit_ts, file name, row
order). Full-load files that are new or rewritten are a new snapshot: every present LOAD file
is read, and titles absent from all of them are deleted as of the earliest dms_commit_ts among
the new LOAD rows (the time the reload started).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from clickstream.config import ConfigError
from clickstream.raw_objects import RawObject

OP, COMMIT_TS = "Op", "dms_commit_ts"
COLUMNS = ("title_id", "title", "genre")
FILE_COLUMNS = (OP, COMMIT_TS, *COLUMNS)
TIMESTAMP_FORMATS = ("yyyy-MM-dd HH:mm:ss.SSSSSS", "yyyy-MM-dd HH:mm:ss")
SUFFIXES = (".csv", ".csv.gz")


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
        rows.select(*FILE_COLUMNS)
        .withColumn("_file", F.input_file_name())
        .withColumn("_row", F.monotonically_increasing_id())
    )


def changed_at(column: str) -> F.Column:
    """dms_commit_ts (UTC text) as a timestamp; null when it is not one."""
    return F.coalesce(*(F.try_to_timestamp(F.col(column), F.lit(f)) for f in TIMESTAMP_FORMATS))


def dms_changes(spark: SparkSession, batch: DmsBatch) -> DataFrame:
    """The batch as changes; a row with an unknown Op, a bad dms_commit_ts or no title_id fails
    the run with one line naming its file (the bookmark stays, so the file is read again)."""
    rows = read_dms_rows(spark, batch.paths)
    name = F.regexp_extract("_file", r"([^/]+)$", 1)
    load = name.startswith("LOAD")
    changes = rows.select(
        F.col("title_id"),
        F.col("title"),
        F.col("genre"),
        F.upper(F.trim(F.col(OP))).alias("op"),
        changed_at(COMMIT_TS).alias("changed_at"),
        (F.when(load, F.lit(batch.snapshot)) if batch.snapshot else F.lit(None))
        .cast("string")
        .alias("snapshot"),
        name.alias("source"),
        F.col("_row").cast("long").alias("seq"),
        F.col(OP).alias("_raw_op"),
        F.col(COMMIT_TS).alias("_raw_ts"),
    )
    bad = changes.where(
        ~F.col("op").isin("I", "U", "D")
        | F.col("op").isNull()
        | F.col("changed_at").isNull()
        | F.col("title_id").isNull()
        | (F.trim("title_id") == "")
    )
    sample = bad.select("source", "_raw_op", "_raw_ts", "title_id").limit(1).collect()
    if sample:
        row = sample[0]
        raise ConfigError(
            f"titles_dms_path: DMS file {row['source']}: a row with Op={row['_raw_op']!r}, "
            f"dms_commit_ts={row['_raw_ts']!r}, title_id={row['title_id']!r} is not a change; "
            "expected Op I, U or D, dms_commit_ts yyyy-MM-dd HH:mm:ss.ffffff (TimestampColumnName"
            "=dms_commit_ts, IncludeOpForFullLoad=true, AddColumnName=true) and a title_id"
        )
    out = changes.drop("_raw_op", "_raw_ts")
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
