"""State stays bounded: consumed change sets and old run records are pruned after a retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pyspark.sql import SparkSession

from clickstream import bookmarks
from clickstream.pipeline import changes
from clickstream.pipeline.context import JobContext
from clickstream.pipeline.derived import CONSUMERS, scope_for
from clickstream.pipeline.run_records import prune_runs
from clickstream.state_store import store_for
from tests.pipeline import incremental_helpers as ih

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _publish(lake: str, at: datetime, *, ready: bool = True) -> str:
    change_id = f"{at:%Y%m%dT%H%M%S%fZ}-0000abcd"
    changes.publish(lake, change_id, ["2026-11-01"], None, ["raw/a.json"])
    if ready:
        changes.mark_ready(lake, change_id)
    return change_id


def test_a_change_set_is_pruned_only_when_ready_consumed_by_every_consumer_and_old(
    spark: SparkSession, tmp_path: Path
) -> None:
    lake = str(tmp_path)
    old = NOW - timedelta(days=8)
    # GIVEN change sets past the 7-day retention: consumed by both derived jobs, by one only,
    # and never marked ready (a dead run's, which the next curate run must complete); and a
    # consumed set inside the retention
    done = _publish(lake, old)
    half = _publish(lake, old + timedelta(seconds=1))
    unready = _publish(lake, old + timedelta(seconds=2), ready=False)
    recent = _publish(lake, NOW - timedelta(days=1))
    consumed = [{done, half, unready, recent}, {done, unready, recent}]
    # WHEN the change sets are pruned
    pruned = changes.prune(spark, lake, consumed, retention_days=7, now=NOW)
    # THEN only the old, ready set every consumer processed is gone, folder and all
    assert pruned == [done]
    assert not (tmp_path / changes.CHANGES / done).exists()
    left = changes.list_change_sets(spark, lake, ready_only=False)
    assert sorted(left) == sorted([half, unready, recent])
    # AND pruning again changes nothing
    assert changes.prune(spark, lake, consumed, retention_days=7, now=NOW) == []


def test_run_records_older_than_the_retention_are_pruned_and_latest_stays(tmp_path: Path) -> None:
    store = store_for(str(tmp_path))
    # GIVEN run records from 10 days and 1 day ago, and the latest pointer
    for at in (NOW - timedelta(days=10), NOW - timedelta(days=1)):
        store.create(f"_runs/{at:%Y%m%dT%H%M%SZ}-abcdef.json", "{}")
    store.create("_runs/latest.json", "{}")
    # WHEN records started more than 7 days before NOW are pruned
    pruned = prune_runs(store, NOW - timedelta(days=7))
    # THEN the old record is gone; the recent one and latest.json stay
    assert pruned == [f"_runs/{NOW - timedelta(days=10):%Y%m%dT%H%M%SZ}-abcdef.json"]
    assert store.list("_runs") == [
        f"_runs/{NOW - timedelta(days=1):%Y%m%dT%H%M%SZ}-abcdef.json",
        "_runs/latest.json",
    ]


def _consume(spark: SparkSession, lake: Path, job: str) -> list[str]:
    """One derived job's selection of the ready change sets, committed as the job commits (its
    bookmark, then pruning); the ids it chose."""
    scope = scope_for(JobContext(spark, ih.lake_settings(lake, []), ih.quiet), job)
    assert scope.commit()
    return scope.selection.chosen


def test_the_last_consumer_to_process_an_old_change_set_prunes_it_when_it_commits(
    spark: SparkSession, tmp_path: Path
) -> None:
    lake = str(tmp_path)
    now = datetime.now(UTC)
    # GIVEN a change set past the retention (7 days) and a recent one, neither consumed
    old = _publish(lake, now - timedelta(days=9))
    recent = _publish(lake, now - timedelta(days=1))
    # WHEN the first consumer commits THEN both stay: the other has not processed them
    first, last = CONSUMERS
    assert sorted(_consume(spark, tmp_path, first)) == sorted([old, recent])
    assert set(changes.ready_change_ids(lake)) == {old, recent}
    # WHEN the last consumer commits THEN the old set is pruned, the recent one kept
    assert sorted(_consume(spark, tmp_path, last)) == sorted([old, recent])
    assert set(changes.ready_change_ids(lake)) == {recent}


def test_derived_bookmarks_forget_the_change_sets_pruned_since(
    spark: SparkSession, tmp_path: Path
) -> None:
    lake = str(tmp_path)
    now = datetime.now(UTC)
    # GIVEN two old change sets and one recent set, consumed by both derived jobs (the last
    # one's commit prunes the old sets)
    old = [_publish(lake, now - timedelta(days=9, seconds=s)) for s in (1, 2)]
    recent = _publish(lake, now - timedelta(days=1))
    for job in CONSUMERS:
        assert sorted(_consume(spark, tmp_path, job)) == sorted([*old, recent])
    assert set(changes.ready_change_ids(lake)) == {recent}
    # WHEN a new set arrives and the derived jobs consume it
    new = _publish(lake, now)
    for job in CONSUMERS:
        assert _consume(spark, tmp_path, job) == [new]
    # THEN their bookmarks hold the sets that still exist only, not the pruned ones
    for job in CONSUMERS:
        assert sorted(bookmarks.show(spark, lake, job)["processed"]) == sorted([recent, new])
