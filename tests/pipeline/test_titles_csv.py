"""The CSV source: the files present at a run are the snapshot as of that run."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from clickstream.pipeline import load_titles
from clickstream.pipeline.context import JobContext
from clickstream.pipeline.runner import rebuild_lake, run_pipeline
from clickstream.tables import EVENTS, TITLES, TITLES_HISTORY
from clickstream.writer import read_table
from tests.pipeline import incremental_helpers as ih

pytestmark = pytest.mark.slow

PAST = "2026-03-01T10:00:00Z"
FUTURE = "2030-01-01T10:00:00Z"  # after every run of this test: takes the latest snapshot
# Events years after their arrival: the plausible-time window is off for these lakes.
NO_WINDOW = ["event_time_max_future_minutes=null"]


def write_csv(lake: Path, text: str) -> None:
    (lake / "ref" / "titles").mkdir(parents=True, exist_ok=True)
    (lake / "ref" / "titles" / "titles.csv").write_text(text, encoding="utf-8")


def write_events(lake: Path) -> None:
    folder = lake / "raw" / "clickstream" / "2026" / "03" / "01" / "10"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        f'{{"event_id":"{e}","user_id":"u1","event_type":"play","event_time":"{t}",'
        f'"title_id":"{title}"}}'
        for e, t, title in (
            ("p1", PAST, "t1"),
            ("p2", PAST, "t2"),
            ("f1", FUTURE, "t1"),
            ("f2", FUTURE, "t2"),
        )
    ]
    name = "clickstream-1-2026-03-01-10-05-00-0a0a0a0a-0000-4000-8000-00000000000a"
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_later_snapshot_renames_and_deletes_from_its_run_on(spark: SparkSession, tmp_path: Path):
    # GIVEN a first snapshot with t1 and t2, and events long before and long after the runs
    write_csv(tmp_path, "title_id,title,genre\nt1,One,drama\nt2,Two,comedy\n")
    write_events(tmp_path)
    settings = ih.lake_settings(tmp_path, NO_WINDOW)
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    between = datetime.now()  # naive local time, as collected timestamps are
    # WHEN a second snapshot renames t1 and no longer lists t2
    write_csv(tmp_path, "title_id,title,genre\nt1,One (renamed),drama\n")
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN past events keep the first snapshot; future events take the second (t2 gone: nulls)
    titles = {r.event_id: r.title for r in read_table(spark, settings.lake, EVENTS).collect()}
    assert titles == {"p1": "One", "p2": "Two", "f1": "One (renamed)", "f2": None}
    # AND titles holds the current rows; the history closes t1's and t2's first versions together
    current = [tuple(r) for r in read_table(spark, settings.lake, TITLES).collect()]
    assert current == [("t1", "One (renamed)", "drama")]
    history = read_table(spark, settings.lake, TITLES_HISTORY).orderBy("title_id", "valid_from")
    rows = history.collect()
    assert [(r.title_id, r.title) for r in rows] == [
        ("t1", "One"),
        ("t1", "One (renamed)"),
        ("t2", "Two"),
    ]
    assert rows[0].valid_to == rows[1].valid_from == rows[2].valid_to > between
    assert rows[1].valid_to is None


def test_an_unchanged_snapshot_adds_no_version(spark: SparkSession, tmp_path: Path):
    # GIVEN a lake loaded once
    write_csv(tmp_path, "title_id,title,genre\nt1,One,drama\n")
    settings = ih.lake_settings(tmp_path, NO_WINDOW)
    run_pipeline(settings, ["load_titles"], spark=spark, echo=ih.quiet)
    # WHEN the file is rewritten with other bytes (CRLF line ends) but the same rows, and loaded
    write_csv(tmp_path, "title_id,title,genre\r\nt1,One,drama\r\n")
    run_pipeline(settings, ["load_titles"], spark=spark, echo=ih.quiet)
    # THEN the history still has one version
    assert read_table(spark, settings.lake, TITLES_HISTORY).count() == 1


def test_a_retried_run_keeps_the_time_of_the_snapshot_it_already_logged(
    spark: SparkSession, tmp_path: Path
):
    # GIVEN a snapshot loaded by a run that died before committing its bookmark
    write_csv(tmp_path, "title_id,title,genre\nt1,One,drama\n")
    settings = ih.lake_settings(tmp_path, NO_WINDOW)
    load_titles.run(JobContext(spark, settings, ih.quiet))  # no commit: as if the job died here
    logged = read_table(spark, settings.lake, TITLES_HISTORY).collect()
    # WHEN the job is retried later over the same files
    time.sleep(0.01)
    run_pipeline(settings, ["load_titles"], spark=spark, echo=ih.quiet)
    # THEN the snapshot keeps the time it was first logged with: the history is unchanged
    assert read_table(spark, settings.lake, TITLES_HISTORY).collect() == logged
    assert [r.valid_from for r in logged] == [logged[0].valid_from] and len(logged) == 1


def test_a_rebuild_keeps_the_reference_changes_the_lake_received(
    spark: SparkSession, tmp_path: Path
):
    # GIVEN two csv snapshots loaded by two runs (t1 renamed, t2 dropped by the second)
    write_csv(tmp_path, "title_id,title,genre\nt1,One,drama\nt2,Two,comedy\n")
    write_events(tmp_path)
    settings = ih.lake_settings(tmp_path, NO_WINDOW)
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    write_csv(tmp_path, "title_id,title,genre\nt1,One (renamed),drama\n")
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    history = sorted(map(tuple, read_table(spark, settings.lake, TITLES_HISTORY).collect()))
    # WHEN the lake is rebuilt from its raw objects
    rebuild_lake(settings, spark=spark, echo=ih.quiet)
    # THEN the snapshots the lake received stay (the files hold only the last one): the history,
    # with its times, and the events' titles are those of the incremental runs
    assert sorted(map(tuple, read_table(spark, settings.lake, TITLES_HISTORY).collect())) == history
    titles = {r.event_id: r.title for r in read_table(spark, settings.lake, EVENTS).collect()}
    assert titles == {"p1": "One", "p2": "Two", "f1": "One (renamed)", "f2": None}
