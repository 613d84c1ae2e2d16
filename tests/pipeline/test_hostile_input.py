"""Real traffic never stops or corrupts the lake: hostile objects beside clean ones, in Parquet
and Delta, locally and on S3 (issue 25)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from clickstream.config import Settings, load_settings
from clickstream.pipeline.runner import run_pipeline
from clickstream.skipped_objects import skip_object
from clickstream.spark import get_spark
from clickstream.tables import DAILY_ACTIVE_USERS, EVENTS, QUARANTINE, SESSIONS
from clickstream.writer import read_table, stored_dts, table_schema
from tests.pipeline import hostile_objects as ho
from tests.pipeline import incremental_helpers as ih
from tests.pipeline import lake_fixture as lf

pytestmark = pytest.mark.slow

LIMITS = [f"max_object_mib={ho.BOMB_LIMIT_MIB}"]
BOUNDS_OFF = ["event_time_max_future_minutes=null", "event_time_max_age_days=null"]


def _strict(text: str) -> Any:
    """json.loads that refuses NaN and Infinity, as RFC 8259 (and Athena) do."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def _reasons_by_object(quarantine: DataFrame) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for row in quarantine.groupBy("source_file", "reason").count().collect():
        found.setdefault(row["source_file"], {})[row["reason"]] = row["count"]
    return found


@pytest.mark.parametrize("table_format", ["parquet", "delta"])
def test_hostile_objects_leave_the_run_green_and_every_record_accounted_for(
    spark: SparkSession,
    tmp_path: Path,
    table_format: str,
    assert_frames_equal: Callable[..., None],
) -> None:
    # GIVEN the clean lake beside every hostile object, one of them set aside by an operator
    lake = tmp_path / "lake"
    sources = lf.build_lake(lake)
    hostile = ho.write_hostile(lake)
    settings = ih.lake_settings(lake, [f"table_format={table_format}", *LIMITS])
    for key in hostile.skipped:
        skip_object(settings, str(hostile.paths[key]), "worker crash, OPS-1", by="oncall")
    # WHEN the pipeline runs with the default time window
    summary = run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN it finishes, and every record read is curated, a duplicate or quarantined
    totals = summary["totals"]
    assert totals["records_read"] == (
        totals["curated"] + totals["duplicates_removed"] + totals["quarantined"]
    )
    # AND every clean event is curated once, exactly as on the clean lake; no hostile id merged
    events = read_table(spark, settings.lake, EVENTS)
    clean = [row[0] for row in lf.expected_events(sources)]
    ids = [r["event_id"] for r in events.select("event_id").collect()]
    assert sorted(ids) == sorted({*clean, *hostile.valid})
    expected_clean = spark.createDataFrame(lf.expected_events(sources), table_schema(EVENTS))
    assert_frames_equal(events.where(F.col("event_id").isin(clean)), expected_clean)
    # AND every contract break is in quarantine with its reason, traceable to its object
    quarantine = read_table(spark, settings.lake, QUARANTINE)
    by_object = _reasons_by_object(quarantine)
    for key, reasons in hostile.reasons.items():
        assert by_object.pop(f"file:{hostile.paths[key]}") == reasons, key
    clean_reasons: dict[str, dict[str, int]] = {}
    for _, reason, source, _, _ in lf.expected_quarantine(sources):
        clean_reasons.setdefault(source, {}).setdefault(reason, 0)
        clean_reasons[source][reason] += 1
    assert by_object == clean_reasons
    # AND properties are strict JSON, non-finite numbers kept as their text
    nan = events.where("event_id = 'h_nan'").first()
    assert _strict(nan["properties"]) == {"score": "NaN", "big": "1e400"}
    # AND the invalid bytes of ids are kept (as \xNN), and the operator's note is the record
    broken = [r["record"] for r in quarantine.where("reason = 'invalid_encoding'").collect()]
    assert any("x\\xff\\xfe" in r for r in broken) and any("x\\xfd\\xfc" in r for r in broken)
    note = _strict(quarantine.where("reason = 'skipped_by_operator'").first()["record"])
    assert note["skipped_by_operator"]["by"] == "oncall"
    assert note["skipped_by_operator"]["why"] == "worker crash, OPS-1"
    # AND a rerun changes nothing
    again = run_pipeline(settings, spark=spark, echo=ih.quiet)
    assert again["totals"]["records_read"] == 0


def _s3_lake(lake: Path, table_format: str, overrides: list[str]) -> Settings:
    """The local lake uploaded under an S3 prefix on the moto server, Glue catalog."""
    boto3.client("s3").create_bucket(Bucket="hostile-lake")
    root = f"s3://hostile-lake/{table_format}"
    s3 = boto3.client("s3")
    for path in (p for p in lake.rglob("*") if p.is_file()):
        s3.upload_file(str(path), "hostile-lake", f"{table_format}/{path.relative_to(lake)}")
    return load_settings(
        "local",
        [
            f"lake_root={root}",
            "catalog=glue",
            f"database=hostile_{table_format}",
            f"table_format={table_format}",
            *overrides,
        ],
    )


@pytest.mark.parametrize(("table_format", "where"), [("delta", "local"), ("parquet", "s3")])
def test_with_the_time_bounds_off_every_instant_goes_through_every_table(
    spark: SparkSession,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    table_format: str,
    where: str,
    assert_frames_equal: Callable[..., None],
) -> None:
    # GIVEN events at 9999-12-31, 0001-01-01, 1500-06-15, in 2031 and at epoch 0, then a second
    # batch beside the calendar's ends
    lake, full = tmp_path / "lake", tmp_path / "full"
    for root in (lake, full):
        lf.build_lake(root)
        ho.write_hostile(root)
    ho.late_object(full)
    overrides = [f"table_format={table_format}", *LIMITS, *BOUNDS_OFF]
    if where == "s3":
        request.getfixturevalue("moto")
        settings = _s3_lake(lake, table_format, overrides)
        assert get_spark(settings) is spark  # passes the AWS environment on to S3A
    else:
        settings = ih.lake_settings(lake, overrides)
    # WHEN the first batch runs with both bounds off THEN every implausible instant is curated
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    dts = stored_dts(spark, settings.lake, EVENTS)
    assert dts >= ho.IMPLAUSIBLE_DTS
    for table in (SESSIONS, DAILY_ACTIVE_USERS):
        assert stored_dts(spark, settings.lake, table) >= ho.IMPLAUSIBLE_DTS, table.name
    if where == "s3":  # AND the Glue catalog registered those dates
        glue = boto3.client("glue")
        parts = glue.get_partitions(DatabaseName=settings.database, TableName="events")
        assert {p["Values"][0] for p in parts["Partitions"]} >= ho.IMPLAUSIBLE_DTS
    # WHEN a second batch lands beside the calendar's ends
    late = ho.late_object(tmp_path / "late")
    target = late.relative_to(tmp_path / "late")
    if where == "s3":
        bucket, _, prefix = settings.lake.removeprefix("s3://").partition("/")
        boto3.client("s3").upload_file(str(late), bucket, f"{prefix}/{target}")
    else:
        (lake / target).parent.mkdir(parents=True, exist_ok=True)
        (lake / target).write_bytes(late.read_bytes())
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN the lake equals one full run over the same objects
    reference = ih.lake_settings(full, overrides)
    run_pipeline(reference, spark=spark, echo=ih.quiet)
    ih.assert_same_tables(spark, reference, settings, assert_frames_equal, micros=True)
