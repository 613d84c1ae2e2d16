"""The query-engine tier: Trino (Athena's engine) reads the lakes the project wrote on moto.

One Trino server, one lake per table format (tests/trino/conftest.py), read the ways AWS reads
them: Athena through partition projection (`athena`) and natively for Delta (`delta`), Redshift
Spectrum and EMR through the registered Glue partitions (`spectrum`, and `delta_spectrum` for the
Delta tables' `_manifest` symlink tables). Every answer is held to an independent reader: Spark
for Parquet files, delta-rs for Delta tables. All tests here share the server and the lakes: one
module, so one pytest-xdist worker runs them (--dist loadfile).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, timedelta
from functools import cache
from typing import Any

import boto3
import pytest
import sqlglot
from chispa import DataFramesNotEqualError
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType, TimestampType
from sqlglot import exp

from clickstream.aws.glue_catalog import PARQUET_INPUT, PARQUET_OUTPUT, PARQUET_SERDE
from clickstream.aws.redshift import redshift_statements
from clickstream.tables import (
    ALL_TABLES,
    CURATED_TABLES,
    DELTA_CAPABLE,
    DQ_RESULTS,
    EVENTS,
    PARTITION_COLUMN,
    TITLES_HISTORY,
    Table,
    all_tables,
)
from clickstream.writer import format_of, read_table, table_schema
from tests.delta_rs import read_delta
from tests.trino.conftest import Tier
from tests.trino.lake import (
    DATABASE,
    EXTRA_EVENTS,
    EXTRA_INGESTED_AT,
    EXTRA_INSTANTS,
    FIRST_DATE,
    RAW_DATABASE,
    Lake,
    raw_lines,
)
from tests.trino.readme_sql import Example, readme_examples
from tests.trino.server import quoted

pytestmark = pytest.mark.slow

# Which catalog answers Athena's SQL for each format (Athena reads Delta natively).
ATHENA = {"parquet": "athena", "delta": "delta_athena"}


def _views() -> Iterator[tuple[str, str, str, str]]:
    """(format, catalog, catalog table, table) for every way AWS reads every table."""
    for table in ALL_TABLES:
        name = table.name
        yield "parquet", "athena", name, name
        yield "parquet", "spectrum", name, name
        if name in DELTA_CAPABLE:
            yield "delta", "delta", name, name
            yield "delta", "delta_spectrum", f"{name}_manifest", name
        else:  # titles, titles_history, quarantine_titles stay Parquet in a Delta lake
            yield "delta", "delta_spectrum", name, name


VIEWS = list(_views())


# --- reading both sides ----------------------------------------------------------------------


def _table(lake: Lake, name: str) -> Table:
    """The lake's table definition (events with the lake's promoted columns)."""
    return next(t for t in all_tables(lake.settings.promoted_fields) if t.name == name)


def _with_utc(value: Any, field: StructField) -> Any:
    """A Trino value as make_frame takes it: timestamps time-zone-aware in UTC."""
    if value is None or not isinstance(field.dataType, TimestampType):
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def trino_frame(
    tier: Tier,
    make_frame: Callable[..., DataFrame],
    catalog: str,
    sql: str,
    schema: StructType,
    session: dict[str, str] | None = None,
) -> DataFrame:
    """The rows Trino returns for sql, as a frame in schema (columns in schema order)."""
    rows = tier.trino.rows(sql, catalog=catalog, schema=DATABASE, session=session)
    return make_frame(
        [tuple(_with_utc(v, f) for v, f in zip(row, schema.fields, strict=True)) for row in rows],
        schema,
    )


_EXPECTED: dict[tuple[str, str], DataFrame] = {}


def expected_frame(
    spark: SparkSession, make_frame: Callable[..., DataFrame], lake: Lake, table: Table
) -> DataFrame:
    """The table as an independent reader reads it: delta-rs for a Delta table, Spark's
    read_table for Parquet (made once per lake and table)."""
    key = (lake.table_format, table.name)
    if key not in _EXPECTED:
        if format_of(table, lake.table_format) == "delta":
            uri = lake.settings.path(table.location)
            frame = read_delta(make_frame, uri, table, lake.endpoint)
        else:
            frame = read_table(spark, lake.root, table)
        _EXPECTED[key] = frame.localCheckpoint()
    return _EXPECTED[key]


def assert_reads_as_expected(
    tier: Tier,
    spark: SparkSession,
    make_frame: Callable[..., DataFrame],
    assert_frames_equal: Callable[..., None],
    table_format: str,
    catalog: str,
    catalog_table: str,
    name: str,
) -> None:
    """Every row of a catalog table, read by Trino, equals the independent reader's rows."""
    lake = tier.lakes[table_format]
    table = _table(lake, name)
    schema = table_schema(table)
    # (quarantine tables sit in their own database: quarantine_database)
    where = f"{lake.settings.database_of(catalog_table)}.{catalog_table}"
    actual = trino_frame(
        tier, make_frame, catalog, f"SELECT {quoted(schema.names)} FROM {where}", schema
    )
    assert_frames_equal(actual, expected_frame(spark, make_frame, lake, table))


