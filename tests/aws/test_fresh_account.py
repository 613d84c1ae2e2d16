"""A run with catalog=glue on an account where deploy never ran (moto over HTTP, no deploy)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from pyspark.sql import SparkSession

from clickstream.aws.glue_catalog import (
    CatalogAccessError,
    curated_table_input,
    database_inputs,
    table_matches,
)
from clickstream.catalog import register_tables
from clickstream.config import Settings
from clickstream.tables import EVENTS, QUARANTINE, TITLES

MUTATING_PREFIXES = ("Create", "Update", "Put", "Delete", "BatchCreate")


def _session_recording(calls: list[str]) -> boto3.Session:
    session = boto3.session.Session()
    session.events.register("before-call", lambda model, **_: calls.append(model.name))
    return session


def test_first_run_creates_the_database_and_tables_it_writes_as_deploy_defines_them(
    spark: SparkSession, settings: Settings, moto: str
) -> None:
    # GIVEN an account with no Glue database at all
    glue = boto3.client("glue")
    assert glue.get_databases()["DatabaseList"] == []
    # WHEN a run registers what curate_events wrote
    written = {EVENTS.name: ["2026-03-01", "2026-03-02"], QUARANTINE.name: ["2026-03-01"]}
    register_tables(spark, settings, (EVENTS, QUARANTINE), written)
    # THEN the curated and quarantine databases and both tables exist with deploy's definitions
    for name in ("clickstream_dev", "clickstream_dev_quarantine"):
        database = glue.get_database(Name=name)["Database"]
        wanted_db = next(d for d in database_inputs(settings) if d["Name"] == name)
        assert database["LocationUri"] == wanted_db["LocationUri"]
    for table in (EVENTS, QUARANTINE):
        database = settings.database_of(table.name)
        found = glue.get_table(DatabaseName=database, Name=table.name)["Table"]
        # (the projection starts at the first date the run registered)
        wanted = curated_table_input(settings, table, first_dt="2026-03-01")
        assert table_matches(found, wanted), table.name
    # AND the partitions are registered
    parts = glue.get_partitions(DatabaseName="clickstream_dev", TableName="events")["Partitions"]
    assert sorted(p["Values"][0] for p in parts) == ["2026-03-01", "2026-03-02"]
    # AND only the tables the run wrote were created, quarantine apart from the curated
    names = {t["Name"] for t in glue.get_tables(DatabaseName="clickstream_dev")["TableList"]}
    assert names == {EVENTS.name}
    apart = glue.get_tables(DatabaseName="clickstream_dev_quarantine")["TableList"]
    assert {t["Name"] for t in apart} == {QUARANTINE.name}
    parts = glue.get_partitions(
        DatabaseName="clickstream_dev_quarantine", TableName=QUARANTINE.name
    )
    assert [p["Values"][0] for p in parts["Partitions"]] == ["2026-03-01"]


def test_a_repeated_run_creates_nothing(
    spark: SparkSession, settings: Settings, moto: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a first run created the catalog objects
    register_tables(spark, settings, (TITLES, EVENTS), {EVENTS.name: ["2026-03-01"]})
    calls: list[str] = []
    monkeypatch.setattr(boto3, "Session", lambda: _session_recording(calls))
    # WHEN the same run is repeated THEN it reads and changes nothing
    register_tables(spark, settings, (TITLES, EVENTS), {EVENTS.name: ["2026-03-01"]})
    assert {"GetDatabase", "GetTable"} <= set(calls)
    assert [c for c in calls if c.startswith(MUTATING_PREFIXES)] == []


def test_existing_definitions_are_left_to_deploy(
    spark: SparkSession, settings: Settings, moto: str
) -> None:
    # GIVEN the events table exists with a definition that differs from deploy's
    register_tables(spark, settings, (EVENTS,), {})
    glue = boto3.client("glue")
    table = glue.get_table(DatabaseName="clickstream_dev", Name="events")["Table"]
    drifted = {k: table[k] for k in ("Name", "TableType", "StorageDescriptor", "PartitionKeys")}
    drifted["Parameters"] = {**table["Parameters"], "projection.enabled": "false"}
    glue.update_table(DatabaseName="clickstream_dev", TableInput=drifted)
    # WHEN a run registers partitions THEN it does not rewrite the definition (deploy does)
    register_tables(spark, settings, (EVENTS,), {EVENTS.name: ["2026-03-01"]})
    table = glue.get_table(DatabaseName="clickstream_dev", Name="events")["Table"]
    assert table["Parameters"]["projection.enabled"] == "false"


def _deny_creates(model: Any, **_: Any) -> None:
    """AWS's answer to a role without glue:Create* permissions."""
    if model.name.startswith("Create"):
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}, model.name
        )


def test_a_role_that_may_not_create_fails_in_one_line_naming_deploy(
    spark: SparkSession, settings: Settings, moto: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a fresh account and a run role without glue:CreateDatabase
    def denied_session() -> boto3.Session:
        session = boto3.session.Session()
        session.events.register("before-call.glue", _deny_creates)
        return session

    monkeypatch.setattr(boto3, "Session", denied_session)
    # WHEN the run registers its tables THEN it fails naming clickstream deploy, in one line
    with pytest.raises(CatalogAccessError) as raised:
        register_tables(spark, settings, (EVENTS,), {EVENTS.name: ["2026-03-01"]})
    message = str(raised.value)
    assert "clickstream deploy --env dev" in message and "clickstream_dev" in message
    assert "\n" not in message and raised.value.__cause__ is None
