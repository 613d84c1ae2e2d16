"""curate_events' parse reads with the settings' reader limits and the operator's skipped objects."""

from __future__ import annotations

import json
from pathlib import Path

from pyspark.sql import SparkSession

from clickstream.config import load_settings
from clickstream.pipeline.context import JobContext
from clickstream.pipeline.curate.parse_cache import parse
from clickstream.raw_objects import list_raw_objects
from clickstream.skipped_objects import skip_object

NAME = "clickstream-1-2026-03-01-10-00-0{}-0f8fad5b-d9cb-469f-a165-70867728950e"


def _event(event_id: str, event_time: str, **extra: str) -> str:
    fields = {"event_id": event_id, "user_id": "u1", "event_type": "view"}
    return json.dumps({**fields, "event_time": event_time, **extra})


def test_parse_applies_the_settings_limits_and_skips_the_objects_it_is_given(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN a raw zone: an event 40 days older than its object, a 2 KiB event, a poison object
    raw = tmp_path / "raw" / "clickstream"
    raw.mkdir(parents=True)
    (raw / NAME.format(1)).write_text(_event("old", "2026-01-20T10:00:00Z"))
    (raw / NAME.format(2)).write_text(_event("big", "2026-03-01T10:00:00Z", pad="x" * 2048))
    (raw / NAME.format(3)).write_bytes(b"\x1f\x8b poison")
    overrides = ["catalog=none", "event_time_max_age_days=null", "max_record_kib=1"]
    settings = load_settings("local", [f"lake_root={tmp_path}", *overrides])
    objects = list_raw_objects(spark, settings.path("raw/clickstream"))
    poison = objects[2].path

    note = skip_object(settings, poison, "poison", by="oncall")
    # WHEN curate_events' parse reads them, the poison object set aside by an operator
    parsed = parse(JobContext(spark, settings), objects)
    rows = {r["source_file"].rsplit("/", 1)[1].split("-")[7]: r for r in parsed.collect()}

    # THEN the age bound is off, the record limit is 1 KiB, and the poison object is one record
    assert {k: (r["event_id"], r["reason"]) for k, r in rows.items()} == {
        "01": ("old", None),
        "02": (None, "record_too_large"),
        "03": (None, "skipped_by_operator"),
    }
    assert rows["03"]["record"] == note.record()
    assert json.loads(note.record())["skipped_by_operator"]["why"] == "poison"