@pytest.mark.parametrize(("table_format", "catalog", "catalog_table", "name"), VIEWS)
def test_every_table_reads_in_trino_as_an_independent_reader_reads_it(
    tier: Tier,
    spark: SparkSession,
    make_frame: Callable[..., DataFrame],
    assert_frames_equal: Callable[..., None],
    table_format: str,
    catalog: str,
    catalog_table: str,
    name: str,
) -> None:
    # GIVEN a lake written by two runs (the second with promoted fields and rewritten dates),
    # registered in Glue by the project, read by Trino through one way AWS reads it
    # WHEN Trino reads every row and column (the timestamps at Athena's millisecond precision)
    # THEN it reads the independent reader's rows: per date, the same rows, counts and values
    assert_reads_as_expected(
        tier,
        spark,
        make_frame,
        assert_frames_equal,
        table_format,
        catalog,
        catalog_table,
        name,
    )


def test_a_dropped_glue_partition_hides_its_date_from_spectrum_and_the_tier_fails(
    tier: Tier,
    spark: SparkSession,
    make_frame: Callable[..., DataFrame],
    assert_frames_equal: Callable[..., None],
) -> None:
    # GIVEN the Parquet lake's events, and the Glue partition of one of its dates dropped
    lake = tier.lakes["parquet"]
    glue = _glue(lake)
    key = {"DatabaseName": DATABASE, "TableName": EVENTS.name, "PartitionValues": ["2026-03-02"]}
    partition = glue.get_partition(**key)["Partition"]
    glue.delete_partition(**key)
    try:
        # WHEN the registered partitions are read (Spectrum, EMR), THEN the check fails
        with pytest.raises(DataFramesNotEqualError):
            assert_reads_as_expected(
                tier,
                spark,
                make_frame,
                assert_frames_equal,
                "parquet",
                "spectrum",
                "events",
                "events",
            )
        # AND Athena's projection, which needs no partitions, still reads the date
        assert_reads_as_expected(
            tier, spark, make_frame, assert_frames_equal, "parquet", "athena", "events", "events"
        )
    finally:
        glue.create_partition(
            DatabaseName=DATABASE,
            TableName=EVENTS.name,
            PartitionInput={
                k: partition[k]
                for k in ("Values", "StorageDescriptor", "Parameters")
                if k in partition
            },
        )
    assert_reads_as_expected(
        tier, spark, make_frame, assert_frames_equal, "parquet", "spectrum", "events", "events"
    )


# --- what the issue asks Trino, one rule a test -------------------------------------------------


@cache
def _rows(table_format: str, name: str) -> list[dict[str, Any]]:
    """Collected expected rows of a table (as dicts), for the checks computed in Python."""
    frame = _EXPECTED[(table_format, name)]
    return [row.asDict() for row in frame.collect()]


@pytest.fixture
def expected_rows(
    tier: Tier, spark: SparkSession, make_frame: Callable[..., DataFrame]
) -> Callable[[str, str], list[dict[str, Any]]]:
    """expected_rows(format, table): the independent reader's rows as dicts."""

    def rows(table_format: str, name: str) -> list[dict[str, Any]]:
        lake = tier.lakes[table_format]
        if name == "raw_clickstream":  # lines per hour folder, counted from the objects
            return [{"datehour": h, "lines": n} for h, n in raw_lines(lake.sample).items()]
        expected_frame(spark, make_frame, lake, _table(lake, name))
        return _rows(table_format, name)

    return rows


