"""`clickstream maintain`: OPTIMIZE the recently rewritten dates of Delta tables, then VACUUM."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from clickstream.config import Settings, load_settings
from clickstream.delta_lake import copy_manifest_path
from clickstream.leases import LeaseHeld, acquire, lease_key
from clickstream.maintenance import maintain
from clickstream.pipeline import JOB_NAMES
from clickstream.tables import EVENTS, QUARANTINE
from clickstream.writer import read_table, table_schema, write_table
from tests.delta_rs import delta_table

pytestmark = pytest.mark.slow

DAY = "2026-03-01"


def settings_for(lake: Path, *overrides: str) -> Settings:
    return load_settings(
        "local", [f"lake_root={lake}", "table_format=delta", "catalog=none", *overrides]
    )


def rows(n: int) -> list[tuple]:
    at = datetime(2026, 3, 1, 10, tzinfo=UTC)
    return [(f"bad {i}", "not_json", f"s3://raw/obj-{i % 3}", at, DAY) for i in range(n)]


@pytest.fixture
def small_files(spark: SparkSession, make_frame: Callable[..., DataFrame], tmp_path: Path) -> str:
    """A Delta quarantine table whose one date has three small files (version 0)."""
    df = make_frame(rows(30), table_schema(QUARANTINE)).repartition(3)
    write_table(df, str(tmp_path), QUARANTINE, rebalance=False, table_format="delta", dts=[DAY])
    uri = f"{tmp_path}/{QUARANTINE.location}"
    assert len(delta_table(uri).files()) == 3
    return uri


def test_recent_dates_are_compacted_and_time_travel_keeps_the_retention(
    spark: SparkSession, small_files: str, tmp_path: Path, assert_frames_equal: Callable[..., None]
) -> None:
    # GIVEN a date rewritten just now in three small files
    settings = settings_for(tmp_path, "maintenance_lookback_days=3", "delta_retention_days=7")
    before = read_table(spark, settings.lake, QUARANTINE)
    expected = spark.createDataFrame(before.collect(), before.schema)
    # WHEN maintenance runs
    maintain(settings, writers=JOB_NAMES, spark=spark, echo=lambda _: None)
    # THEN the date has one file, the same rows, and a COPY manifest naming that file
    table = delta_table(small_files)
    assert len(table.files()) == 1
    assert_frames_equal(read_table(spark, settings.lake, QUARANTINE), expected)
    manifest = json.loads(Path(copy_manifest_path(small_files, DAY)).read_text())
    assert [Path(e["url"]).name for e in manifest["entries"]] == [Path(table.files()[0]).name]
    # and version 0 (three files) is still readable: within the 7-day retention
    table.load_as_version(0)
    assert len(table.files()) == 3 and table.to_pyarrow_table().num_rows == 30


def test_vacuum_removes_files_past_the_retention_but_no_live_file(
    spark: SparkSession, small_files: str, tmp_path: Path
) -> None:
    # GIVEN a table compacted once, and a retention of 0 days
    settings = settings_for(tmp_path, "delta_retention_days=0")
    # WHEN maintenance runs
    maintain(settings, writers=JOB_NAMES, spark=spark, echo=lambda _: None)
    # THEN only the live file is left on disk, and the current rows are all there
    on_disk = list(Path(small_files).glob("dt=*/*.parquet"))
    assert len(on_disk) == 1 and delta_table(small_files).to_pyarrow_table().num_rows == 30


def test_dates_rewritten_before_the_lookback_are_not_compacted(
    spark: SparkSession, small_files: str, tmp_path: Path
) -> None:
    # GIVEN a date last rewritten more than maintenance_lookback_days ago
    settings = settings_for(tmp_path, "maintenance_lookback_days=3")
    later = datetime.now(UTC) + timedelta(days=4)
    # WHEN maintenance runs THEN its files are left as they are
    result = maintain(settings, writers=JOB_NAMES, spark=spark, echo=lambda _: None, now=later)
    (done,) = [r for r in result if r["table"] == QUARANTINE.name]
    assert done["dates"] == [] and len(delta_table(small_files).files()) == 3


def event_rows(users: int, per_user: int, day: str = DAY) -> list[tuple]:
    """per_user events for each of users users on day, users interleaved in write order."""
    at = datetime.fromisoformat(f"{day}T08:00:00+00:00")
    return [
        (
            f"e-{u}-{i}",
            f"u{u:03d}",
            "play",
            at + timedelta(minutes=i),
            None,
            None,
            None,
            f"s-{u}",
            at,
            "s3://raw/obj",
            None,
            day,
        )
        for i in range(per_user)
        for u in range(users)
    ]


def write_hourly_files(
    spark: SparkSession, make_frame: Callable[..., DataFrame], lake: Path, table_format: str
) -> list[tuple]:
    """An events table whose date DAY was written by three small hourly appends (one file each)
    and whose date 2026-02-01 holds two small files written long ago; all its rows."""
    path = f"{lake}/{EVENTS.location}"
    everything = event_rows(5, 6) + event_rows(2, 2, "2026-02-01")
    chunks = [everything[i : i + 10] for i in range(0, 30, 10)] + [
        everything[30:32],
        everything[32:],
    ]
    for chunk in chunks:
        frame = make_frame(chunk, table_schema(EVENTS)).coalesce(1)
        frame.write.format(table_format).mode("append").partitionBy("dt").save(path)
    old = (datetime.now(UTC) - timedelta(days=10)).timestamp()
    for f in (lake / EVENTS.location / "dt=2026-02-01").glob("*.parquet"):
        os.utime(f, (old, old))
    return everything


def user_runs(spark: SparkSession, files: list[str]) -> list[str]:
    """The user ids of a file's rows in file order, each run of one user given once."""
    order = [r["user_id"] for r in spark.read.parquet(*files).collect()]
    return [u for i, u in enumerate(order) if i == 0 or order[i - 1] != u]


