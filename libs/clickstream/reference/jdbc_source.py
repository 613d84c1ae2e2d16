"""The JDBC source: rows of the titles table pulled incrementally on an updated_at-style key.

Each pulled row is a version of its title as of its key value; a row without a title_id or a key
value goes to quarantine_titles (jdbc_rejected). Deletes cannot be seen this way
(a deleted row is simply no longer there): with titles_source=jdbc a title is never closed by a
delete; use the DMS source when deletes matter.

- Locally and on EMR: Spark's JDBC reader with the watermark (the largest key value pulled) kept
  in the project's bookmark store. Each pull re-reads titles_jdbc_overlap_minutes below the
  watermark, so a row committed late with an older key value is not lost; the rows read again
  are versions already in the change log, and the same change twice is one change.
- On AWS Glue: Glue's own JDBC bookmark on the key (jobBookmarkKeys, through runtime/glue.py)
  picks the new rows. Glue's bookmark keeps no overlap window: a row committed later with a key
  value below the bookmark is not seen there.

The password comes from the environment variable titles_jdbc_password_env, or from the Secrets
Manager secret titles_jdbc_secret_id (EMR), or from the Glue connection on Glue; never from a file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from clickstream.config import ConfigError, Settings, redacted_url

TIMESTAMP_FORMAT = "yyyy-MM-dd HH:mm:ss.SSSSSS"  # of the watermark, UTC
# Why a pulled row is not a version (quarantine_titles.reason).
MISSING_TITLE_ID, MISSING_KEY = "missing_title_id", "missing_key"
# PostgreSQL SQLSTATE classes: 28 = invalid authorization, 08 = connection exception,
# 3D000 = no such database, 42P01 = no such table, 42703 = no such column.
_STATES = {
    "28": (
        "titles_jdbc_user",
        "the database rejected the user or password: check {user} and ${env}",
    ),
    "08": ("titles_jdbc_url", "cannot reach the database at {url}: check host, port and network"),
    # 08004: the server rejected the connection (e.g. no TLS while sslmode requires it).
    "08004": (
        "titles_jdbc_sslmode",
        "the server at {url} refused the connection with sslmode={sslmode}: enable TLS on the "
        "server (or, for a loopback test server only, set titles_jdbc_sslmode=disable)",
    ),
    "3D": ("titles_jdbc_url", "no such database in {url}"),
    "42P01": ("titles_jdbc_table", "no table {table} in {url}"),
    "42703": ("titles_jdbc_key", "a column of {table} is missing (title_id, title, genre, {key})"),
}


def lower_bound(watermark: str | None, overlap_minutes: int) -> str | None:
    """The watermark minus the overlap window, as UTC text; None without a watermark."""
    if not watermark:
        return None
    start = datetime.fromisoformat(watermark) - timedelta(minutes=overlap_minutes)
    return start.strftime("%Y-%m-%d %H:%M:%S.%f")


def read_titles_table(spark: SparkSession, settings: Settings, *, since: str | None) -> DataFrame:
    """title_id, title, genre and the key column of rows whose key >= since (all when None).

    The connection is checked first, so bad credentials or an unreachable host fail in
    titles_jdbc_timeout_seconds with one line naming the setting.
    """
    options = connection_options(settings)
    check_connection(spark, settings, options)
    key = settings.titles_jdbc_key
    reader = spark.read.format("jdbc").options(**options)
    try:  # resolving the table's schema queries the database: a missing table fails here
        rows = reader.option("dbtable", settings.titles_jdbc_table).load()
    except Exception as exc:
        raise _connection_error(settings, exc) from None
    missing = [c for c in ("title_id", "title", "genre", key) if c not in rows.columns]
    if missing:
        raise ConfigError(
            f"titles_jdbc_key={key!r} / titles_jdbc_table={settings.titles_jdbc_table!r}: "
            f"column(s) {', '.join(missing)} not in the table (it has {', '.join(rows.columns)})"
        )
    rows = rows.select("title_id", "title", "genre", key)
    if since is not None:  # a literal comparison: Spark pushes it down to the database
        rows = rows.where(F.col(key) >= F.to_timestamp(F.lit(since)))
    return rows


def connection_options(settings: Settings) -> dict[str, str]:
    """Spark JDBC options: URL, driver, user, password (from the environment or a secret)."""
    if not settings.titles_jdbc_url:
        raise ConfigError(
            "titles_jdbc_url is not set: local and EMR runs connect with titles_jdbc_url and "
            "titles_jdbc_user (titles_jdbc_glue_connection serves Glue jobs only)"
        )
    timeout = str(settings.titles_jdbc_timeout_seconds)
    return {
        "url": settings.titles_jdbc_url,
        "driver": "org.postgresql.Driver",
        "user": settings.titles_jdbc_user,
        "password": password(settings),
        # TLS as titles_jdbc_sslmode says (default require: an unencrypted server is refused).
        "sslmode": str(settings.titles_jdbc_sslmode),
        "connectTimeout": timeout,
        "loginTimeout": timeout,
        "socketTimeout": str(max(60, 6 * settings.titles_jdbc_timeout_seconds)),
    }


def password(settings: Settings, secrets: Callable[[str], str] | None = None) -> str:
    """The password: from Secrets Manager when titles_jdbc_secret_id is set, else from the
    environment variable titles_jdbc_password_env."""
    if settings.titles_jdbc_secret_id:
        return (secrets or _secret)(settings.titles_jdbc_secret_id)
    env = settings.titles_jdbc_password_env
    value = os.environ.get(env or "")
    if not value:
        raise ConfigError(
            f"titles_jdbc_password_env={env!r}: the environment variable is not set; export it "
            "with the database password (or set titles_jdbc_secret_id on AWS)"
        )
    return value


def _secret(secret_id: str) -> str:
    """A secret's password: the "password" key of a JSON secret, or the plain secret string."""
    from clickstream.aws_clients import aws_client

    try:
        text = aws_client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    except Exception as exc:  # boto3 errors: one line naming the setting
        raise ConfigError(f"titles_jdbc_secret_id={secret_id!r}: cannot read it ({exc})") from exc
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    return str(doc["password"]) if isinstance(doc, dict) and "password" in doc else text