def _json_scalar(text: str | None, *path: str) -> str | None:
    """What json_extract_scalar(text, '$.a.b') returns: a scalar's JSON text, strings unquoted."""
    if text is None:
        return None
    value: Any = json.loads(text)
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


@pytest.mark.parametrize("table_format", ["parquet", "delta"])
def test_events_properties_read_through_json_extract_scalar(
    tier: Tier, expected_rows: Callable[[str, str], list[dict[str, Any]]], table_format: str
) -> None:
    # GIVEN events whose properties hold the sample's device, query and nested context.page
    expected = {
        r["event_id"]: (
            _json_scalar(r["properties"], "device"),
            _json_scalar(r["properties"], "context", "page"),
            _json_scalar(r["properties"], "context", "row"),
            _json_scalar(r["properties"], "query"),
        )
        for r in expected_rows(table_format, "events")
    }
    # WHEN Athena's JSON functions read them
    rows = tier.trino.rows(
        "SELECT event_id, json_extract_scalar(properties, '$.device'), "
        "json_extract_scalar(properties, '$.context.page'), "
        "json_extract_scalar(properties, '$.context.row'), "
        "json_extract_scalar(properties, '$.query') FROM events",
        catalog=ATHENA[table_format],
        schema=DATABASE,
    )
    # THEN every event's values are those of its JSON text, nested ones included
    assert {r[0]: tuple(r[1:]) for r in rows} == expected
    assert sum(1 for v in expected.values() if v[1] is not None) > 10
    assert expected["tier-play-1"] == ("tv", "home", "2", None)


@pytest.mark.parametrize(
    "catalog", ["athena", "spectrum", "delta", "delta_athena", "delta_spectrum"]
)
def test_timestamps_read_as_the_instants_the_records_named(tier: Tier, catalog: str) -> None:
    # GIVEN events sent with a +09:00 offset, as epoch milliseconds and in UTC with milliseconds
    table = "events_manifest" if catalog == "delta_spectrum" else "events"
    # WHEN Trino reads their event_time and ingested_at (the object's name time)
    rows = tier.trino.rows(
        f"SELECT event_id, to_unixtime(event_time), to_unixtime(ingested_at), typeof(event_time)"
        f" FROM {table} WHERE event_id LIKE 'tier-play-%'",
        catalog=catalog,
        schema=DATABASE,
    )
    # THEN each is a timestamp at the instant sent, to the millisecond, with no zone shift
    found = {r[0]: r[1:] for r in rows}
    assert set(found) == set(EXTRA_INSTANTS)
    for event_id, instant in EXTRA_INSTANTS.items():
        event_time, ingested_at, kind = found[event_id]
        assert kind.startswith("timestamp(3)")
        assert round(event_time * 1000) == round(instant.timestamp() * 1000), event_id
        assert ingested_at == EXTRA_INGESTED_AT.timestamp()


@pytest.mark.parametrize(
    ("table_format", "catalog", "table"),
    [
        ("parquet", "athena", "events"),
        ("parquet", "spectrum", "events"),
        ("delta", "delta", "events"),
        ("delta", "delta_spectrum", "events_manifest"),
    ],
)
def test_a_dt_condition_reads_only_that_dates_partition(
    tier: Tier,
    expected_rows: Callable[[str, str], list[dict[str, Any]]],
    table_format: str,
    catalog: str,
    table: str,
) -> None:
    # GIVEN events on several dates
    dates = Counter(r["dt"] for r in expected_rows(table_format, "events"))
    assert len(dates) > 1
    # WHEN one date is counted with dt = '...'
    rows = tier.trino.rows(
        f"SELECT count(*) FROM {table} WHERE dt = '{FIRST_DATE}'", catalog=catalog, schema=DATABASE
    )
    stats = tier.trino.last_stats
    # THEN the count is right, and Trino read only that date's rows: the others were pruned
    assert rows == [(dates[FIRST_DATE],)]
    assert stats["processedRows"] == dates[FIRST_DATE] < sum(dates.values())


