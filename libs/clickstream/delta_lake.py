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
