"""Glue catalog: table inputs, partition registration (idempotent), dt discovery on S3."""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
import pytest
from pyspark.sql import SparkSession
from pyspark.sql.types import ArrayType, DecimalType, StringType

from clickstream.aws.glue_catalog import (
    PARQUET_SERDE,
    catalog_tables,
    curated_table_input,
    database_inputs,
    default_projection_start,
    drop_partitions,
    ensure_database,
    ensure_table,
    hive_type,
    lake_first_dates,
    lake_first_raw_hour,
    lake_partitions,
    register_partitions,
    table_matches,
)
from clickstream.catalog import register_tables
from clickstream.config import ConfigError, Settings, load_settings
from clickstream.tables import (
    ALL_TABLES,
    CURATED_TABLES,
    DAILY_ACTIVE_USERS,
    EVENTS,
    QUARANTINE,
    QUARANTINE_TITLES,
    TITLES,
)
from tests.aws.conftest import ISSUE_OVERRIDES


@pytest.fixture
def catalog(settings: Settings, moto: str) -> Any:
    """The curated database and tables on the moto server; returns a Glue client."""
    glue = boto3.client("glue")
    for database in database_inputs(settings):
        ensure_database(glue, database)
    for database, table in catalog_tables(settings):
        ensure_table(glue, database, table)
    return glue


def _partitions(glue: Any, table: str) -> dict[str, dict[str, Any]]:
    found = glue.get_partitions(DatabaseName="clickstream_dev", TableName=table)["Partitions"]
    return {p["Values"][0]: p for p in found}


def test_hive_types() -> None:
    assert [hive_type(f.dataType) for f in EVENTS.schema.fields][:4] == [
        "string",
        "string",
        "string",
        "timestamp",
    ]
    assert hive_type(DecimalType(12, 2)) == "decimal(12,2)"
    with pytest.raises(TypeError, match="array"):
        hive_type(ArrayType(StringType()))