@pytest.mark.parametrize(
    ("table_format", "table"), [("parquet", "events"), ("delta", "events_manifest")]
)
def test_the_second_run_gave_the_table_and_every_partition_the_promoted_columns(
    tier: Tier, table_format: str, table: str
) -> None:
    # GIVEN a first run without promoted fields, and a second that added two
    lake = tier.lakes[table_format]
    glue = _glue(lake)
    described = glue.get_table(DatabaseName=DATABASE, Name=table)["Table"]
    columns = [(c["Name"], c["Type"]) for c in described["StorageDescriptor"]["Columns"]]
    # THEN the table ends with the promoted columns, and every partition has the table's columns
    assert columns[-2:] == [("app_version", "string"), ("duration_ms", "bigint")]
    partitions = glue.get_partitions(DatabaseName=DATABASE, TableName=table)["Partitions"]
    assert len(partitions) >= 2
    for part in partitions:
        assert [(c["Name"], c["Type"]) for c in part["StorageDescriptor"]["Columns"]] == columns
    # AND the registered partitions read without HIVE_PARTITION_SCHEMA_MISMATCH, the old dates'
    # rows with null promoted columns, the second run's with values
    catalog = "spectrum" if table_format == "parquet" else "delta_spectrum"
    rows = tier.trino.rows(
        f"SELECT count(*), count(duration_ms), sum(duration_ms) FROM {table} WHERE dt = '{FIRST_DATE}'",
        catalog=catalog,
        schema=DATABASE,
    )
    assert rows == [(rows[0][0], len(EXTRA_EVENTS), 1500 + 2500 + 3500)]


def test_a_partition_with_another_column_type_fails_as_athena_would(tier: Tier) -> None:
    # GIVEN one partition of events whose duration_ms is a timestamp (the table's is a bigint)
    glue = _glue(tier.lakes["parquet"])
    where = {"DatabaseName": DATABASE, "TableName": "events"}
    partition = glue.get_partition(**where, PartitionValues=[FIRST_DATE])["Partition"]
    storage = partition["StorageDescriptor"]
    columns = [
        {**c, "Type": "timestamp"} if c["Name"] == "duration_ms" else c for c in storage["Columns"]
    ]

    def update(descriptor: dict[str, Any]) -> None:
        glue.update_partition(
            **where,
            PartitionValueList=[FIRST_DATE],
            PartitionInput={"Values": [FIRST_DATE], "StorageDescriptor": descriptor},
        )

    update({**storage, "Columns": columns})
    try:
        # WHEN the registered partitions are read, THEN Trino refuses, as Athena and Spectrum do
        with pytest.raises(Exception, match="HIVE_PARTITION_SCHEMA_MISMATCH"):
            tier.trino.rows(
                f"SELECT sum(duration_ms) FROM events WHERE dt = '{FIRST_DATE}'",
                catalog="spectrum",
                schema=DATABASE,
            )
    finally:
        update(storage)


def test_the_second_run_rewrote_a_date_the_first_wrote(
    tier: Tier, expected_rows: Callable[[str, str], list[dict[str, Any]]]
) -> None:
    # GIVEN the first run wrote 2026-03-01, and late plays of that date came with the second
    for table_format in ("parquet", "delta"):
        lake = tier.lakes[table_format]
        assert FIRST_DATE in lake.first_run_dates
        # THEN both runs curated records, and the date holds the late plays (read by Trino)
        assert [s["totals"]["records_read"] > 0 for s in lake.summaries] == [True, True]
        rows = tier.trino.rows(
            f"SELECT event_id FROM events WHERE dt = '{FIRST_DATE}' AND event_id LIKE 'tier-%'",
            catalog=ATHENA[table_format],
            schema=DATABASE,
        )
        assert sorted(r[0] for r in rows) == sorted(e["event_id"] for e in EXTRA_EVENTS)


def test_titles_history_times_are_whole_milliseconds_so_athena_reads_them_exactly(
    tier: Tier, expected_rows: Callable[[str, str], list[dict[str, Any]]]
) -> None:
    # GIVEN titles_history from the CSV source (versions dated by the run that read them)
    rows = expected_rows("parquet", TITLES_HISTORY.name)
    assert rows
    # THEN valid_from and valid_to hold no microseconds, which Athena would round away
    times = [r[c] for r in rows for c in ("valid_from", "valid_to") if r[c] is not None]
    assert times and all(t.microsecond % 1000 == 0 for t in times)


