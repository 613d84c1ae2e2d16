"""Promoted fields through the whole pipeline: typed columns after every events column, misfits
kept in properties and counted, the kept copy's values, exact under incremental runs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from clickstream.config import Settings
from clickstream.pipeline.runner import rebuild_lake, run_pipeline
from clickstream.tables import EVENTS, events_table
from clickstream.writer import read_table
from tests.pipeline import incremental_helpers as ih

pytestmark = pytest.mark.slow

Check = Callable[..., None]
PROMOTED = [
    "promoted_fields.app_version=string",
    "promoted_fields.duration_ms=long",
    "promoted_fields.price=double",
    "promoted_fields.trial=boolean",
    "promoted_fields.opened_at=timestamp",
]


def event(event_id: str, on_day: int, user: str = "u1", hour: int = 12, **extra: Any) -> str:
    at = datetime(2026, 3, 1, hour, tzinfo=UTC) + timedelta(days=on_day)
    fields = {
        "event_id": event_id,
        "user_id": user,
        "event_type": "play",
        "event_time": at.isoformat().replace("+00:00", "Z"),
    }
    return json.dumps({**fields, **extra}, ensure_ascii=False)


def write_object(lake: Path, arrival_day: int, lines: list[str], key: str, hour: int = 23) -> None:
    """One raw object named (ingested) at hour:00 UTC of arrival_day."""
    arrival = datetime(2026, 3, 1, hour, tzinfo=UTC) + timedelta(days=arrival_day)
    name = f"clickstream-1-{arrival:%Y-%m-%d-%H-%M-%S}-{key * 8}-0000-4000-8000-{key * 12}"
    path = lake / "raw" / "clickstream" / f"{arrival:%Y/%m/%d/%H}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def events_by_id(spark: SparkSession, settings: Settings) -> dict[str, Any]:
    table = events_table(settings.promoted_fields)
    return {r["event_id"]: r for r in read_table(spark, settings.lake, table).collect()}


def fresh_copy(tmp_path: Path, lake: Path, name: str, overrides: list[str]) -> Settings:
    """A lake with the same raw objects, curated in one run."""
    root = tmp_path / name
    shutil.copytree(lake / "raw", root / "raw")
    settings = ih.lake_settings(root, overrides)
    run_pipeline(settings, spark=settings_spark(), echo=ih.quiet)
    return settings


def settings_spark() -> SparkSession:
    active = SparkSession.getActiveSession()
    assert active is not None
    return active


def test_promoted_fields_are_typed_columns_after_every_events_column_in_config_order(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN an event with five promoted fields, each of a value that fits, and one other field
    lake = tmp_path / "lake"
    fields = {
        "app_version": "2.1.0",
        "duration_ms": "1500",
        "price": 3.5,
        "trial": True,
        "opened_at": "2026-03-01T20:30:00+09:00",
        "screen": {"name": "home", "tabs": [1, 2]},
    }
    write_object(lake, 0, [event("e1", 0, **fields)], "a")
    settings = ih.lake_settings(lake, PROMOTED)
    # WHEN curated
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN the columns follow every events column, in config order, typed
    stored = read_table(spark, settings.lake, events_table(settings.promoted_fields))
    names = ["app_version", "duration_ms", "price", "trial", "opened_at"]
    assert stored.columns == [*EVENTS.columns, *names, "dt"]
    physical = spark.read.parquet(settings.path(EVENTS.location)).columns
    assert physical == [*EVENTS.columns, *names, "dt"]  # files too (COPY reads by position)
    kinds = {f.name: f.dataType.simpleString() for f in stored.schema.fields}
    assert [kinds[n] for n in names] == ["string", "bigint", "double", "boolean", "timestamp"]
    row = stored.first()
    assert row is not None
    assert (row["app_version"], row["duration_ms"], row["price"], row["trial"]) == (
        "2.1.0",
        1500,
        3.5,
        True,
    )
    assert row["opened_at"] == datetime(2026, 3, 1, 11, 30)  # UTC, as event_time is stored
    # ... and the values that fit left properties: only the other field stays, nested as sent
    assert json.loads(row["properties"]) == {"screen": {"name": "home", "tabs": [1, 2]}}


def test_a_value_that_does_not_fit_is_null_stays_verbatim_in_properties_and_is_counted(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN values that do not fit (text as a long, a fraction as a long, an object as a string,
    # "yes" as a boolean, a bad date as a timestamp), a missing field and a null one
    lake = tmp_path / "lake"
    lines = [
        event("e1", 0, duration_ms="soon", app_version={"major": 2}),
        event("e2", 0, duration_ms=1.5, trial="yes"),
        event("e3", 0, opened_at="2026-02-30T01:00:00Z", price=None),
        event("e4", 0, duration_ms=7),
    ]
    write_object(lake, 0, lines, "a")
    settings = ih.lake_settings(lake, PROMOTED)
    # WHEN curated
    summary = run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN no event is rejected; each misfit is null in its column and kept as sent in properties
    curate = summary["jobs"]["curate_events"]
    assert (curate["quarantined"], curate["curated"]) == (0, 4)
    events = events_by_id(spark, settings)
    assert events["e1"]["duration_ms"] is None and events["e1"]["app_version"] is None
    assert json.loads(events["e1"]["properties"]) == {
        "duration_ms": "soon",
        "app_version": {"major": 2},
    }
    assert json.loads(events["e2"]["properties"]) == {"duration_ms": 1.5, "trial": "yes"}
    assert json.loads(events["e3"]["properties"]) == {"opened_at": "2026-02-30T01:00:00Z"}
    # ... a null value is no misfit and leaves properties; a fitting one too
    assert events["e4"]["duration_ms"] == 7 and events["e4"]["properties"] is None
    # ... and the run summary counts the misfits per field
    assert curate["promoted_misfits"] == {
        "app_version": 1,
        "duration_ms": 2,
        "price": 0,
        "trial": 1,
        "opened_at": 1,
    }


def test_the_kept_copys_promoted_values_and_properties_win_even_when_it_arrives_later(
    spark: SparkSession, tmp_path: Path, assert_frames_equal: Check
) -> None:
    # GIVEN a copy of e1 ingested on day 1 with one set of values, curated
    lake = tmp_path / "lake"
    write_object(lake, 1, [event("e1", 0, duration_ms=200, screen="player")], "b")
    settings = ih.lake_settings(lake, PROMOTED)
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    assert events_by_id(spark, settings)["e1"]["duration_ms"] == 200
    # WHEN an object named on day 0 (ingested earlier) is delivered late with another copy
    write_object(lake, 0, [event("e1", 0, duration_ms=100, app_version="1.0", retry=True)], "a")
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN the earliest-ingested copy's values win, typed and in properties
    e1 = events_by_id(spark, settings)["e1"]
    assert (e1["duration_ms"], e1["app_version"], json.loads(e1["properties"])) == (
        100,
        "1.0",
        {"retry": True},
    )
    # ... exactly as one run over both objects
    full = fresh_copy(tmp_path, lake, "full", PROMOTED)
    ih.assert_same_tables(spark, full, settings, assert_frames_equal)


@pytest.mark.parametrize("variant", sorted(ih.VARIANTS))
def test_batches_with_promoted_fields_give_exactly_the_full_run(
    spark: SparkSession,
    sample_lake: Path,
    tmp_path: Path,
    variant: str,
    assert_frames_equal: Check,
) -> None:
    # GIVEN the generated raw zone (device, app_version and nested context on its events, late
    # events, re-deliveries) with two fields promoted, cut into arrival batches
    overrides = [
        *ih.VARIANTS[variant],
        "promoted_fields.app_version=string",
        "promoted_fields.device=string",
    ]
    objects = ih.raw_objects(sample_lake)
    batches = ih.split_by_arrival(objects, sample_lake, ["2026/03/02/00", "2026/03/02/15"])
    lake = tmp_path / "incremental"
    ih.copy_reference(sample_lake, lake)
    incremental = ih.lake_settings(lake, overrides)
    # WHEN the pipeline runs after each batch
    for batch in batches:
        ih.copy_objects(batch, sample_lake, lake)
        run_pipeline(incremental, spark=spark, echo=ih.quiet)
    # THEN every table, promoted columns and properties included, equals one full run's
    full_root = tmp_path / "full"
    ih.copy_reference(sample_lake, full_root)
    ih.copy_objects(objects, sample_lake, full_root)
    full = ih.lake_settings(full_root, overrides)
    run_pipeline(full, spark=spark, echo=ih.quiet)
    ih.assert_same_tables(spark, full, incremental, assert_frames_equal)
    events = read_table(spark, full.lake, events_table(full.promoted_fields))
    assert events.where("app_version is null or device is null").count() == 0
    assert events.where("properties like '%\"context\"%'").count() > 0
    assert events.where("properties like '%\"device\"%'").count() == 0


def test_adding_a_promoted_field_to_an_existing_lake_types_new_dates_and_the_rebuild_the_old(
    spark: SparkSession, tmp_path: Path, assert_frames_equal: Check
) -> None:
    # GIVEN a lake curated without promoted fields, registered in the metastore
    lake = tmp_path / "lake"
    write_object(lake, 0, [event("e1", 0, duration_ms=5)], "a")
    database = ["catalog=hive", "database=promoted_upgrade"]
    before = ih.lake_settings(lake, database)
    run_pipeline(before, spark=spark, echo=ih.quiet)
    # WHEN duration_ms is promoted and a new date arrives
    after = ih.lake_settings(lake, [*database, "promoted_fields.duration_ms=long"])
    write_object(lake, 1, [event("e2", 1, duration_ms=6)], "b")
    run_pipeline(after, spark=spark, echo=ih.quiet)
    # THEN the new date has the typed column, the old one reads null (its value in properties),
    # through the catalog too
    rows = spark.sql(
        "select event_id, duration_ms, properties from promoted_upgrade.events order by event_id"
    ).collect()
    assert [tuple(r) for r in rows] == [("e1", None, '{"duration_ms":5}'), ("e2", 6, None)]
    # WHEN the documented rebuild runs
    rebuild_lake(after, spark=spark, echo=ih.quiet)
    # THEN the old date is typed too, exactly as a lake curated with the field from the start
    rows = spark.sql("select event_id, duration_ms from promoted_upgrade.events").collect()
    assert sorted(tuple(r) for r in rows) == [("e1", 5), ("e2", 6)]
    fresh = fresh_copy(tmp_path, lake, "fresh", ["promoted_fields.duration_ms=long"])
    ih.assert_same_tables(spark, fresh, after, assert_frames_equal)


def test_promoted_fields_on_delta_tables_give_exactly_the_full_run(
    spark: SparkSession, tmp_path: Path, assert_frames_equal: Check
) -> None:
    # GIVEN a Delta lake curated before duration_ms was promoted
    lake = tmp_path / "lake"
    write_object(lake, 0, [event("e1", 0, duration_ms=5), event("e2", 0, user="u2")], "a")
    delta = ["table_format=delta"]
    run_pipeline(ih.lake_settings(lake, delta), spark=spark, echo=ih.quiet)
    # WHEN it is promoted, and a late event and a later date arrive
    settings = ih.lake_settings(lake, [*delta, "promoted_fields.duration_ms=long"])
    write_object(lake, 2, [event("e3", 0, hour=13, duration_ms=7), event("e4", 2)], "b")
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN the Delta table took the column: old rows null, new ones typed
    events = events_by_id(spark, settings)
    assert [events[e]["duration_ms"] for e in ("e1", "e2", "e3", "e4")] == [None, None, 7, None]
    # ... after every other data column (Delta keeps dt out of the files; COPY reads by position)
    stored = spark.read.format("delta").load(settings.path(EVENTS.location)).columns
    assert [c for c in stored if c != "dt"] == events_table(settings.promoted_fields).columns
    # ... and after the rebuild the lake equals a Delta lake curated with the field from start
    rebuild_lake(settings, spark=spark, echo=ih.quiet)
    fresh = fresh_copy(tmp_path, lake, "fresh", [*delta, "promoted_fields.duration_ms=long"])
    ih.assert_same_tables(spark, fresh, settings, assert_frames_equal)
    assert events_by_id(spark, settings)["e1"]["duration_ms"] == 5


def _curate_jobs(spark: SparkSession, settings: Settings, group: str) -> int:
    """The Spark jobs one curate_events run starts."""
    spark.sparkContext.setJobGroup(group, group)
    try:
        run_pipeline(settings, ["curate_events"], spark=spark, echo=ih.quiet)
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
    return len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))


def test_promoted_fields_add_no_spark_job_to_curate(spark: SparkSession, tmp_path: Path) -> None:
    # GIVEN the same raw objects in two new lakes, one with two promoted fields
    lines = [
        event(f"e{i}", i % 2, user=f"u{i % 3}", duration_ms=i, screen="home") for i in range(9)
    ]
    for name in ("plain", "promoted"):
        write_object(tmp_path / name, 1, lines, "a")
    plain = ih.lake_settings(tmp_path / "plain", [])
    promoted = ih.lake_settings(tmp_path / "promoted", PROMOTED[:2])
    # WHEN curate_events runs on each
    plain_jobs = _curate_jobs(spark, plain, "h15-plain")
    promoted_jobs = _curate_jobs(spark, promoted, "h15-promoted")
    # THEN both start the same Spark jobs: the misfit counts ride on the parse's aggregation
    assert plain_jobs > 0 and promoted_jobs == plain_jobs
    assert events_by_id(spark, promoted)["e4"]["duration_ms"] == 4