def check_connection(spark: SparkSession, settings: Settings, options: dict[str, str]) -> None:
    """Open and close one connection through the JVM driver; a failure is one ConfigError line."""
    jvm: Any = spark.sparkContext._jvm
    props = jvm.java.util.Properties()
    for name in ("user", "password", "sslmode", "connectTimeout", "loginTimeout", "socketTimeout"):
        props.setProperty(name, options[name])
    try:  # Spark's class loader sees the jars of spark.jars / --jars (DriverManager may not)
        driver = jvm.org.apache.spark.util.Utils.classForName(
            options["driver"], True, False
        ).newInstance()
    except Exception as exc:
        raise ConfigError(
            "titles_source=jdbc: the PostgreSQL JDBC driver (org.postgresql.Driver) is not on the "
            "classpath; locally run `make install` (it copies the jar into .jars/), on EMR deploy "
            "with titles_source=jdbc (its steps pass the jar with --jars)"
        ) from exc
    try:
        connection = driver.connect(options["url"], props)
        connection.close()
    except Exception as exc:
        raise _connection_error(settings, exc) from None


def _connection_error(settings: Settings, exc: Exception) -> ConfigError:
    """One line naming the setting to fix, from the SQLSTATE of the driver's exception."""
    java = getattr(exc, "java_exception", None)
    state = str(java.getSQLState()) if java is not None and hasattr(java, "getSQLState") else ""
    for prefix in sorted(_STATES, key=len, reverse=True):
        if state.startswith(prefix):
            key, text = _STATES[prefix]
            message = text.format(
                user=f"titles_jdbc_user={settings.titles_jdbc_user!r}",
                env=settings.titles_jdbc_password_env,
                url=redacted_url(settings.titles_jdbc_url),
                sslmode=settings.titles_jdbc_sslmode,
                table=settings.titles_jdbc_table,
                key=settings.titles_jdbc_key,
            )
            return ConfigError(f"{key}: {message} (SQLSTATE {state})")
    detail = str(java.getMessage()) if java is not None else str(exc).splitlines()[0]
    url = redacted_url(settings.titles_jdbc_url)
    if settings.titles_jdbc_url:
        detail = detail.replace(str(settings.titles_jdbc_url), str(url))
    return ConfigError(f"titles_jdbc_url={url!r}: cannot connect ({redacted_url(detail)})")


def jdbc_rejected(rows: DataFrame, key: str, source: str, pulled_at: datetime) -> DataFrame:
    """Pulled rows that cannot be versions (no title_id, or no key value to date them by), as
    quarantine_titles rows: the row as JSON, the rule it broke, the table, the pull's time."""
    reason = F.when(
        F.col("title_id").isNull() | (F.trim(F.col("title_id").cast("string")) == ""),
        F.lit(MISSING_TITLE_ID),
    ).when(F.col(key).isNull(), F.lit(MISSING_KEY))
    record = F.to_json(
        F.struct(*(F.col(c).cast("string").alias(c) for c in ("title_id", "title", "genre", key)))
    )
    return (
        rows.select(record.alias("record"), reason.alias("reason"))
        .where(F.col("reason").isNotNull())
        .select(
            "record",
            "reason",
            F.lit(source).alias("source_file"),
            F.lit(pulled_at).cast("timestamp").alias("ingested_at"),
            # Identical rows are told apart by their number; a single row is 1 in every pull.
            F.row_number()
            .over(Window.partitionBy("record", "reason").orderBy("record"))
            .cast("long")
            .alias("row_in_file"),
        )
    )


def jdbc_changes(rows: DataFrame, key: str) -> DataFrame:
    """Pulled rows as changes: each row a version (op U) of its title as of its key value."""
    return rows.select(
        F.col("title_id").cast("string").alias("title_id"),
        F.col("title").cast("string").alias("title"),
        F.col("genre").cast("string").alias("genre"),
        F.lit("U").alias("op"),
        F.col(key).cast("timestamp").alias("changed_at"),
        F.lit(None).cast("string").alias("snapshot"),
        F.lit("jdbc").alias("source"),
        F.lit(0).cast("long").alias("seq"),
    ).where(
        F.col("title_id").isNotNull() & (F.trim("title_id") != "") & F.col("changed_at").isNotNull()
    )


def max_changed_at(changes: DataFrame) -> str | None:
    """The largest changed_at as UTC text (the next watermark); None when there are no rows."""
    top = F.date_format(F.max("changed_at"), TIMESTAMP_FORMAT).alias("top")
    return changes.agg(top).collect()[0]["top"]
