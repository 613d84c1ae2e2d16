"""`clickstream status` and `bookmarks show`: the lake's state from its state files, no Spark."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clickstream import cli, leases
from clickstream.bookmarks import ENABLE, Bookmark, HourWindow
from clickstream.pipeline import JOB_NAMES, changes, status
from clickstream.pipeline.run_records import record_run
from clickstream.pipeline.status import format_status, lake_status
from clickstream.state_store import LocalStore, store_for

NOW = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
RUN_1 = "20260302T120000Z-aaaaaa"
RUN_2 = "20260302T130000Z-bbbbbb"


def summary(run_id: str, started: str, jobs: dict[str, dict[str, object]]) -> dict[str, object]:
    return {"run_id": run_id, "env": "local", "started_at": started, "seconds": 9.0, "jobs": jobs}


def build_state(lake: Path | str) -> None:
    """A lake's state: a whole run that succeeded, then one that failed in build_sessions; the
    curate_events bookmark at hour 2026/03/02/12; a ready change set both consumers processed,
    a ready one they did not, an unready one; a live lease and a stale one."""
    store = store_for(str(lake))
    figures = {"seconds": 3.0, "records_read": 1200, "curated": 1100, "quarantined": 40}
    everything = {job: {"seconds": 1.0} for job in JOB_NAMES}
    record_run(
        store, {**summary(RUN_1, "2026-03-02T12:00:00+00:00", everything), "status": "succeeded"}
    )
    failed = summary(
        RUN_2,
        "2026-03-02T13:00:00+00:00",
        {"load_titles": {"seconds": 1.5}, "curate_events": figures},
    )
    failed.update(status="failed", failed_job="build_sessions", error="RuntimeError: disk full")
    record_run(store, failed)
    objects = {f"raw/clickstream/2026/03/02/{h:02d}/o-{h}": "10:1" for h in (11, 12)}
    curate = Bookmark.load(None, str(lake), "curate_events", ENABLE)  # type: ignore[arg-type]
    curate.select(HourWindow(lambda _: objects, lambda p: p[16:29], 48))
    curate.commit()
    for cid, ready in [
        ("20260302T120100000000Z-00000001", True),
        ("20260302T130100000000Z-00000002", True),
        ("20260302T140100000000Z-00000003", False),
    ]:
        manifest = {"change_id": cid, "format": changes.FORMAT, "dts": ["2026-03-01", "2026-03-02"]}
        store.create(
            f"{changes.CHANGES}/{cid}/manifest.json", json.dumps({**manifest, "full": True})
        )
        if ready:
            store.create(f"{changes.CHANGES}/{cid}/ready", "")
    for job in ("build_sessions", "daily_active_users"):
        marks = Bookmark.load(None, str(lake), job, ENABLE)  # type: ignore[arg-type]
        marks.select({"20260302T120100000000Z-00000001": "1"})
        marks.commit()
    leases.acquire(
        str(lake), "curate_events", stale_minutes=20, now=lambda: NOW - timedelta(minutes=2)
    )
    leases.acquire(str(lake), "load_titles", stale_minutes=20, now=lambda: NOW - timedelta(hours=3))


def test_status_reports_last_runs_bookmarks_lag_unready_change_sets_and_leases(
    tmp_path: Path,
) -> None:
    # GIVEN a lake whose last run failed in build_sessions
    build_state(tmp_path)
    # WHEN its status is read
    found = lake_status(str(tmp_path), JOB_NAMES, stale_minutes=20, now=NOW)
    text = format_status(found)
    # THEN each job's last run: the failed run for the jobs it ran, the one before for the rest
    assert found.runs["curate_events"].run_id == RUN_2  # type: ignore[union-attr]
    assert found.runs["build_sessions"].outcome == "failed"  # type: ignore[union-attr]
    assert found.runs["daily_active_users"].run_id == RUN_1  # type: ignore[union-attr]
    lines = text.splitlines()
    assert (
        "  curate_events       succeeded in 3.0s, run 20260302T130000Z-bbbbbb started "
        "2026-03-02T13:00:00+00:00 (1h 30m ago)" in lines
    )
    assert "    records_read=1,200 curated=1,100 quarantined=40" in lines
    assert any(
        line.startswith("  build_sessions      failed, run 20260302T130000Z") for line in lines
    )
    assert "    error: RuntimeError: disk full" in lines
    # AND the high-water hour with its lag (now minus the hour's end), and what waits
    assert "high-water hour 2026/03/02/12 (lag 1h 30m)" in text
    assert "2 input(s)" in text
    assert text.count("1 ready change set(s) not yet processed") == 2
    # AND the change set not ready, and the leases, the stale one said so
    assert "change sets not ready: 1" in lines
    assert (
        "  20260302T140100000000Z-00000003: 2 date(s) 2026-03-01..2026-03-02, published 29m ago"
        in lines
    )
    assert "leases held: 2" in lines
    assert any(
        line.startswith("  curate_events: ") and line.endswith("renewed 2m ago (live)")
        for line in lines
    )
    assert any(
        line.startswith("  load_titles: ") and "(stale: a new run takes it over)" in line
        for line in lines
    )


def test_a_lake_never_run_says_so_for_every_job(tmp_path: Path) -> None:
    text = format_status(lake_status(str(tmp_path), JOB_NAMES, stale_minutes=20, now=NOW))
    for job in JOB_NAMES:
        assert f"  {job:<20}no run in the newest {status.MAX_RECORDS} run records" in text
    assert "change sets not ready: none" in text and "leases held: none" in text


def test_a_change_set_another_absorbed_is_not_reported_as_waiting(tmp_path: Path) -> None:
    # GIVEN a dead run's unready set, absorbed by a newer unready set that is still being written
    store = LocalStore(str(tmp_path))
    for cid, absorbs in [
        ("20260302T100000000000Z-dead", []),
        ("20260302T110000000000Z-new", ["20260302T100000000000Z-dead"]),
    ]:
        doc = {
            "change_id": cid,
            "format": changes.FORMAT,
            "dts": ["2026-03-02"],
            "absorbs": absorbs,
        }
        store.create(f"{changes.CHANGES}/{cid}/manifest.json", json.dumps(doc))
    # THEN only the newer one is waiting
    unready = lake_status(str(tmp_path), JOB_NAMES, stale_minutes=20, now=NOW).unready
    assert [doc["change_id"] for doc in unready] == ["20260302T110000000000Z-new"]


def test_status_state_paths_are_the_pipelines_own() -> None:
    # status reads these folders without importing the modules that write them (pyspark)
    assert status.CHANGES == changes.CHANGES
    assert status.READY_FORMATS == changes.READY_FORMATS
    assert leases.lease_key("x") == f"{leases.LEASES}/x.json"


def test_status_answers_in_under_2s_on_20000_raw_objects_without_listing_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a lake of 20,000 raw objects (about 8 days, 100 an hour) and its state
    raw = tmp_path / "raw" / "clickstream"
    for i in range(20_000):
        folder = raw / f"2026/03/{1 + i // 2400:02d}/{i // 100 % 24:02d}"
        if i % 100 == 0:
            folder.mkdir(parents=True)
        (folder / f"clickstream-1-{i}").write_bytes(b"")
    build_state(tmp_path)
    listed: list[str] = []
    real_list = LocalStore.list
    monkeypatch.setattr(LocalStore, "list", lambda self, p: listed.append(p) or real_list(self, p))
    # WHEN the command runs
    started = time.perf_counter()
    assert cli.main(["status", "--set", f"lake_root={tmp_path}"]) == 0
    took = time.perf_counter() - started
    # THEN it answers in under 2 s, having listed state folders only
    assert took < 2.0, took
    assert listed and all(p.startswith(("_runs", "_state/")) for p in listed), listed
    out = capsys.readouterr().out
    assert out.startswith("clickstream status: env=local\n") and "high-water hour" in out


def test_status_and_bookmarks_never_start_spark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN any attempt to get a SparkSession fails the test
    from pyspark.sql import SparkSession

    import clickstream.spark

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("a SparkSession was asked for")

    monkeypatch.setattr(clickstream.spark, "get_spark", refuse)
    monkeypatch.setattr(SparkSession.Builder, "getOrCreate", refuse)
    build_state(tmp_path)
    lake = ["--set", f"lake_root={tmp_path}"]
    # WHEN status, bookmarks show and bookmarks reset run THEN they answer from state files
    assert cli.main(["status", *lake]) == 0
    assert cli.main(["bookmarks", "show", "curate_events", *lake]) == 0
    shown = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert shown == {
        "job": "curate_events",
        "updated_at": shown["updated_at"],
        "high_water_hour": "2026/03/02/12",
        "processed": 2,
    }
    assert cli.main(["bookmarks", "reset", "curate_events", *lake]) == 0
    assert "reset: curate_events" in capsys.readouterr().out


@pytest.mark.slow
def test_status_in_a_process_of_its_own_imports_no_pyspark_and_starts_no_jvm(
    tmp_path: Path,
) -> None:
    # GIVEN a lake's state WHEN `clickstream status` and `bookmarks show` run in a fresh process
    build_state(tmp_path)
    script = (
        "import sys; from clickstream.cli import main\n"
        f"assert main(['status', '--set', 'lake_root={tmp_path}']) == 0\n"
        f"assert main(['bookmarks', 'show', '--set', 'lake_root={tmp_path}']) == 0\n"
        "print('pyspark loaded:', 'pyspark' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    # THEN pyspark was never imported: no SparkContext, no JVM could start
    assert done.stdout.rstrip().endswith("pyspark loaded: False"), done.stdout
    assert "last runs:" in done.stdout


def test_status_of_a_lake_on_s3_reads_the_same_state(moto: str) -> None:
    # GIVEN the same state under s3://lake/prod (moto over HTTP)
    import boto3

    boto3.client("s3").create_bucket(Bucket="lake")
    build_state("s3://lake/prod")
    # WHEN its status is read THEN it says what the local lake's says
    found = lake_status("s3://lake/prod", JOB_NAMES, stale_minutes=20, now=NOW)
    assert {job: run.outcome for job, run in found.runs.items() if run} == {
        "load_titles": "succeeded",
        "curate_events": "succeeded",
        "build_sessions": "failed",
        "daily_active_users": "succeeded",
    }
    assert found.bookmarks["curate_events"]["high_water_hour"] == "2026/03/02/12"
    assert [doc["change_id"] for doc in found.unready] == ["20260302T140100000000Z-00000003"]
    assert [(lease["job"], lease["stale"]) for lease in found.leases] == [
        ("curate_events", False),
        ("load_titles", True),
    ]
