"""Delta Lake (table_format: delta): session settings per platform, Redshift manifests, upkeep.

- Local sessions load delta-spark and delta-storage from .jars/ (clickstream.jars). Glue 5.0 jobs
  get `--datalake-formats delta` (Glue ships Delta 3.3.0) and the session settings below; EMR
  steps get the jars EMR installs under /usr/share/aws/delta/lib (EMR 7.0.0 and later: Delta
  3.0.0 in 7.0.0, 3.3.0 from 7.8.0) and the same settings. Nothing is shipped to either.
- Every Delta table this project creates keeps Hive symlink manifests up to date on each commit
  (`_symlink_format_manifest/dt=.../manifest`), which Redshift Spectrum's `<table>_manifest`
  tables read, and each write also leaves a Redshift COPY manifest per date it replaced
  (`_redshift_manifest/dt=<dt>.manifest`: the date's live files with their sizes), so a COPY
  never reads the folder, which still holds replaced files until they are vacuumed.
- Both kinds of manifest are written after the commit they describe, so a process that dies in
  between leaves them stale. `_redshift_manifest/_version.json` records the table version the
  manifests describe; refresh_manifests brings them up to the table's latest version (COPY
  manifests of the dates later commits changed, symlink manifests regenerated unless only the
  commit just made, whose post-commit hook wrote them, is newer). Every Delta write refreshes
  them, and each pipeline job refreshes those of the tables it writes before it runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from clickstream import fs
from clickstream.tables import PARTITION_COLUMN

SYMLINK_MANIFEST_DIR = "_symlink_format_manifest"
COPY_MANIFEST_DIR = "_redshift_manifest"
# The table version the manifests describe (written after them).
MANIFESTS_VERSION = f"{COPY_MANIFEST_DIR}/_version.json"
# New Delta tables keep their symlink manifests current on every commit (table property
# delta.compatibility.symlinkFormatManifest.enabled, set at creation through this default).
SESSION_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.databricks.delta.properties.defaults.compatibility.symlinkFormatManifest.enabled": (
        "true"
    ),
}
# Where EMR 7.x installs Delta (EMR Release Guide, "Use a Delta Lake cluster with Spark").
EMR_DELTA_JARS = (
    "/usr/share/aws/delta/lib/delta-spark.jar",
    "/usr/share/aws/delta/lib/delta-storage.jar",
)
MIN_EMR_RELEASE = "emr-7.0.0"


def glue_job_arguments() -> dict[str, str]:
    """Glue 5.0 job arguments: Glue's own Delta jars, and the Delta session settings."""
    conf = " --conf ".join(f"{key}={value}" for key, value in SESSION_CONF.items())
    return {"--datalake-formats": "delta", "--conf": conf}


def emr_submit_args(extra_jars: Sequence[str] = ()) -> list[str]:
    """spark-submit options of an EMR 7.x step: EMR's Delta jars (and extra_jars: spark-submit
    keeps only the last --jars) and the Delta session settings."""
    args = ["--jars", ",".join((*EMR_DELTA_JARS, *extra_jars))]
    for key, value in SESSION_CONF.items():
        args += ["--conf", f"{key}={value}"]
    return args


def copy_manifest_path(table_path: str, dt: str) -> str:
    """The Redshift COPY manifest of one date of a Delta table."""
    return f"{table_path}/{COPY_MANIFEST_DIR}/{PARTITION_COLUMN}={dt}.manifest"


def write_copy_manifests(spark: SparkSession, table_path: str, dts: Sequence[str]) -> None:
    """Redshift COPY manifests (url and content_length of each live file) for these dates.

    One Spark job lists the dates' live files from the Delta log with their sizes; a date left
    without files loses its manifest, so a COPY of it fails instead of loading stale files.
    """
    rows = (
        spark.read.format("delta")
        .load(table_path)
        .where(F.col(PARTITION_COLUMN).isin(list(dts)))
        .select(PARTITION_COLUMN, "_metadata.file_path", "_metadata.file_size")
        .distinct()
        .collect()
    )
    files: dict[str, list[tuple[str, int]]] = {}
    for row in rows:
        files.setdefault(row[0], []).append((_s3_url(row[1]), int(row[2])))
    for dt in sorted(set(dts)):
        path = copy_manifest_path(table_path, dt)
        if dt not in files:
            fs.delete(spark, path)
            continue
        entries = [
            {"url": url, "mandatory": True, "meta": {"content_length": size}}
            for url, size in sorted(files[dt])
        ]
        fs.write_text(spark, path, json.dumps({"entries": entries}, indent=1) + "\n")