def _glue(lake: Lake) -> Any:
    """A Glue client on the lake's own moto server."""
    return boto3.client(
        "glue",
        endpoint_url=lake.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


# --- partition projection and the raw table ----------------------------------------------------


@pytest.mark.parametrize("table_format", ["parquet", "delta"])
def test_every_projection_starts_at_the_lakes_first_date(
    tier: Tier, expected_rows: Callable[[str, str], list[dict[str, Any]]], table_format: str
) -> None:
    # GIVEN a lake whose first date is 2026-03-01, deployed before its first run
    lake = tier.lakes[table_format]
    assert min(r["dt"] for r in expected_rows(table_format, "events")) == FIRST_DATE
    glue = _glue(lake)
    starts = {}
    for table in glue.get_tables(DatabaseName=DATABASE)["TableList"]:
        value = (table.get("Parameters") or {}).get("projection.dt.range")
        if value:
            starts[table["Name"]] = value.split(",")[0]
    # THEN every projected table starts there (not years before: Athena lists every date), but
    # dq_results, whose dates are those its runs were judged on (today's, in a test)
    judged = starts.pop(DQ_RESULTS.name)
    assert starts and set(starts.values()) == {FIRST_DATE}, starts
    assert judged <= min(r["dt"] for r in expected_rows(table_format, DQ_RESULTS.name))
    raw = glue.get_table(DatabaseName=RAW_DATABASE, Name="raw_clickstream")["Table"]
    first_hour = min(raw_lines(lake.sample))
    assert raw["Parameters"]["projection.datehour.range"].split(",")[0] == first_hour


def test_raw_clickstream_reads_every_hour_folder_through_projection(tier: Tier) -> None:
    # GIVEN the raw zone: Firehose objects in YYYY/MM/DD/HH folders, some gzip, some empty
    lines = raw_lines(tier.lakes["parquet"].sample)
    # WHEN deploy's raw_clickstream table is read in Athena's way (projection by hour folder)
    rows = tier.trino.rows(
        "SELECT datehour, count(*) FROM raw_clickstream GROUP BY 1",
        catalog="athena",
        schema=RAW_DATABASE,
    )
    # THEN every hour's lines are read (gzip ones decompressed), and an hour condition prunes
    assert dict(rows) == {h: n for h, n in lines.items() if n}
    hour = max(lines, key=lambda h: lines[h])
    one = tier.trino.rows(
        f"SELECT count(*) FROM raw_clickstream WHERE datehour = '{hour}'",
        catalog="athena",
        schema=RAW_DATABASE,
    )
    assert one == [(lines[hour],)] and tier.trino.last_stats["processedRows"] == lines[hour]


# --- the README's SQL, as written --------------------------------------------------------------


def _round(value: float, digits: int) -> float:
    """Trino's round(double, d): half away from zero (Java's Math.round on value * 10^d)."""
    factor = 10.0**digits
    return math.copysign(math.floor(abs(value) * factor + 0.5) / factor, value)


def _week(day: str) -> date:
    """date_trunc('week', date(dt)): the Monday of the ISO week."""
    d = date.fromisoformat(day)
    return d - timedelta(days=d.weekday())


def _within_rank(values: list[int], quantile: float, got: int | None, error: float = 0.01) -> bool:
    """Whether got is a value approx_percentile may return: its rank within `error` (Trino's
    default accuracy) of the quantile's, one row either side for small groups."""
    values = sorted(values)
    if not values:
        return got is None
    if got not in values:
        return False
    n = len(values)
    lo = values.index(got)
    hi = n - 1 - values[::-1].index(got)
    target = quantile * (n - 1)
    slack = error * n + 1
    return lo - slack <= target <= hi + slack


def _events_on(rows: list[dict[str, Any]], day: str) -> list[dict[str, Any]]:
    """The events of one date."""
    return [r for r in rows if r["dt"] == day]


def _expect_properties(data: Callable[[str], list[dict[str, Any]]]) -> list[tuple[Any, ...]]:
    """events.properties example: events per (device, context.page) on 2026-03-01."""
    counts = Counter(
        (_json_scalar(r["properties"], "device"), _json_scalar(r["properties"], "context", "page"))
        for r in _events_on(data("events"), "2026-03-01")
    )
    return [(*key, n) for key, n in counts.items()]


def _expect_promoted(data: Callable[[str], list[dict[str, Any]]]) -> list[tuple[Any, ...]]:
    """Promoted-field example: plays and durations per app_version on 2026-03-01."""
    plays: dict[str | None, list[int | None]] = {}
    for r in _events_on(data("events"), "2026-03-01"):
        if r["event_type"] == "play":
            plays.setdefault(r["app_version"], []).append(r["duration_ms"])
    return [(version, len(d), d) for version, d in plays.items()]


def _expect_returning(data: Callable[[str], list[dict[str, Any]]]) -> list[tuple[Any, ...]]:
    """New and returning users from 2026-03-01, the share of returning ones in percent."""
    return [
        (
            r["dt"],
            r["new_users"],
            r["returning_users"],
            _round(100 * float(r["returning_users"]) / r["active_users"], 1),
        )
        for r in sorted(data("daily_active_users"), key=lambda r: r["dt"])
        if r["dt"] >= "2026-03-01"
    ]


def _expect_stickiness(data: Callable[[str], list[dict[str, Any]]]) -> list[tuple[Any, ...]]:
    """7- and 28-day actives from 2026-03-01 and DAU over 28-day actives, to 3 places."""
    return [
        (
            r["dt"],
            r["active_users"],
            r["active_users_7d"],
            r["active_users_28d"],
            _round(float(r["active_users"]) / r["active_users_28d"], 3),
        )
        for r in sorted(data("daily_active_users"), key=lambda r: r["dt"])
        if r["dt"] >= "2026-03-01"
    ]


def _expect_first_seen(data: Callable[[str], list[dict[str, Any]]]) -> list[tuple[Any, ...]]:
    """Users first seen per week (Monday) from 2026-03-01."""
    weeks = Counter(_week(r["dt"]) for r in data("users") if r["dt"] >= "2026-03-01")
    return sorted(weeks.items())


def _expect_raw_hour(data: Callable[[str], list[dict[str, Any]]]) -> list[tuple[Any, ...]]:
    """The raw example: lines of the hour folder 2026/03/01/12."""
    return [(r["lines"],) for r in data("raw_clickstream") if r["datehour"] == "2026/03/01/12"]


# The README's examples by title (the first comment line), and the rows each must return,
# computed from the independent reader's rows. (expected, ordered)
EXPECTED = {
    "events.properties: nested fields with Athena's JSON functions": (_expect_properties, False),
    "a promoted field (promoted_fields.app_version=string, duration_ms=long) is a plain column": (
        _expect_promoted,
        False,
    ),
    "new and returning users": (_expect_returning, True),
    "weekly and monthly actives (7 and 28 calendar days ending on dt), and stickiness": (
        _expect_stickiness,
        True,
    ),
    "users first seen per week, from the users table": (_expect_first_seen, True),
    "the raw Firehose lines of one hour (deploy's raw_clickstream, one partition per hour folder)": (
        _expect_raw_hour,
        True,
    ),
}


def check_example(
    tier: Tier,
    table_format: str,
    example: Example,
    data: Callable[[str], list[dict[str, Any]]],
) -> None:
    """Run a README example on the lake's Athena view; fail unless it returns the expected rows."""
    assert example.title in EXPECTED, (
        f"{example}: no expected result; add one to EXPECTED in {__name__}"
    )
    expect, ordered = EXPECTED[example.title]
    rows = tier.trino.rows(example.sql, catalog=ATHENA[table_format], schema=DATABASE)
    wanted = expect(data)
    assert wanted, f"{example}: the lake has no rows for it; the check would prove nothing"
    if expect is _expect_promoted:  # approx_percentile: any value of the right rank
        got = {r[0]: r[1:] for r in rows}
        assert set(got) == {w[0] for w in wanted}, example
        for version, plays, durations in wanted:
            count, median = got[version]
            assert count == plays, f"{example}: {version}: {count} plays, expected {plays}"
            values = [d for d in durations if d is not None]
            assert _within_rank(values, 0.5, median), f"{example}: {version}: median {median}"
        return
    if not ordered:
        rows, wanted = sorted(rows, key=repr), sorted(wanted, key=repr)
    assert rows == wanted, f"{example}:\n{example.sql}\nreturned {rows}\nexpected {wanted}"


@pytest.mark.parametrize("table_format", ["parquet", "delta"])
@pytest.mark.parametrize("example", readme_examples(), ids=lambda e: e.title[:48])
def test_readme_sql_example_returns_the_expected_numbers(
    tier: Tier,
    expected_rows: Callable[[str, str], list[dict[str, Any]]],
    table_format: str,
    example: Example,
) -> None:
    # GIVEN an example of the README's SQL, as the README has it, and the lake in one format
    # WHEN Trino runs it on the lake's tables as Athena reads them
    # THEN it returns the rows computed from the independent reader's rows
    check_example(tier, table_format, example, lambda name: expected_rows(table_format, name))


def test_a_wrong_readme_example_fails_its_check(
    tier: Tier, expected_rows: Callable[[str, str], list[dict[str, Any]]]
) -> None:
    # GIVEN the README's examples, and three wrong versions of them
    examples = {e.title: e for e in readme_examples()}
    stickiness = examples[
        "weekly and monthly actives (7 and 28 calendar days ending on dt), and stickiness"
    ]
    properties = examples["events.properties: nested fields with Athena's JSON functions"]
    decimal = replace(
        stickiness,
        sql=stickiness.sql.replace("CAST(active_users AS double)", "1.0 * active_users"),
    )
    other_day = replace(properties, sql=properties.sql.replace("2026-03-01", "2026-03-02"))
    unknown = replace(properties, title="an example nobody wrote an expectation for")
    data = lambda name: expected_rows("parquet", name)  # noqa: E731
    for wrong in (decimal, other_day):
        assert wrong.sql != examples[wrong.title].sql
        # WHEN each is checked, THEN the check fails (the DECIMAL ratio rounds to 0.x)
        with pytest.raises(AssertionError):
            check_example(tier, "parquet", wrong, data)
    with pytest.raises(AssertionError, match="no expected result"):
        check_example(tier, "parquet", unknown, data)


# --- Redshift: the native tables' DDL against the files, where the dialects meet ---------------

COPY_DATABASE = "redshift_copy"
# Glue column types Redshift Spectrum reads from Parquet (CREATE EXTERNAL TABLE's types).
SPECTRUM_TYPES = {
    "string",
    "bigint",
    "int",
    "smallint",
    "double",
    "float",
    "boolean",
    "date",
    "timestamp",
}


def _ddl_columns(sql: str) -> tuple[str, list[tuple[str, exp.DataType]]]:
    """(table, [(column, type)]) of a Redshift CREATE TABLE, parsed with sqlglot."""
    create = sqlglot.parse_one(sql, read="redshift")
    assert isinstance(create, exp.Create)
    schema = create.this
    columns = [(c.name, c.args["kind"]) for c in schema.expressions if isinstance(c, exp.ColumnDef)]
    return schema.this.name, columns


def copy_as_trino_reads_it(
    tier: Tier,
    make_frame: Callable[..., DataFrame],
    table: Table,
    ddl: str,
    location: str,
) -> DataFrame:
    """What COPY ... FORMAT AS PARQUET loads from location into the table ddl creates.

    An external table with the DDL's columns (types in Hive's dialect, as CREATE EXTERNAL TABLE
    would register them in Glue) over the location, read by Trino mapping file columns by
    position, as COPY does (parquet_use_column_names=false).
    """
    name, columns = _ddl_columns(ddl)
    data_columns = [(n, t) for n, t in columns if n != PARTITION_COLUMN]
    glue = _glue(tier.lakes["parquet"])
    spec = {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"EXTERNAL": "TRUE", "classification": "parquet"},
        "StorageDescriptor": {
            "Columns": [
                {"Name": n, "Type": t.sql(dialect="hive").lower()} for n, t in data_columns
            ],
            "Location": location,
            "InputFormat": PARQUET_INPUT,
            "OutputFormat": PARQUET_OUTPUT,
            "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE},
        },
    }
    with contextlib.suppress(glue.exceptions.EntityNotFoundException):
        glue.delete_table(DatabaseName=COPY_DATABASE, Name=name)
    glue.create_table(DatabaseName=COPY_DATABASE, TableInput=spec)
    schema = StructType([table.schema[n] for n, _ in data_columns])
    return trino_frame(
        tier,
        make_frame,
        "spectrum",
        f"SELECT * FROM {COPY_DATABASE}.{name}",
        schema,
        session={"spectrum.parquet_use_column_names": "false"},
    )


