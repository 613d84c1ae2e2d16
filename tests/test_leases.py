"""One writer at a time per job: leases are taken exclusively, renewed, and taken over safely."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clickstream.leases import LeaseHeld, LeaseLost, acquire, acquire_all, lease_key
from clickstream.pipeline import JOB_NAMES, WRITES, leases_of, writers_of
from clickstream.tables import ALL_TABLES, DELTA_CAPABLE


def _later(minutes: float) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


def test_a_second_run_fails_fast_naming_the_holder_its_start_and_the_takeover(
    tmp_path: Path,
) -> None:
    # GIVEN a run holding curate_events' lease
    first = acquire(str(tmp_path), "curate_events", stale_minutes=20)
    # WHEN a second run asks for it THEN it fails, naming holder, start and how to take over
    with pytest.raises(LeaseHeld) as held:
        acquire(str(tmp_path), "curate_events", stale_minutes=20)
    message = str(held.value)
    assert first.holder in message and first.started_at in message
    assert "lease_stale_minutes" in message and lease_key("curate_events") in message
    # AND another job's lease is free
    acquire(str(tmp_path), "build_sessions", stale_minutes=20).release()


def test_of_runs_started_at_once_exactly_one_gets_the_lease(tmp_path: Path) -> None:
    # GIVEN eight runs asking for one job's lease at the same moment
    start = threading.Barrier(8)
    won, refused = [], []

    def run() -> None:
        start.wait()
        try:
            won.append(acquire(str(tmp_path), "curate_events", stale_minutes=20))
        except LeaseHeld:
            refused.append(1)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # THEN exactly one holds it, the seven others were refused
    assert (len(won), len(refused)) == (1, 7)


def test_a_stale_lease_is_taken_over_with_a_warning_and_its_old_holder_cannot_commit(
    tmp_path: Path,
) -> None:
    # GIVEN a lease last renewed 30 minutes ago (its run died), with a 20-minute limit
    dead = acquire(str(tmp_path), "curate_events", stale_minutes=20)
    warnings: list[str] = []
    # WHEN a new run asks for it
    new = acquire(
        str(tmp_path),
        "curate_events",
        stale_minutes=20,
        warn=warnings.append,
        now=lambda: _later(30),
    )
    # THEN it takes it over, warning with the old holder's name and start
    assert len(warnings) == 1 and dead.holder in warnings[0] and "stale" in warnings[0]
    doc = json.loads((tmp_path / lease_key("curate_events")).read_text())
    assert doc["holder"] == new.holder
    # AND the old holder, should it wake up, loses its lease instead of committing
    with pytest.raises(LeaseLost):
        dead.renew()
    with pytest.raises(LeaseLost):
        dead.check()
    dead.release()  # leaves the new holder's lease alone
    assert json.loads((tmp_path / lease_key("curate_events")).read_text())["holder"] == new.holder


def test_of_runs_racing_for_a_stale_lease_exactly_one_takes_it_over(tmp_path: Path) -> None:
    # GIVEN a stale lease and six runs taking it over at once
    acquire(str(tmp_path), "curate_events", stale_minutes=20)
    start = threading.Barrier(6)
    won, refused = [], []

    def run() -> None:
        start.wait()
        try:
            won.append(
                acquire(
                    str(tmp_path),
                    "curate_events",
                    stale_minutes=20,
                    warn=lambda _: None,
                    now=lambda: _later(30),
                )
            )
        except LeaseHeld:
            refused.append(1)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # THEN one took it over (If-Match on the version read), five were refused
    assert (len(won), len(refused)) == (1, 5)


def test_a_running_job_renews_its_lease_and_releases_it_at_the_end(tmp_path: Path) -> None:
    # GIVEN a held lease renewed every 50 ms
    lease = acquire(str(tmp_path), "curate_events", stale_minutes=20)
    path = tmp_path / lease_key("curate_events")
    first = json.loads(path.read_text())["renewed_at"]
    lease.keep_renewed(0.05)
    time.sleep(0.3)
    # THEN its renewed_at moved on; WHEN released THEN the lease is gone
    assert json.loads(path.read_text())["renewed_at"] > first
    lease.release()
    assert not path.exists()


def test_load_titles_rewrites_stored_events_so_it_waits_for_a_running_curate(
    tmp_path: Path,
) -> None:
    # GIVEN a curate_events run holding its lease (it writes the events table)
    curate = acquire(str(tmp_path), "curate_events", stale_minutes=20)
    # WHEN load_titles (which re-enriches stored events) takes its leases THEN it is refused,
    # naming curate_events, and leaves no lease of its own behind
    with pytest.raises(LeaseHeld, match="curate_events is already running"):
        acquire_all(str(tmp_path), leases_of("load_titles"), stale_minutes=20)
    assert not (tmp_path / lease_key("load_titles")).exists()
    curate.release()
    # AND once curate is done load_titles holds both leases, so curate waits for it in turn
    titles = acquire_all(str(tmp_path), leases_of("load_titles"), stale_minutes=20)
    with pytest.raises(LeaseHeld, match="curate_events is already running"):
        acquire(str(tmp_path), "curate_events", stale_minutes=20)
    titles.release()
    assert list((tmp_path / "_state" / "leases").iterdir()) == []


def test_leases_follow_the_tables_each_job_writes() -> None:
    # GIVEN the tables each job writes
    tables = {t.name for t in ALL_TABLES}
    # THEN every table has a writer, and no job names a table that does not exist
    assert {name for names in WRITES.values() for name in names} == tables
    # AND two jobs that write one table hold each other's lease (edge case: load_titles rewrites
    # stored events, so it and curate_events exclude each other whichever starts first)
    for job in JOB_NAMES:
        for other in JOB_NAMES:
            shares = bool(set(WRITES[job]) & set(WRITES[other]))
            assert (other in leases_of(job)) == shares, (job, other)
    assert leases_of("build_sessions") == ("build_sessions",)
    # AND maintain, which rewrites every Delta table, holds the lease of each job writing one
    assert writers_of(DELTA_CAPABLE) == JOB_NAMES


def test_a_lease_read_again_before_a_write_finds_a_takeover(tmp_path: Path) -> None:
    # GIVEN a run holding curate_events' lease, which verifies it before each destructive write
    stalled = acquire(str(tmp_path), "curate_events", stale_minutes=20)
    stalled.verify()
    # WHEN the run stalls past lease_stale_minutes and another run takes the lease over
    newer = acquire(str(tmp_path), "curate_events", stale_minutes=20, now=lambda: _later(30))
    # THEN the stalled run's next check before a write fails, and the new holder keeps its lease
    with pytest.raises(LeaseLost, match="taken over"):
        stalled.verify()
    newer.verify()
    stalled.release()
    found = json.loads((tmp_path / lease_key("curate_events")).read_text())
    assert found["holder"] == newer.holder