def test_table_inputs_cover_curated_tables_and_quarantine(settings: Settings) -> None:
    managed = catalog_tables(settings)
    curated = [t["Name"] for db, t in managed if db == "clickstream_dev"]
    apart = [t["Name"] for db, t in managed if db == "clickstream_dev_quarantine"]
    raw = [t["Name"] for db, t in managed if db == "clickstream_dev_raw"]
    assert curated == [t.name for t in CURATED_TABLES]
    assert apart == [QUARANTINE.name, QUARANTINE_TITLES.name]
    assert raw == ["raw_clickstream", "ref_titles"]
    quarantine = curated_table_input(settings, QUARANTINE)
    assert (
        quarantine["StorageDescriptor"]["Location"]
        == "s3://clickstream-lake/quarantine/clickstream/"
    )
    assert quarantine["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    rejected_titles = curated_table_input(settings, QUARANTINE_TITLES)
    assert rejected_titles["StorageDescriptor"]["Location"] == (
        "s3://clickstream-lake/quarantine/titles/"
    )
    assert rejected_titles["PartitionKeys"] == []
    titles = curated_table_input(settings, TITLES)
    assert titles["PartitionKeys"] == [] and "storage.location.template" not in titles["Parameters"]
    assert titles["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE


def test_local_lake_is_refused() -> None:
    with pytest.raises(ConfigError, match="lake_root"):
        curated_table_input(load_settings("local"), EVENTS)


def test_table_matches_ignores_bookkeeping_but_not_managed_parameters(settings: Settings) -> None:
    wanted = curated_table_input(settings, EVENTS)
    described = {**wanted, "CreateTime": "now", "VersionId": "3", "DatabaseName": "x"}
    described["StorageDescriptor"] = {**wanted["StorageDescriptor"], "NumberOfBuckets": 0}
    assert table_matches(described, wanted)
    foreign = {**described, "Parameters": {**wanted["Parameters"], "transient_lastDdlTime": "1"}}
    assert table_matches(foreign, wanted)
    stale = {**described, "Parameters": {**wanted["Parameters"], "projection.dt.digits": "2"}}
    assert not table_matches(stale, wanted)
    changed = {**described, "Parameters": {**wanted["Parameters"], "projection.enabled": "false"}}
    assert not table_matches(changed, wanted)
    moved = {**described, "StorageDescriptor": {**described["StorageDescriptor"], "Location": "x"}}
    assert not table_matches(moved, wanted)


def test_register_partitions_creates_each_partition_once(settings: Settings, catalog: Any) -> None:
    assert register_partitions(settings, EVENTS, ["2024-05-02", "2024-05-01", "2024-05-01"]) == 2
    parts = _partitions(catalog, "events")
    assert sorted(parts) == ["2024-05-01", "2024-05-02"]
    sd = parts["2024-05-01"]["StorageDescriptor"]
    assert sd["Location"] == "s3://clickstream-lake/curated/events/dt=2024-05-01/"
    assert sd["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert [c["Name"] for c in sd["Columns"]] == EVENTS.columns

    assert register_partitions(settings, "events", ["2024-05-01", "2024-05-02"]) == 0
    assert register_partitions(settings, "events", ["2024-05-02", "2024-05-03"]) == 1
    assert sorted(_partitions(catalog, "events")) == ["2024-05-01", "2024-05-02", "2024-05-03"]
    assert register_partitions(settings, "events", []) == 0


def test_register_partitions_in_batches_of_100(settings: Settings, catalog: Any) -> None:
    start = dt.date(2024, 1, 1)
    days = [(start + dt.timedelta(days=i)).isoformat() for i in range(250)]
    session = boto3.Session()
    calls: list[str] = []
    session.events.register("before-call", lambda model, **_: calls.append(model.name))
    glue = session.client("glue")
    assert register_partitions(settings, "sessions", days, client=glue) == 250
    assert calls.count("BatchCreatePartition") == 3
    assert len(_partitions(catalog, "sessions")) == 250
    assert register_partitions(settings, "sessions", days, client=glue) == 0
    assert calls.count("BatchCreatePartition") == 3


def test_already_existing_partitions_in_a_race_are_fine(settings: Settings, catalog: Any) -> None:
    class Racing:
        """Reports no partitions, as if another run registered them meanwhile."""

        def __getattr__(self, name: str) -> Any:
            return getattr(catalog, name)

        def batch_get_partition(self, **kwargs: Any) -> dict[str, Any]:
            return {"Partitions": []}

    assert register_partitions(settings, "daily_active_users", ["2024-05-01"]) == 1
    racing = Racing()
    assert register_partitions(settings, "daily_active_users", ["2024-05-01"], client=racing) == 0
    assert register_partitions(settings, "daily_active_users", ["2024-05-02"], client=racing) == 1


@pytest.mark.parametrize("bad", ["2024-5-1", "2024-02-30", "yesterday", "2024-05-01T00:00"])
def test_register_partitions_rejects_bad_dates(settings: Settings, bad: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        register_partitions(settings, EVENTS, [bad], client=object())


def test_register_partitions_rejects_unpartitioned_and_unknown_tables(settings: Settings) -> None:
    with pytest.raises(ValueError, match="not partitioned"):
        register_partitions(settings, TITLES, ["2024-05-01"], client=object())
    with pytest.raises(ValueError, match="unknown table"):
        register_partitions(settings, "nope", ["2024-05-01"], client=object())


def test_lake_partitions_lists_dt_folders(settings: Settings, buckets: list[str]) -> None:
    s3 = boto3.client("s3")
    for key in (
        "curated/events/dt=2024-05-02/part-0.parquet",
        "curated/events/dt=2024-05-01/part-0.parquet",
        "curated/events/dt=2024-05-01/part-1.parquet",
        "curated/events/_SUCCESS",
        "curated/events/dt=garbage/part-0.parquet",
        "curated/sessions/dt=2024-04-30/part-0.parquet",
    ):
        s3.put_object(Bucket="clickstream-lake", Key=key, Body=b"x")
    assert lake_partitions(settings, "events") == ["2024-05-01", "2024-05-02"]
    assert lake_partitions(settings, QUARANTINE) == []


def test_every_table_is_registered_unchanged_on_second_ensure(
    settings: Settings, catalog: Any
) -> None:
    statuses = [ensure_table(catalog, db, table) for db, table in catalog_tables(settings)]
    assert statuses == ["unchanged"] * (len(ALL_TABLES) + 2)
    assert [ensure_database(catalog, d) for d in database_inputs(settings)] == ["unchanged"] * 3


def test_partitions_a_run_emptied_are_dropped_from_the_catalog(
    settings: Settings, catalog: Any
) -> None:
    # GIVEN three registered partitions of events
    register_partitions(settings, EVENTS, ["2024-05-01", "2024-05-02", "2024-05-03"])
    # WHEN a run emptied 2024-05-02 (and names 2024-05-09, never registered)
    assert drop_partitions(settings, EVENTS, ["2024-05-02", "2024-05-09"]) == 1
    # THEN the catalog no longer lists it; dropping again is harmless
    assert sorted(_partitions(catalog, "events")) == ["2024-05-01", "2024-05-03"]
    assert drop_partitions(settings, EVENTS, ["2024-05-02"]) == 0


def test_projection_reaches_past_now_so_the_newest_date_in_any_timezone_is_visible(
    settings: Settings,
) -> None:
    # GIVEN the projection range Athena evaluates with NOW in UTC
    spec = curated_table_input(settings, EVENTS, first_dt="2026-03-01")
    start, end = spec["Parameters"]["projection.dt.range"].split(",")
    # THEN it starts at the lake's first date and ends one day past NOW: at 15:00 UTC it is
    # already tomorrow in Seoul (UTC+9), and no timezone is more than 14 hours ahead of UTC
    assert start == "2026-03-01" and end == "NOW+1DAYS"


def test_projection_of_a_table_without_data_starts_yesterday_in_utc(settings: Settings) -> None:
    # GIVEN no first date (the lake has no data for the table yet)
    spec = curated_table_input(settings, EVENTS)
    # THEN the range starts the day before today in UTC, not years before the lake
    start = spec["Parameters"]["projection.dt.range"].split(",")[0]
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    assert start in (yesterday.isoformat(), default_projection_start())
    assert default_projection_start(dt.date(2026, 3, 1)) == "2026-02-28"


def _events_projected_from(settings: Settings, first_dt: str) -> Any:
    """A Glue client, with the databases deployed and events projected from first_dt."""
    glue = boto3.client("glue")
    for database in database_inputs(settings):
        ensure_database(glue, database)
    ensure_table(glue, settings.database, curated_table_input(settings, EVENTS, first_dt=first_dt))
    return glue


def test_a_run_registering_a_date_before_the_projection_start_moves_the_start_back(
    settings: Settings, moto: str
) -> None:
    # GIVEN events deployed with its projection starting 2026-03-05, and its other parameters
    glue = _events_projected_from(settings, "2026-03-05")
    # WHEN a run registers 2026-03-03 (a late event) and then 2026-03-04
    register_partitions(settings, EVENTS, ["2026-03-03", "2026-03-06"])
    register_partitions(settings, EVENTS, ["2026-03-04"])
    # THEN the projection starts at the earliest registered date, and nothing else changed
    found = glue.get_table(DatabaseName=settings.database, Name="events")["Table"]
    assert found["Parameters"]["projection.dt.range"] == "2026-03-03,NOW+1DAYS"
    assert table_matches(found, curated_table_input(settings, EVENTS, first_dt="2026-03-03"))
    assert sorted(_partitions(glue, "events")) == ["2026-03-03", "2026-03-04", "2026-03-06"]


def test_deploy_keeps_an_existing_projection_start_when_the_lake_has_no_data_for_it(
    settings: Settings, moto: str
) -> None:
    # GIVEN events whose projection a run moved back to 2026-03-03
    glue = boto3.client("glue")
    for database in database_inputs(settings):
        ensure_database(glue, database)
    ensure_table(
        glue, settings.database, curated_table_input(settings, EVENTS, first_dt="2026-03-03")
    )
    # WHEN deploy ensures the definition it makes without data (start: yesterday)
    status = ensure_table(
        glue, settings.database, curated_table_input(settings, EVENTS), keep_projection_start=True
    )
    # THEN the table is unchanged: the start stays the lake's
    found = glue.get_table(DatabaseName=settings.database, Name="events")["Table"]
    assert status == "unchanged"
    assert found["Parameters"]["projection.dt.range"] == "2026-03-03,NOW+1DAYS"


def test_lake_first_dates_and_raw_hour_come_from_the_folders_on_s3(
    settings: Settings, moto: str
) -> None:
    # GIVEN a lake with events on two dates, sessions on one, raw objects in two hours
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="clickstream-lake")
    for key in (
        "curated/events/dt=2026-03-02/part-0.parquet",
        "curated/events/dt=2026-02-27/part-0.parquet",
        "curated/sessions/dt=2026-03-01/part-0.parquet",
        "raw/clickstream/2026/03/01/07/clickstream-1-2026-03-01-07-00-00-x",
        "raw/clickstream/2026/02/28/23/clickstream-1-2026-02-28-23-00-00-x",
        "raw/clickstream/notes.txt",
    ):
        s3.put_object(Bucket="clickstream-lake", Key=key, Body=b"x")
    # THEN deploy dates each projection from them; tables without data are left out
    assert lake_first_dates(settings) == {"events": "2026-02-27", "sessions": "2026-03-01"}
    assert lake_first_raw_hour(settings) == "2026/02/28/23"
    raw = {t["Name"]: t for _, t in catalog_tables(settings, first_raw_hour="2026/02/28/23")}
    parameters = raw["raw_clickstream"]["Parameters"]
    assert parameters["projection.datehour.range"] == "2026/02/28/23,NOW"
    assert parameters["storage.location.template"] == (
        "s3://clickstream-lake/raw/clickstream/${datehour}/"
    )


def test_new_columns_reach_the_glue_table_and_every_partition(
    settings: Settings, catalog: Any
) -> None:
    # GIVEN daily_active_users registered in Glue with three partitions of its old columns
    old = [{"Name": "active_users", "Type": "bigint"}, {"Name": "events", "Type": "bigint"}]
    wanted = curated_table_input(settings, DAILY_ACTIVE_USERS)
    before = {**wanted, "StorageDescriptor": {**wanted["StorageDescriptor"], "Columns": old}}
    catalog.update_table(DatabaseName="clickstream_dev", TableInput=before)
    days = ["2024-05-01", "2024-05-02", "2024-05-03"]
    assert register_partitions(settings, DAILY_ACTIVE_USERS, days) == 3
    assert (
        _partitions(catalog, "daily_active_users")["2024-05-01"]["StorageDescriptor"]["Columns"]
        == old
    )
    # WHEN the table is ensured with its current columns (as each run and deploy do)
    assert ensure_table(catalog, "clickstream_dev", wanted) == "updated"
    # THEN the table and every partition have the new columns, locations kept
    table = catalog.get_table(DatabaseName="clickstream_dev", Name="daily_active_users")["Table"]
    columns = table["StorageDescriptor"]["Columns"]
    assert [c["Name"] for c in columns] == DAILY_ACTIVE_USERS.columns
    for dt_value, part in _partitions(catalog, "daily_active_users").items():
        assert part["StorageDescriptor"]["Columns"] == columns, dt_value
        assert part["StorageDescriptor"]["Location"].endswith(f"/dt={dt_value}/")
    # ... and a second ensure changes nothing
    assert ensure_table(catalog, "clickstream_dev", wanted) == "unchanged"


def test_a_run_with_a_new_promoted_field_gives_the_glue_table_and_its_partitions_the_column(
    spark: SparkSession, settings: Settings, catalog: Any
) -> None:
    # GIVEN events registered with two partitions by runs without promoted fields, and a
    # definition that drifted from deploy's (projection off)
    register_tables(spark, settings, (EVENTS,), {EVENTS.name: ["2026-03-01", "2026-03-02"]})
    table = catalog.get_table(DatabaseName="clickstream_dev", Name="events")["Table"]
    drifted = {k: table[k] for k in ("Name", "TableType", "StorageDescriptor", "PartitionKeys")}
    drifted["Parameters"] = {**table["Parameters"], "projection.enabled": "false"}
    catalog.update_table(DatabaseName="clickstream_dev", TableInput=drifted)
    # WHEN a run with duration_ms promoted registers a new date
    promoted = load_settings("dev", [*ISSUE_OVERRIDES, "promoted_fields.duration_ms=long"])
    register_tables(spark, promoted, (EVENTS,), {EVENTS.name: ["2026-03-03"]})
    # THEN the table and every partition, old and new, end with the column (no
    # HIVE_PARTITION_SCHEMA_MISMATCH in Athena or Spectrum); the rest of the definition is kept
    table = catalog.get_table(DatabaseName="clickstream_dev", Name="events")["Table"]
    columns = table["StorageDescriptor"]["Columns"]
    assert columns[-2:] == [
        {"Name": "properties", "Type": "string"},
        {"Name": "duration_ms", "Type": "bigint"},
    ]
    parts = _partitions(catalog, "events")
    assert sorted(parts) == ["2026-03-01", "2026-03-02", "2026-03-03"]
    for dt_value, part in parts.items():
        assert part["StorageDescriptor"]["Columns"] == columns, dt_value
        assert part["StorageDescriptor"]["Location"].endswith(f"/dt={dt_value}/")
    assert table["Parameters"]["projection.enabled"] == "false"


def test_partition_keys_glue_leaves_unprocessed_are_asked_again_with_backoff(
    settings: Settings, catalog: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import clickstream.aws.glue_catalog as glue_catalog

    register_partitions(settings, "sessions", ["2024-05-01", "2024-05-02"])
    session = boto3.Session()
    throttled = [2]  # the next two answers leave every key unprocessed, as a throttled Glue does

    def throttle(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "BatchGetPartition" and throttled[0]:
            throttled[0] -= 1
            keys = [{"Values": p["Values"]} for p in parsed.get("Partitions", [])]
            parsed["UnprocessedKeys"], parsed["Partitions"] = keys, []

    session.events.register("after-call.glue.BatchGetPartition", throttle)
    slept: list[float] = []
    monkeypatch.setattr(glue_catalog, "sleep", slept.append)
    # GIVEN a Glue that leaves the keys of two BatchGetPartition answers unprocessed
    # WHEN the same partitions are registered again
    created = register_partitions(
        settings, "sessions", ["2024-05-01", "2024-05-02"], client=session.client("glue")
    )
    # THEN they are found on the third ask (none created twice), after two growing backoffs
    assert created == 0 and throttled == [0]
    assert len(slept) == 2 and slept[0] < slept[1] * 2 and all(s > 0 for s in slept)


def test_every_aws_client_shares_one_retry_and_timeout_configuration(settings: Settings) -> None:
    from clickstream.aws import client
    from clickstream.aws_clients import MAX_ATTEMPTS, aws_client
    from clickstream.state_store import S3Store

    # GIVEN the tooling's, the state store's and a plain product client
    clients = [client("glue", settings), S3Store("s3://b/p").client, aws_client("secretsmanager")]
    for made in clients:
        config = made.meta.config
        # THEN each retries in standard mode and times out instead of hanging
        assert config.retries == {"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}
        assert (config.connect_timeout, config.read_timeout) == (10, 60)


def test_a_role_that_may_not_move_the_projection_back_fails_naming_the_permission(
    settings: Settings, moto: str
) -> None:
    # GIVEN events projected from 2026-03-05 and a run role without glue:UpdateTable
    from botocore.exceptions import ClientError

    from clickstream.aws.glue_catalog import CatalogAccessError

    glue = _events_projected_from(settings, "2026-03-05")

    def deny_updates(model: Any, **_: Any) -> None:
        if model.name == "UpdateTable":
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "x")

    glue.meta.events.register("before-call.glue", deny_updates)
    # WHEN the run registers a late date before the start
    with pytest.raises(CatalogAccessError) as raised:
        register_partitions(settings, EVENTS, ["2026-03-03"], client=glue)
    # THEN it fails in one line naming the permission and deploy, after registering the partition
    message = str(raised.value)
    assert "glue:UpdateTable" in message and "clickstream deploy --env dev" in message
    assert "dt=2026-03-03" in message and "\n" not in message
    assert list(_partitions(glue, "events")) == ["2026-03-03"]