@pytest.fixture(scope="module")
def redshift_copy_schema(tier: Tier) -> str:
    """A scratch Glue database for the COPY check's external tables."""
    glue = _glue(tier.lakes["parquet"])
    with contextlib.suppress(glue.exceptions.AlreadyExistsException):
        glue.create_database(DatabaseInput={"Name": COPY_DATABASE})
    return COPY_DATABASE


@pytest.mark.parametrize("name", [t.name for t in CURATED_TABLES])
def test_redshift_native_table_ddl_reads_the_files_by_position_as_copy_does(
    tier: Tier,
    spark: SparkSession,
    make_frame: Callable[..., DataFrame],
    assert_frames_equal: Callable[..., None],
    redshift_copy_schema: str,
    name: str,
) -> None:
    # GIVEN redshift-sql's CREATE TABLE for the table (file columns in file order, then dt)
    lake = tier.lakes["parquet"]
    table = _table(lake, name)
    ddl = next(
        s
        for _, statements in redshift_statements(lake.settings)
        for s in statements
        if s.startswith("CREATE TABLE") and s.split("(")[0].split(".")[-1].strip() == name
    )
    _, columns = _ddl_columns(ddl)
    # THEN Spectrum's table (the Glue columns Trino reads) has the same columns in the same
    # order, each of a type Spectrum reads
    described = tier.trino.rows(f"DESCRIBE {name}", catalog="spectrum", schema=DATABASE)
    glue = _glue(lake).get_table(DatabaseName=DATABASE, Name=name)["Table"]
    glue_types = [c["Type"] for c in glue["StorageDescriptor"]["Columns"]]
    assert [r[0] for r in described] == [n for n, _ in columns]
    assert set(glue_types) <= SPECTRUM_TYPES, glue_types
    # AND COPY's positional mapping of one date's files onto the DDL's columns and types reads
    # exactly the table's rows of that date (a wrong order or a type the file does not hold fails)
    folder = f"{lake.root}/{table.location}/"
    expected = expected_frame(spark, make_frame, lake, table)
    if table.partitioned:
        folder += f"dt={FIRST_DATE}/"
        expected = expected.where(F.col(PARTITION_COLUMN) == FIRST_DATE).drop(PARTITION_COLUMN)
    actual = copy_as_trino_reads_it(tier, make_frame, table, ddl, folder)
    assert_frames_equal(actual, expected)


