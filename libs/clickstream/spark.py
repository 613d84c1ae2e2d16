"""The SparkSession every runtime uses, with the settings the curated tables rely on."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from clickstream.config import Settings
from clickstream.jvm_archive import with_archive

# Settings the output contract depends on; applied to new and existing sessions alike.
SQL_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.parquet.compression.codec": "snappy",
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

# JVM options of local runs: the throughput collector. make bench at 2,000,000 events: pipeline
# 57.4 / 58.9 s and peak 3.0 GiB, against 59.5 to 63.7 s and 3.3 to 3.5 GiB with the default G1.
LOCAL_JAVA_OPTIONS = "-Duser.timezone=UTC -XX:+UseParallelGC"

# JVM options for short runs on small data (the tests), used instead of LOCAL_JAVA_OPTIONS: the
# C1-only JIT and the serial collector start fast. On millions of rows they cost ~25% (make
# bench: pipeline 115 s vs 91 s at 2,000,000 events), so only the tests use them.
SHORT_RUN_JAVA_OPTIONS = "-Duser.timezone=UTC -XX:+UseSerialGC -XX:TieredStopAtLevel=1"

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


def local_session(app_name: str, conf: dict[str, str], master: str = "local[2]") -> SparkSession:
    """A local SparkSession tuned for speed on small machines."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.master(master).appName(app_name)
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
    if spark is None and settings.spark_master:
        conf = dict(settings.spark_conf)
        if settings.catalog == "hive" and settings.is_local_lake:
            conf.update(metastore_conf(catalog_dir(settings)))
            extra = conf.get(
                "spark.driver.extraJavaOptions", LOCAL_CONF["spark.driver.extraJavaOptions"]
            )
            conf["spark.driver.extraJavaOptions"] = (
                f"{extra} -Dderby.system.home={catalog_dir(settings)}"
            )
        spark = local_session(app_name, conf, settings.spark_master)
    elif spark is None:
        builder = SparkSession.builder.appName(app_name)
        if settings.catalog == "glue":
            builder = builder.config(
                "spark.hadoop.hive.metastore.client.factory.class",
                "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory",
            ).enableHiveSupport()
        spark = builder.getOrCreate()
    apply_sql_conf(spark)
    # Local runs print progress themselves; the embedded metastore's warnings are noise there.
    spark.sparkContext.setLogLevel("ERROR" if settings.spark_master else "WARN")
    return spark


def apply_sql_conf(spark: SparkSession) -> None:
    """Set the session settings the output contract relies on (SQL_CONF) on any session."""
    for key, value in SQL_CONF.items():
        spark.conf.set(key, value)


def catalog_dir(settings: Settings) -> str:
    """Folder of the embedded metastore: under the lake root, beside the data it describes."""
    return settings.path("_catalog")
