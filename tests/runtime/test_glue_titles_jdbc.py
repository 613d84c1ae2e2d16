"""titles_source=jdbc on AWS Glue: the unmodified load_titles script reads the titles table through
a Glue connection with Glue's JDBC bookmark on titles_jdbc_key (against the awsglue double)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from clickstream.aws.deploy import glue_job_name
from clickstream.config import ConfigError
from clickstream.tables import TITLES, TITLES_HISTORY
from clickstream.writer import read_table
from tests.runtime import job_main
from tests.runtime.fake_awsglue import GlueDouble

pytestmark = pytest.mark.slow

CONNECTION, TABLE = "app-db", "public.titles"
PASSWORD_ENV = "CLICKSTREAM_TITLES_DB_PASSWORD"
EMR_ONLY = ("titles_jdbc_url=jdbc:postgresql://db.internal:5432/app", "titles_jdbc_user=etl")


def glue_argv(lake: Path, *overrides: str) -> list[str]:
    """What Glue passes to jobs/load_titles.py deployed with --env local and titles_source=jdbc."""
    conf = ";".join([f"lake_root={lake}", "catalog=none", "titles_source=jdbc", *overrides])
    return [
        "--JOB_NAME",
        glue_job_name("local", "load_titles"),
        "--env",
        "local",
        "--conf_overrides",
        conf,
        "--job-bookmark-option",
        "job-bookmark-enable",
    ]


def table_rows(spark: SparkSession, rows: list[tuple[str, str, str, str]]) -> DataFrame:
    """The titles table as the database holds it (updated_at a timestamp)."""
    typed = [(t, n, g, datetime.fromisoformat(f"2026-03-01 {hhmm}")) for t, n, g, hhmm in rows]
    return spark.createDataFrame(
        typed, "title_id string, title string, genre string, updated_at timestamp"
    )


def versions(spark: SparkSession, lake: Path) -> list[tuple]:
    rows = read_table(spark, str(lake), TITLES_HISTORY).orderBy("title_id", "valid_from").collect()
    return [
        (
            r.title_id,
            r.title,
            r.valid_from.strftime("%H:%M"),
            r.valid_to and r.valid_to.strftime("%H:%M"),
        )
        for r in rows
    ]


@pytest.fixture
def glue(
    spark: SparkSession, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[GlueDouble]:
    """The awsglue double; no database password anywhere in the job's environment."""
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    yield GlueDouble(spark, watch=tmp_path).install(monkeypatch)
    spark.sparkContext.setLogLevel("ERROR")


def test_glue_reads_the_table_through_its_connection_with_a_bookmark_on_the_key(
    spark: SparkSession, glue: GlueDouble, tmp_path: Path
) -> None:
    # GIVEN the Glue connection app-db to a database whose titles table has t1 and t2
    glue.register_jdbc(
        CONNECTION,
        TABLE,
        table_rows(spark, [("t1", "One", "drama", "10:00"), ("t2", "Two", "doc", "10:30")]),
    )
    argv = glue_argv(tmp_path, f"titles_jdbc_glue_connection={CONNECTION}")
    # WHEN load_titles runs as a Glue job
    assert job_main("load_titles")(argv) == 0
    # THEN it read the table once through the connection, Glue's bookmark keyed on updated_at
    (call,) = glue.calls("from_options")
    assert call.detail == {
        "connection_type": "postgresql",
        "connection_options": {
            "useConnectionProperties": "true",
            "connectionName": CONNECTION,
            "dbtable": TABLE,
            "jobBookmarkKeys": ["updated_at"],
            "jobBookmarkKeysSortOrder": "asc",
        },
        "transformation_ctx": "load_titles_titles_jdbc",
        "rows_returned": 2,
    }
    # AND the credentials came from the connection: no password in the options or environment
    assert "password" not in str(call.detail).lower()
    # AND each row is a version as of its key value
    assert versions(spark, tmp_path) == [("t1", "One", "10:00", None), ("t2", "Two", "10:30", None)]
    assert [c.kind for c in glue.log].count("job.commit") == 1


def test_the_next_glue_run_gets_only_the_rows_past_glues_bookmark(
    spark: SparkSession, glue: GlueDouble, tmp_path: Path
) -> None:
    # GIVEN a first Glue run that pulled t1 (10:00) and t2 (10:30) and committed
    glue.register_jdbc(
        CONNECTION,
        TABLE,
        table_rows(spark, [("t1", "One", "drama", "10:00"), ("t2", "Two", "doc", "10:30")]),
    )
    argv = glue_argv(tmp_path, f"titles_jdbc_glue_connection={CONNECTION}")
    assert job_main("load_titles")(argv) == 0
    # WHEN t1 is renamed at 11:00 in the database and the job runs again
    renamed = [("t1", "One (renamed)", "drama", "11:00"), ("t2", "Two", "doc", "10:30")]
    glue.register_jdbc(CONNECTION, TABLE, table_rows(spark, renamed))
    start = len(glue.log)
    assert job_main("load_titles")(argv) == 0
    # THEN Glue returned the renamed row alone, and t1 has two versions
    (call,) = [c for c in glue.log[start:] if c.kind == "from_options"]
    assert call.detail["rows_returned"] == 1
    assert versions(spark, tmp_path) == [
        ("t1", "One", "10:00", "11:00"),
        ("t1", "One (renamed)", "11:00", None),
        ("t2", "Two", "10:30", None),
    ]
    current = {tuple(r) for r in read_table(spark, str(tmp_path), TITLES).collect()}
    assert current == {("t1", "One (renamed)", "drama"), ("t2", "Two", "doc")}
    # WHEN nothing changed in the database and the job runs a third time
    before = glue.parquet_files()
    assert job_main("load_titles")(argv) == 0
    # THEN Glue returns no row, nothing is rewritten, and the job still commits once
    assert glue.calls("from_options")[-1].detail["rows_returned"] == 0
    assert glue.parquet_files() == before
    assert [c.kind for c in glue.log].count("job.commit") == 3


def test_without_a_glue_connection_the_glue_job_fails_naming_the_setting(
    spark: SparkSession, glue: GlueDouble, tmp_path: Path
) -> None:
    # GIVEN titles_source=jdbc on Glue with the URL and user EMR uses, no Glue connection
    # WHEN load_titles runs THEN it fails naming the setting, and Glue's bookmark is not committed
    with pytest.raises(ConfigError, match=r"^titles_jdbc_glue_connection is not set"):
        job_main("load_titles")(glue_argv(tmp_path, *EMR_ONLY))
    assert glue.calls("job.commit") == []
    assert glue.calls("from_options") == []
