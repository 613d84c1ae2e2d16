"""The SparkSession every runtime uses, with the settings the curated tables rely on."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from pyspark.sql import SparkSession

from clickstream import delta_lake, iceberg, jars
from clickstream.config import ConfigError, Settings
from clickstream.jvm_archive import with_archive

# Settings the output contract depends on; applied to new and existing sessions alike.
SQL_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.parquet.compression.codec": "snappy",
    # Every instant from 0001 to 9999 is written and read as it is (proleptic Gregorian): the
    # defaults (EXCEPTION) fail a write of a timestamp before 1900 (WRITE_ANCIENT_DATETIME).
    "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInRead": "CORRECTED",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.sql.caseSensitive": "false",
    # Keep df.observe() metrics reliable on empty inputs (see clickstream.observe).
    "spark.sql.optimizer.excludedRules": (
        "org.apache.spark.sql.catalyst.optimizer.PropagateEmptyRelation"
    ),
    "spark.sql.adaptive.optimizer.excludedRules": (
        "org.apache.spark.sql.execution.adaptive.AQEPropagateEmptyRelation"
    ),
}

# Parquet compresses clickstream rows ~3-4x against Spark's shuffle bytes; AQE sizes shuffle
# partitions in shuffle bytes, so a file of target_file_mb needs about this many shuffle bytes.
SHUFFLE_BYTES_PER_PARQUET_BYTE = 3
ADVISORY_PARTITION_SIZE = "spark.sql.adaptive.advisoryPartitionSizeInBytes"

# JVM options of local runs: the throughput collector. make bench at 2,000,000 events: pipeline
# 57.4 / 58.9 s and peak 3.0 GiB, against 59.5 to 63.7 s and 3.3 to 3.5 GiB with the default G1.
LOCAL_JAVA_OPTIONS = "-Duser.timezone=UTC -XX:+UseParallelGC"

# JVM options for short runs on small data (the tests' processes of their own), used instead of
# LOCAL_JAVA_OPTIONS: the C1-only JIT and the serial collector start fast. On millions of rows
# they cost ~25% (make bench: pipeline 115 s vs 91 s at 2,000,000 events), so only tests use them.
SHORT_RUN_JAVA_OPTIONS = "-Duser.timezone=UTC -XX:+UseSerialGC -XX:TieredStopAtLevel=1"

# JVM options for a long-lived session that runs many short jobs (a test worker's, for its whole
# test session): the serial collector, and the default tiered JIT, whose C2 compiles the planner
# code the jobs run again and again. Six pipeline runs over the crash test's two batches in one
# session: 116 s, against 149 s with the C1-only JIT (C2 ahead from the second run on).
LONG_SESSION_JAVA_OPTIONS = "-Duser.timezone=UTC -XX:+UseSerialGC"

# SQL settings for short runs on small data (the tests): expressions are interpreted instead of
# compiled to Java. On a few thousand rows compiling costs more than it saves: a warm pipeline
# run over 1,500 events takes ~4.4 s instead of ~6.3 s. Same results (Spark's own test suites
# run both modes); local runs and the bench keep code generation.
SHORT_RUN_SQL_CONF = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}

# Measured on 2-core machines: these keep start-up and small jobs fast.
LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.driver.extraJavaOptions": LOCAL_JAVA_OPTIONS,
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def metastore_conf(catalog_dir: str) -> dict[str, str]:
    """Spark settings for an embedded Derby Hive metastore kept in catalog_dir."""
    Path(catalog_dir).mkdir(parents=True, exist_ok=True)
    return {
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={catalog_dir}/metastore_db;create=true"
        ),
        "spark.sql.warehouse.dir": f"{catalog_dir}/warehouse",
        "spark.hadoop.datanucleus.schema.autoCreateAll": "true",
        "spark.hadoop.hive.metastore.schema.verification": "false",
    }


# Delta Lake's SQL extension and catalog: DeltaTable SQL (OPTIMIZE, VACUUM, DESCRIBE HISTORY) and
# `CREATE TABLE ... USING delta` in the session catalog (static: set when a session starts), and
# symlink manifests kept current for Redshift Spectrum.
# Local sessions replay a Delta log in 2 tasks (Delta's default, 50, suits clusters: on 2 cores
# every read of a small table paid for 50 tasks).
DELTA_CONF = {**delta_lake.SESSION_CONF, "spark.databricks.delta.snapshotPartitions": "2"}
# Iceberg's SQL extension (MERGE, DELETE and the maintenance procedures on Iceberg tables); the
# lake's catalog is registered when first used (clickstream.iceberg.ensure_catalog).
ICEBERG_CONF = {"spark.sql.extensions": iceberg.EXTENSIONS}


def with_extensions(conf: Mapping[str, str], *extra: Mapping[str, str]) -> dict[str, str]:
    """conf updated with extra, spark.sql.extensions joined rather than replaced."""
    merged = dict(conf)
    for more in extra:
        for key, value in more.items():
            if key == "spark.sql.extensions" and merged.get(key):
                merged[key] = f"{merged[key]},{value}"
            else:
                merged[key] = value
    return merged


def jars_conf(*artifacts: str) -> dict[str, str]:
    """spark.jars naming the installed jars of these artifacts (local paths, nothing fetched)."""
    paths = [str(p) for p in jars.jars_for(*artifacts)]
    return {"spark.jars": ",".join(paths)} if paths else {}


def is_s3(uri: str) -> bool:
    """Whether a path is on S3 (s3://, s3a:// or s3n://)."""
    return uri.split("://", 1)[0] in ("s3", "s3a", "s3n") if "://" in uri else False


def s3a_conf(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Hadoop settings for s3:// and s3a:// through S3A, from the standard AWS environment.

    boto3 resolves what S3A does not read itself: AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (then
    path-style access, as S3-compatible endpoints need), AWS_REGION or AWS_DEFAULT_REGION (or
    the profile's region), and the credentials boto3 finds (environment first). For local
    sessions only: Glue and EMR keep their own s3:// connector and credentials.
    """
    import boto3

    env = os.environ if environ is None else environ
    conf = {
        "fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "fs.AbstractFileSystem.s3.impl": "org.apache.hadoop.fs.s3a.S3A",
    }
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        conf["fs.s3a.endpoint"] = endpoint
        conf["fs.s3a.path.style.access"] = "true"
        conf["fs.s3a.connection.ssl.enabled"] = str(endpoint.startswith("https:")).lower()
    session = boto3.Session()
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or session.region_name
    if region:
        conf["fs.s3a.endpoint.region"] = region
    credentials = session.get_credentials()
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        conf["fs.s3a.access.key"] = frozen.access_key
        conf["fs.s3a.secret.key"] = frozen.secret_key
        provider = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        if frozen.token:
            conf["fs.s3a.session.token"] = frozen.token
            provider = "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
        conf["fs.s3a.aws.credentials.provider"] = provider
    return conf


def launched_by_spark_submit() -> bool:
    """Whether spark-submit started this Python process (its JVM and master exist already)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def local_session(app_name: str, conf: dict[str, str], master: str = "local[2]") -> SparkSession:
    """A local SparkSession tuned for speed on small machines."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName(app_name)
    if not launched_by_spark_submit():
        builder = builder.master(master)
    settings = {**LOCAL_CONF, **SQL_CONF, **conf}
    java_options = settings.get("spark.driver.extraJavaOptions", "")
    settings["spark.driver.extraJavaOptions"] = with_archive(java_options)
    for key, value in settings.items():
        builder = builder.config(key, value)
    if conf.get("spark.sql.catalogImplementation") == "hive":
        builder = builder.enableHiveSupport()
    return builder.getOrCreate()


def get_spark(settings: Settings, app_name: str = "clickstream") -> SparkSession:
    """The active session (Glue, EMR, tests) or a new local one; contract settings applied."""
    spark = SparkSession.getActiveSession()
    on_s3 = is_s3(settings.lake)
    if spark is None and settings.spark_master:
        conf = {**local_jars_conf(settings), **dict(settings.spark_conf)}
        if on_s3:
            conf.update({f"spark.hadoop.{k}": v for k, v in s3a_conf().items()})
        if settings.table_format == "delta":
            conf.update(DELTA_CONF)
        if settings.table_format == "iceberg":
            conf = with_extensions(conf, ICEBERG_CONF)
        if settings.catalog == "hive":
            conf.update(metastore_conf(catalog_dir(settings)))
            extra = conf.get(
                "spark.driver.extraJavaOptions", LOCAL_CONF["spark.driver.extraJavaOptions"]
            )
            conf["spark.driver.extraJavaOptions"] = (
                f"{extra} -Dderby.system.home={catalog_dir(settings)}"
            )
        spark = local_session(app_name, conf, settings.spark_master)
        master = spark.sparkContext.master
        if launched_by_spark_submit() and master != settings.spark_master:
            # An EMR step (or any spark-submit) keeps its own master: a local-style config would
            # otherwise run the whole job on the driver alone, and pass.
            print(
                f"spark_master={settings.spark_master} not applied: spark-submit started this "
                f"application with master {master}"
            )
    elif spark is None:
        builder = SparkSession.builder.appName(app_name)
        if settings.catalog == "glue":
            builder = builder.config(
                "spark.hadoop.hive.metastore.client.factory.class",
                "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory",
            ).enableHiveSupport()
        spark = builder.getOrCreate()
    elif settings.spark_master and on_s3:
        # A session that exists already (the tests'): S3A reads these when it first opens a bucket.
        hadoop = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
        for key, value in s3a_conf().items():
            hadoop.set(key, value)
    apply_sql_conf(spark, settings)
    # Local runs print progress themselves; the embedded metastore's warnings are noise there.
    spark.sparkContext.setLogLevel("ERROR" if settings.spark_master else "WARN")
    return spark


def apply_sql_conf(spark: SparkSession, settings: Settings | None = None) -> None:
    """Set the settings the output contract relies on (SQL_CONF), and the file sizing of settings.

    Called once, when a run gets its session, before any job reads or writes.
    """
    conf = {**SQL_CONF, **(file_sizing_conf(settings) if settings else {})}
    for key, value in conf.items():
        spark.conf.set(key, value)
    if settings is not None and not settings.spark_master:
        apply_spark_conf(spark, settings)


def apply_spark_conf(spark: SparkSession, settings: Settings) -> None:
    """spark_conf on a session the platform started (Glue, EMR): a runtime SQL setting is set; a
    static one the session does not already hold fails, naming where to set it at launch."""
    for key, value in settings.spark_conf.items():
        if spark.conf.isModifiable(key):
            spark.conf.set(key, str(value))
        elif spark.conf.get(key, None) != str(value):
            raise ConfigError(
                f"spark_conf.{key}={value}: a static Spark setting, fixed when the session "
                "started, and Glue or EMR started this one; set it at launch instead (Glue: the "
                f"job parameter --conf {key}={value}; EMR: spark-submit --conf {key}={value}) or "
                f"remove spark_conf.{key}"
            )


def file_sizing_conf(settings: Settings) -> dict[str, str]:
    """AQE's partition size for the session, so a rebalanced write gives files of ~target_file_mb.

    Spark offers no per-write size for Parquet writes; the size is the session's, fixed with its
    other settings (never changed around a write). spark_conf may name it instead: conf/local.yaml
    does, to keep every local task's memory bounded.
    """
    size = settings.spark_conf.get(ADVISORY_PARTITION_SIZE)
    if size is None:
        size = f"{settings.target_file_mb * SHUFFLE_BYTES_PER_PARQUET_BYTE}m"
    return {ADVISORY_PARTITION_SIZE: str(size)}


def local_jars_conf(settings: Settings) -> dict[str, str]:
    """spark.jars for a local session: S3A for a lake on S3, Delta for table_format delta, the
    PostgreSQL driver for titles_source jdbc."""
    needed: tuple[str, ...] = ()
    if is_s3(settings.lake):
        needed += jars.S3A
    if settings.table_format == "delta":
        needed += jars.DELTA
    if settings.table_format == "iceberg":
        needed += jars.ICEBERG
    if settings.titles_source == "jdbc":
        needed += jars.POSTGRESQL
    return jars_conf(*needed) if needed else {}


def catalog_dir(settings: Settings) -> str:
    """Folder of the embedded metastore: under a local lake root, beside the data it describes;
    for a lake on S3, the local folder hive_metastore_dir (Derby needs a local disk)."""
    if settings.is_local_lake:
        return settings.path("_catalog")
    path = Path(settings.hive_metastore_dir)
    if not path.is_absolute():
        path = settings.conf_root.parent / path
    return str(path.resolve())