def _s3_url(path: str) -> str:
    """Redshift reads s3:// URLs; S3A's local s3a:// names the same objects."""
    return "s3://" + path[len("s3a://") :] if path.startswith("s3a://") else path


def _commit_path(table_path: str, version: int) -> str:
    return f"{table_path}/_delta_log/{version:020d}.json"


def manifests_version(spark: SparkSession, table_path: str) -> int | None:
    """The table version the manifests were last brought up to (None: never recorded)."""
    text = fs.read_text(spark, f"{table_path}/{MANIFESTS_VERSION}")
    return int(json.loads(text)["version"]) if text else None


def _latest_version(spark: SparkSession, table_path: str, after: int) -> int:
    """The table's latest version, probing commit files from after+1 (one writer: no commit
    lands while a job holds the table's lease)."""
    version = after
    while fs.exists(spark, _commit_path(table_path, version + 1)):
        version += 1
    return version


def _changed_dates(spark: SparkSession, table_path: str, version: int) -> set[str] | None:
    """The dt values one commit added or removed files of (empty for a commit that changed no
    file); None when the commit file is gone (the log was cleaned up)."""
    text = fs.read_text(spark, _commit_path(table_path, version))
    if text is None:
        return None
    dts: set[str] = set()
    for line in text.splitlines():
        action = json.loads(line) if line.strip() else {}
        for kind in ("add", "remove"):
            values = (action.get(kind) or {}).get("partitionValues") or {}
            if PARTITION_COLUMN in values:
                dts.add(values[PARTITION_COLUMN])
            elif kind in action:
                dts.add("")  # an unpartitioned table's file
    return dts


def refresh_manifests(
    spark: SparkSession, table_path: str, *, hooked: bool = False, partitioned: bool = True
) -> list[str] | None:
    """Bring the table's manifests up to its latest version; returns the dates refreshed (None:
    all of them, the versions in between being unknown; [] when they were current).

    hooked: the latest commit was just made by this process, so Delta's post-commit hook wrote
    its symlink manifests; any other commit since the recorded version may have missed them.
    """
    if not fs.exists(spark, f"{table_path}/_delta_log"):
        return []
    recorded = manifests_version(spark, table_path)
    # Without a record, the commits are read from the first one, or (the log's start cleaned
    # up) everything is refreshed from the latest checkpoint on.
    known = recorded is not None or fs.exists(spark, _commit_path(table_path, 0))
    start = -1 if recorded is None else recorded
    if not known:
        start = _checkpoint_version(spark, table_path)
    latest = _latest_version(spark, table_path, start)
    if latest == recorded or latest < 0:
        return []
    changed: set[str] | None = set() if known else None
    unhooked = not known
    for version in range(start + 1, latest + 1) if known else ():
        dts = _changed_dates(spark, table_path, version)
        if dts is None:
            changed, unhooked = None, True
            break
        changed |= dts
        if dts and not (hooked and version == latest):
            unhooked = True
    if unhooked:
        spark.sql(f"GENERATE symlink_format_manifest FOR TABLE delta.`{table_path}`").collect()
    refreshed = None if changed is None else sorted(changed - {""})
    if partitioned:
        dts = refreshed if refreshed is not None else _all_manifest_dates(spark, table_path)
        if dts:
            write_copy_manifests(spark, table_path, dts)
    fs.write_text(
        spark, f"{table_path}/{MANIFESTS_VERSION}", json.dumps({"version": latest}) + "\n"
    )
    return refreshed


def _checkpoint_version(spark: SparkSession, table_path: str) -> int:
    text = fs.read_text(spark, f"{table_path}/_delta_log/_last_checkpoint")
    return int(json.loads(text)["version"]) if text else -1


def _all_manifest_dates(spark: SparkSession, table_path: str) -> list[str]:
    """Every date the table holds files of, or has a COPY manifest for."""
    prefix, suffix = f"{PARTITION_COLUMN}=", ".manifest"
    live = {
        r[0]
        for r in spark.read.format("delta")
        .load(table_path)
        .select(PARTITION_COLUMN)
        .distinct()
        .collect()
    }
    names = fs.list_names(spark, f"{table_path}/{COPY_MANIFEST_DIR}")
    kept = {
        n[len(prefix) : -len(suffix)] for n in names if n.startswith(prefix) and n.endswith(suffix)
    }
    return sorted(live | kept)
