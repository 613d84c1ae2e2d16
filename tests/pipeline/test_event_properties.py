"""events.properties through the whole pipeline: every field beyond the contract kept."""

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
from clickstream.pipeline.runner import run_pipeline
from clickstream.tables import EVENTS
from clickstream.writer import read_table
from tests.pipeline import incremental_helpers as ih

pytestmark = pytest.mark.slow

Check = Callable[..., None]


def event(event_id: str, on_day: int, **extra: Any) -> str:
    at = datetime(2026, 3, 1, 12, tzinfo=UTC) + timedelta(days=on_day)
    fields = {
        "event_id": event_id,
        "user_id": "u1",
        "event_type": "play",
        "event_time": at.isoformat().replace("+00:00", "Z"),
    }
    return json.dumps({**fields, **extra}, ensure_ascii=False)


def write_object(lake: Path, arrival_day: int, lines: list[str], key: str) -> None:
    """One raw object arriving at 23:00 UTC of arrival_day."""
    arrival = datetime(2026, 3, 1, 23, tzinfo=UTC) + timedelta(days=arrival_day)
    name = f"clickstream-1-{arrival:%Y-%m-%d-%H-%M-%S}-{key * 8}-0000-4000-8000-{key * 12}"
    path = lake / "raw" / "clickstream" / f"{arrival:%Y/%m/%d/%H}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def events_by_id(spark: SparkSession, settings: Settings) -> dict[str, Any]:
    return {r["event_id"]: r for r in read_table(spark, settings.lake, EVENTS).collect()}


def test_when_copies_of_one_event_differ_the_kept_copys_fields_win(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN two copies of e1 with different extra fields, the first delivered one day earlier
    lake = tmp_path / "lake"
    write_object(lake, 0, [event("e1", 0, screen="home", context={"row": 1})], "a")
    write_object(lake, 1, [event("e1", 0, screen="player", retry=True)], "b")
    settings = ih.lake_settings(lake, [])
    # WHEN curated
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN one event, with the earliest-ingested copy's properties, nested as sent
    events = events_by_id(spark, settings)
    assert list(events) == ["e1"]
    assert json.loads(events["e1"]["properties"]) == {"screen": "home", "context": {"row": 1}}


def test_an_existing_lake_reads_null_properties_on_old_dates_until_the_rebuild(
    spark: SparkSession, tmp_path: Path, assert_frames_equal: Check
) -> None:
    # GIVEN a lake whose events were curated before properties existed (files without the column)
    lake = tmp_path / "lake"
    write_object(lake, 0, [event("e1", 0, screen="home")], "a")
    settings = ih.lake_settings(lake, [])
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    old_files = tmp_path / "old-events"
    read_table(spark, settings.lake, EVENTS).drop("properties").write.partitionBy("dt").parquet(
        str(old_files)
    )
    shutil.rmtree(lake / EVENTS.location)
    shutil.copytree(old_files, lake / EVENTS.location)
    # WHEN a new day arrives
    write_object(lake, 1, [event("e2", 1, screen="player")], "b")
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN the new date has properties, the old one reads null
    events = events_by_id(spark, settings)
    assert (events["e1"]["properties"], events["e2"]["properties"]) == (None, '{"screen":"player"}')
    # WHEN the documented rebuild runs (every raw object read again)
    rebuild = ih.lake_settings(lake, ["bookmark_option=job-bookmark-disable"])
    run_pipeline(rebuild, spark=spark, echo=ih.quiet)
    # THEN the old date has them too, exactly as a lake curated with properties from the start
    assert events_by_id(spark, settings)["e1"]["properties"] == '{"screen":"home"}'
    fresh_lake = tmp_path / "fresh"
    shutil.copytree(lake / "raw", fresh_lake / "raw")
    fresh = ih.lake_settings(fresh_lake, [])
    run_pipeline(fresh, spark=spark, echo=ih.quiet)
    ih.assert_same_tables(spark, fresh, settings, assert_frames_equal)