def test_a_redshift_ddl_with_columns_out_of_file_order_fails_the_copy_check(
    tier: Tier,
    spark: SparkSession,
    make_frame: Callable[..., DataFrame],
    assert_frames_equal: Callable[..., None],
    redshift_copy_schema: str,
) -> None:
    # GIVEN sessions' DDL with two columns swapped (session_start and event_count)
    lake = tier.lakes["parquet"]
    table = _table(lake, "sessions")
    ddl = next(
        s
        for _, statements in redshift_statements(lake.settings)
        for s in statements
        if s.startswith("CREATE TABLE") and ".sessions (" in s
    )
    swapped = (
        ddl.replace("session_start TIMESTAMP", "@@")
        .replace("event_count BIGINT", "session_start TIMESTAMP")
        .replace("@@", "event_count BIGINT")
    )
    assert swapped != ddl
    expected = expected_frame(spark, make_frame, lake, table)
    expected = expected.where(F.col(PARTITION_COLUMN) == FIRST_DATE).drop(PARTITION_COLUMN)
    # WHEN COPY's positional read is checked, THEN it fails: a timestamp is not a bigint
    with pytest.raises(Exception):  # noqa: B017 (Trino's type error or the frames' mismatch)
        actual = copy_as_trino_reads_it(
            tier, make_frame, table, swapped, f"{lake.root}/{table.location}/dt={FIRST_DATE}/"
        )
        assert_frames_equal(actual, expected.select(*actual.columns))


def test_the_tier_started_one_server_and_reports_its_cost(tier: Tier) -> None:
    # GIVEN the tier's set-up (Trino started while both lakes were written)
    # THEN one server answered, and the timings are on record (pytest -rP shows them)
    assert tier.trino.rows("SELECT 1", catalog="athena")[0] == (1,)
    print({k: round(v, 1) for k, v in tier.seconds.items()})
    assert 0 < tier.seconds["trino_start"] <= tier.seconds["setup"]
