"""table_format=delta on AWS: Glue and EMR settings, Glue catalog entries, Redshift loads."""

from __future__ import annotations

import boto3
import sqlglot
from sqlglot.errors import ErrorLevel

from clickstream.aws.deploy import deploy_targets, emr_step, glue_job_definition
from clickstream.aws.glue_catalog import (
    SYMLINK_INPUT,
    catalog_tables,
    database_inputs,
    ensure_database,
    ensure_table,
)
from clickstream.aws.redshift import redshift_sql, redshift_statements
from clickstream.config import Settings, load_settings
from clickstream.delta_lake import EMR_DELTA_JARS, SESSION_CONF
from tests.aws.conftest import ISSUE_OVERRIDES

URIS = {
    "wheel": "s3://a/w.whl",
    "zip": "s3://a/c.zip",
    "conf": "s3://a/base.yaml,s3://a/dev.yaml",
    "modules": "s3://a/w.whl,s3://a/pyyaml.whl",
    "emr_archive": "s3://a/environment.tar.gz",
}


def delta_settings() -> Settings:
    return load_settings("dev", [*ISSUE_OVERRIDES, "table_format=delta"])


def test_glue_jobs_get_datalake_formats_delta_and_the_delta_session_settings() -> None:
    args = glue_job_definition(deploy_targets(delta_settings()), URIS, "curate_events")[
        "DefaultArguments"
    ]
    assert args["--datalake-formats"] == "delta"
    confs = dict(c.split("=", 1) for c in args["--conf"].split(" --conf "))
    assert confs == SESSION_CONF
    parquet = glue_job_definition(
        deploy_targets(load_settings("dev", ISSUE_OVERRIDES)), URIS, "curate_events"
    )["DefaultArguments"]
    assert "--datalake-formats" not in parquet and "--conf" not in parquet


def test_emr_steps_load_emr_delta_jars_and_settings_before_the_script() -> None:
    args = emr_step(deploy_targets(delta_settings()), URIS, "curate_events")["HadoopJarStep"][
        "Args"
    ]
    script = next(i for i, a in enumerate(args) if a.endswith("jobs/curate_events.py"))
    options = args[:script]
    assert options[options.index("--jars") + 1] == ",".join(EMR_DELTA_JARS)
    confs = [options[i + 1] for i, a in enumerate(options) if a == "--conf"]
    # The environment archive's Python settings (issue 12) come too; every Delta setting is there.
    delta = [c for c in confs if c.split("=", 1)[0] in SESSION_CONF]
    assert delta == [f"{k}={v}" for k, v in SESSION_CONF.items()]


def test_delta_tables_are_athena_delta_tables_beside_spectrum_manifest_tables() -> None:
    tables = {spec["Name"]: spec for _, spec in catalog_tables(delta_settings())}
    events = tables["events"]
    assert events["Parameters"]["table_type"] == "DELTA"
    assert events["PartitionKeys"] == []
    assert events["StorageDescriptor"]["Location"] == "s3://clickstream-lake/curated/events/"
    manifest = tables["events_manifest"]
    assert manifest["StorageDescriptor"]["InputFormat"] == SYMLINK_INPUT
    assert manifest["StorageDescriptor"]["Location"] == (
        "s3://clickstream-lake/curated/events/_symlink_format_manifest/"
    )
    assert [k["Name"] for k in manifest["PartitionKeys"]] == ["dt"]
    assert {f"{n}_manifest" for n in ("events", "sessions", "daily_active_users")} <= set(tables)
    assert "titles_manifest" not in tables and "table_type" not in tables["titles"]["Parameters"]


def test_deploying_the_delta_catalog_twice_changes_nothing_the_second_time(moto: str) -> None:
    settings = delta_settings()
    glue = boto3.client("glue")
    for database in database_inputs(settings):
        ensure_database(glue, database)
    first = [ensure_table(glue, db, spec) for db, spec in catalog_tables(settings)]
    second = [ensure_table(glue, db, spec) for db, spec in catalog_tables(settings)]
    assert set(first) == {"created"} and set(second) == {"unchanged"}


def test_redshift_copies_delta_dates_through_their_manifest_never_the_folder() -> None:
    settings = delta_settings()
    sections = redshift_statements(settings, dt="2026-03-01")
    (load,) = [s for comment, s in sections if comment.startswith("Load events:")]
    copy = load[2]
    assert (
        "FROM 's3://clickstream-lake/curated/events/_redshift_manifest/dt=2026-03-01.manifest'"
        in copy
    )
    assert copy.endswith("FORMAT AS PARQUET MANIFEST")
    assert "clickstream_dev_spectrum.events_manifest" in sections[0][0]
    (titles,) = [s for comment, s in sections if comment.startswith("Load titles:")]
    assert "MANIFEST" not in titles[2]  # titles stays Parquet
    parsed = sqlglot.parse(redshift_sql(settings), read="redshift", error_level=ErrorLevel.RAISE)
    assert all(p is not None for p in parsed)