@pytest.mark.parametrize("table_format", ["parquet", "delta"])
def test_hourly_small_files_of_a_recent_date_become_one_file_clustered_by_user(
    spark: SparkSession,
    make_frame: Callable[..., DataFrame],
    tmp_path: Path,
    assert_frames_equal: Callable[..., None],
    table_format: str,
) -> None:
    # GIVEN a date written by three hourly appends, each file holding every user's rows, and
    # (Parquet) a date of two small files written ten days ago, before the lookback
    everything = write_hourly_files(spark, make_frame, tmp_path, table_format)
    settings = load_settings(
        "local",
        [f"lake_root={tmp_path}", f"table_format={table_format}", "catalog=none"],
    )
    # WHEN maintenance runs
    lines: list[str] = []
    maintain(settings, writers=JOB_NAMES, spark=spark, echo=lines.append)
    # THEN the recent date is one file in which each user's rows sit together
    live = [f for f in read_table(spark, settings.lake, EVENTS).inputFiles() if DAY in f]
    assert len(live) == 1
    assert user_runs(spark, live) == sorted(set(user_runs(spark, live)))
    # AND no row changed
    expected = make_frame(everything, table_schema(EVENTS), expected=True)
    assert_frames_equal(read_table(spark, settings.lake, EVENTS), expected)
    compacted = 3 if table_format == "parquet" else 5  # Delta: both dates written just now
    assert any(line.startswith(f"events: compacted {compacted} file(s)") for line in lines), lines
    if table_format == "parquet":
        # AND the date last written before the lookback keeps its two files
        assert len(list((tmp_path / EVENTS.location / "dt=2026-02-01").glob("*.parquet"))) == 2


def test_maintenance_waits_for_a_running_writer_and_holds_every_writers_lease(
    spark: SparkSession, small_files: str, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path)
    # GIVEN a curate_events run writing the lake (Delta on S3 assumes one writer)
    running = acquire(str(tmp_path), "curate_events", stale_minutes=20)
    # WHEN maintenance starts THEN it fails naming the holder, and compacts nothing
    with pytest.raises(LeaseHeld, match=running.holder):
        maintain(settings, writers=JOB_NAMES, spark=spark, echo=lambda _: None)
    assert len(delta_table(small_files).files()) == 3
    running.release()
    # AND once the run ended maintenance runs, and gives every lease back
    maintain(settings, writers=JOB_NAMES, spark=spark, echo=lambda _: None)
    assert len(delta_table(small_files).files()) == 1
    assert not any((tmp_path / lease_key(job)).exists() for job in JOB_NAMES)
