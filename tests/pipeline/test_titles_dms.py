"""Titles from an AWS DMS target folder: full load, CDC (plain and gzip), reloads, and events
re-enriched when a change arrives after them."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from clickstream.config import ConfigError, Settings
from clickstream.pipeline import load_titles
from clickstream.pipeline.context import JobContext
from clickstream.pipeline.runner import run_pipeline
from clickstream.reference import dms_source
from clickstream.tables import EVENTS, QUARANTINE_TITLES, SESSIONS, TITLES, TITLES_HISTORY
from clickstream.writer import read_table
from tests.pipeline import incremental_helpers as ih

pytestmark = pytest.mark.slow

HEADER = "Op,dms_commit_ts,title_id,title,genre\n"
LOAD_V1 = (
    HEADER
    + "I,2026-02-28 00:00:00.000000,t1,Old One,drama\n"
    + 'I,2026-02-28 00:00:00.000000,t2,"Two, with a comma",comedy\n'
    + "I,2026-02-28 00:00:00.000001,t3,셋,thriller\n"
)
# Arrives after the events: t1 renamed at 03-01 12:00, t9 (referenced before) inserted 03-02.
CDC_RENAME = (
    HEADER
    + "U,2026-03-01 12:00:00.000000,t1,New One,drama\n"
    + "I,2026-03-02 00:00:00.000000,t9,Nine,kids\n"
)
# gzip: t2 deleted at 03-02 00:00.
CDC_DELETE = HEADER + "D,2026-03-02 00:00:00.000000,t2,,\n"
# A full reload on 03-05 without t9 (and t2 still gone).
LOAD_V2 = (
    HEADER
    + "I,2026-03-05 00:00:00.000000,t1,New One,drama\n"
    + "I,2026-03-05 00:00:00.000000,t3,셋,thriller\n"
)
EVENTS_DAY_1 = (
    '{"event_id":"e1","user_id":"u1","event_type":"play","event_time":"2026-03-01T10:00:00Z","title_id":"t1"}\n'
    '{"event_id":"e3","user_id":"u1","event_type":"play","event_time":"2026-03-01T11:00:00Z","title_id":"t2"}\n'
    '{"event_id":"e5","user_id":"u2","event_type":"view","event_time":"2026-03-01T09:00:00Z","title_id":"t9"}\n'
)
EVENTS_LATER = (
    '{"event_id":"e2","user_id":"u1","event_type":"play","event_time":"2026-03-02T10:00:00Z","title_id":"t1"}\n'
    '{"event_id":"e4","user_id":"u1","event_type":"play","event_time":"2026-03-03T10:00:00Z","title_id":"t2"}\n'
    '{"event_id":"e6","user_id":"u2","event_type":"play","event_time":"2026-03-03T11:00:00Z","title_id":"t3"}\n'
    '{"event_id":"e7","user_id":"u2","event_type":"play","event_time":"2026-03-04T10:00:00Z","title_id":"t3"}\n'
)
DMS = Path("ref/dms/public/titles")
Titles = dict[str, tuple[str | None, str | None]]


def write_events(lake: Path) -> None:
    for hour, stamp, text in (
        ("2026/03/01/12", "2026-03-01-12-00-00", EVENTS_DAY_1),
        ("2026/03/04/12", "2026-03-04-12-00-00", EVENTS_LATER),
    ):
        folder = lake / "raw" / "clickstream" / hour
        folder.mkdir(parents=True, exist_ok=True)
        name = f"clickstream-1-{stamp}-0a0a0a0a-0000-4000-8000-00000000000a"
        (folder / name).write_text(text, encoding="utf-8")


def write_dms(lake: Path, name: str, text: str, *, mtime: int) -> None:
    path = lake / DMS / name
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
    os.utime(path, (mtime, mtime))


def write_cdc(lake: Path) -> None:
    write_dms(lake, "20260301-1200000000.csv", CDC_RENAME, mtime=1_772_400_000)
    write_dms(lake, "20260302-0000000000.csv.gz", CDC_DELETE, mtime=1_772_400_001)


def settings_for(lake: Path) -> Settings:
    return ih.lake_settings(lake, ["titles_source=dms"])


def event_titles(spark: SparkSession, settings: Settings) -> Titles:
    rows = read_table(spark, settings.lake, EVENTS).collect()
    return {r.event_id: (r.title, r.genre) for r in rows}


def partition_files(settings: Settings, dt: str) -> dict[str, float]:
    folder = Path(settings.lake) / EVENTS.location / f"dt={dt}"
    return {p.name: p.stat().st_mtime for p in folder.iterdir()}


@dataclass
class Scenario:
    settings: Settings
    before: Titles
    after_cdc: Titles
    after_reload: Titles
    untouched_day_files: tuple[dict[str, float], dict[str, float]]
    titles_after_reload: dict[str, str | None]
    reenriched: int


@pytest.fixture(scope="module")
def scenario(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """Run 1: full load + all events. Run 2: two CDC files (one gzip) arrive after the events.
    Run 3: a full reload without t9."""
    lake = tmp_path_factory.mktemp("dms")
    settings = settings_for(lake)
    write_events(lake)
    write_dms(lake, "LOAD00000001.csv", LOAD_V1, mtime=1_772_000_000)
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    before = event_titles(spark, settings)
    day4 = partition_files(settings, "2026-03-04")
    write_cdc(lake)
    summary = run_pipeline(settings, spark=spark, echo=ih.quiet)
    after_cdc = event_titles(spark, settings)
    day4_after = partition_files(settings, "2026-03-04")
    write_dms(lake, "LOAD00000001.csv", LOAD_V2, mtime=1_772_700_000)
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    titles = {r.title_id: r.title for r in read_table(spark, settings.lake, TITLES).collect()}
    return Scenario(
        settings,
        before,
        after_cdc,
        event_titles(spark, settings),
        (day4, day4_after),
        titles,
        summary["jobs"]["load_titles"]["event_dates_reenriched"],
    )


def test_events_take_the_full_load_when_no_change_came_yet(scenario: Scenario):
    # GIVEN only the full load (t9 unknown) WHEN the pipeline ran THEN events carry its values
    assert scenario.before == {
        "e1": ("Old One", "drama"),
        "e2": ("Old One", "drama"),
        "e3": ("Two, with a comma", "comedy"),
        "e4": ("Two, with a comma", "comedy"),
        "e5": (None, None),
        "e6": ("셋", "thriller"),
        "e7": ("셋", "thriller"),
    }


def test_a_rename_between_two_events_of_one_user_arriving_by_cdc_after_them(scenario: Scenario):
    # GIVEN e1 (03-01 10:00) and e2 (03-02) of u1 curated, then a CDC file renaming t1 at 12:00
    # WHEN the pipeline runs again
    # THEN e1 keeps the old name and e2 gets the new one
    assert scenario.after_cdc["e1"] == ("Old One", "drama")
    assert scenario.after_cdc["e2"] == ("New One", "drama")


def test_a_delete_in_a_gzip_cdc_file_gives_later_events_nulls(scenario: Scenario):
    # GIVEN t2 deleted at 03-02 00:00 by a gzip CDC file WHEN the pipeline runs again
    # THEN the event before the delete keeps t2, the one after gets nulls
    assert scenario.after_cdc["e3"] == ("Two, with a comma", "comedy")
    assert scenario.after_cdc["e4"] == (None, None)


def test_an_insert_of_a_title_events_referenced_before_it_existed(scenario: Scenario):
    # GIVEN e5 (03-01 09:00) of t9, and t9 inserted only on 03-02
    # WHEN the CDC file arrives THEN e5 takes t9's first version
    assert scenario.after_cdc["e5"] == ("Nine", "kids")


def test_a_late_change_rewrites_only_the_dates_it_affects(scenario: Scenario):
    # GIVEN t1's rename and t9's insert touch 03-01 and 03-02, t2's delete 03-03; 03-04 holds t3
    # WHEN the CDC files arrive
    # THEN three dates are re-enriched and 03-04's files are left as they were
    assert scenario.reenriched == 3
    assert scenario.untouched_day_files[0] == scenario.untouched_day_files[1]
    assert scenario.after_cdc["e6"] == scenario.after_cdc["e7"] == ("셋", "thriller")


def test_a_full_reload_deletes_absent_titles_from_its_time_only(scenario: Scenario):
    # GIVEN a reload on 03-05 without t9 WHEN the pipeline runs
    # THEN t9 leaves the current titles, and earlier events keep their values
    assert scenario.titles_after_reload == {"t1": "New One", "t3": "셋"}
    assert scenario.after_reload == scenario.after_cdc


def test_incremental_runs_equal_one_run_over_the_same_files(
    spark: SparkSession,
    scenario: Scenario,
    tmp_path: Path,
    assert_frames_equal: Callable[..., None],
):
    # GIVEN a fresh lake holding every raw object and every DMS file the scenario saw
    write_events(tmp_path)
    write_dms(tmp_path, "LOAD00000001.csv", LOAD_V1, mtime=1_772_000_000)
    write_cdc(tmp_path)
    full = settings_for(tmp_path)
    run_pipeline(full, spark=spark, echo=ih.quiet)
    write_dms(tmp_path, "LOAD00000001.csv", LOAD_V2, mtime=1_772_700_000)
    # WHEN one run reads them (the reload in a second run, as the first load was overwritten)
    run_pipeline(full, spark=spark, echo=ih.quiet)
    # THEN events, sessions and the titles history equal the incremental lake's
    for table in (EVENTS, SESSIONS, TITLES_HISTORY):
        assert_frames_equal(
            ih.comparable(spark, full, table), ih.comparable(spark, scenario.settings, table)
        )


def test_the_sample_lake_runs_with_titles_from_its_dms_files(spark: SparkSession, tmp_path: Path):
    # GIVEN a generated sample lake (it writes a DMS full load and one CDC file per day)
    from clickstream_tools.sample import generate_sample

    generate_sample(tmp_path, events=300, users=20, days=2, seed=5, titles=30)
    settings = settings_for(tmp_path)
    # WHEN the whole pipeline runs with titles_source=dms
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN the history holds the CDC versions (renames, the new titles) and the titles table the
    # current ones: deleted titles absent, inserted ones present
    history = read_table(spark, settings.lake, TITLES_HISTORY)
    current = {r.title_id for r in read_table(spark, settings.lake, TITLES).collect()}
    renamed = history.where(F.col("title").endswith("(Director's Cut)")).count()
    closed = history.where(F.col("valid_to").isNotNull()).count()
    assert renamed == 2 and closed >= 4
    assert {"t9000", "t9001"} <= current and len(current) == 30 + 2 - 2


def test_columns_are_taken_by_header_name_and_extra_columns_are_ignored(
    spark: SparkSession, tmp_path: Path
):
    # GIVEN a CDC file whose table has more columns, in another order
    text = (
        "Op,dms_commit_ts,genre,created_by,title_id,title\n"
        'U,2026-03-01 12:00:00.250000,drama,alice,t1,"One, renamed"\n'
    )
    write_dms(tmp_path, "20260301-1200000000.csv", text, mtime=1_772_400_000)
    path = f"file:{tmp_path / DMS / '20260301-1200000000.csv'}"
    # WHEN read as changes
    rows = dms_source.dms_changes(spark, dms_source.DmsBatch([path], None)).collect()
    # THEN each value lands in its column, the time keeps its microseconds
    assert [(r.title_id, r.title, r.genre, r.op, r.source) for r in rows] == [
        ("t1", "One, renamed", "drama", "U", "20260301-1200000000.csv")
    ]
    assert rows[0].changed_at.microsecond == 250000


def test_bad_dms_rows_go_to_quarantine_with_their_reason_and_the_run_goes_on(
    spark: SparkSession, tmp_path: Path
):
    # GIVEN a full load with one row without a title_id, and a CDC file with a rename and rows
    # with an unknown Op and an unparsable dms_commit_ts
    write_dms(
        tmp_path,
        "LOAD00000001.csv",
        HEADER
        + "I,2026-02-28 00:00:00.000000,t1,One,drama\nI,2026-02-28 00:00:00.000000,,Nobody,g\n",
        mtime=1_772_000_000,
    )
    write_dms(
        tmp_path,
        "20260301-1200000000.csv",
        HEADER
        + "X,2026-03-01 12:00:00.000000,t1,Bad op,g\n"
        + "U,2026-03-01 12:00:00.000000,t1,One (renamed),drama\n"
        + "U,01/03/2026 13:00,t1,Bad time,g\n",
        mtime=1_772_400_000,
    )
    settings = settings_for(tmp_path)
    # WHEN load_titles runs
    said: list[str] = []
    summary = run_pipeline(settings, ["load_titles"], spark=spark, echo=said.append)
    # THEN the good rows are changes: t1 and its rename
    history = read_table(spark, settings.lake, TITLES_HISTORY).orderBy("valid_from").collect()
    assert [r.title for r in history] == ["One", "One (renamed)"]
    # AND each bad row is in quarantine_titles once, with the rule it broke, its file and time
    folder = f"file://{tmp_path / DMS}"
    quarantined = read_table(spark, settings.lake, QUARANTINE_TITLES).collect()
    assert sorted((r.reason, r.source_file, r.ingested_at.timestamp()) for r in quarantined) == [
        ("invalid_dms_commit_ts", f"{folder}/20260301-1200000000.csv", 1_772_400_000),
        ("missing_title_id", f"{folder}/LOAD00000001.csv", 1_772_000_000),
        ("unknown_op", f"{folder}/20260301-1200000000.csv", 1_772_400_000),
    ]
    by_reason = {r.reason: json.loads(r.record) for r in quarantined}
    assert by_reason["unknown_op"] == {
        "Op": "X",
        "dms_commit_ts": "2026-03-01 12:00:00.000000",
        "title_id": "t1",
        "title": "Bad op",
        "genre": "g",
    }
    assert by_reason["invalid_dms_commit_ts"]["dms_commit_ts"] == "01/03/2026 13:00"
    # AND the run summary counts them by reason, and prints the count
    by_count = {"invalid_dms_commit_ts": 1, "missing_title_id": 1, "unknown_op": 1}
    job = summary["jobs"]["load_titles"]
    assert (job["titles_quarantined"], job["titles_quarantined_by_reason"]) == (3, by_count)
    assert summary["totals"]["titles_quarantined"] == 3
    printed = "\n".join(said).splitlines()
    assert [line.split() for line in printed if "title rows quarantined" in line] == [
        ["title", "rows", "quarantined", "3"]
    ]


def test_reading_the_same_dms_files_again_quarantines_their_bad_rows_once(
    spark: SparkSession, tmp_path: Path
):
    # GIVEN a full load with a bad row, loaded by a run that died before its bookmark commit
    bad_load = HEADER + "I,2026-02-28 00:00:00.000000,t1,One,drama\nZ,2026-02-28,t2,Two,g\n"
    write_dms(tmp_path, "LOAD00000001.csv", bad_load, mtime=1_772_000_000)
    settings = settings_for(tmp_path)
    load_titles.run(JobContext(spark, settings, ih.quiet))  # no commit: as if the job died here
    # WHEN the run is repeated, then a CDC file arrives, then the full load is rewritten (a
    # reload with the same rows), then a reload whose bad row has another place
    run_pipeline(settings, ["load_titles"], spark=spark, echo=ih.quiet)
    cdc = HEADER + "U,2026-03-01 12:00:00.000000,t1,One (renamed),drama\n"
    write_dms(tmp_path, "20260301-1200000000.csv", cdc, mtime=1_772_400_000)
    run_pipeline(settings, ["load_titles"], spark=spark, echo=ih.quiet)
    after_cdc = read_table(spark, settings.lake, QUARANTINE_TITLES).count()
    write_dms(tmp_path, "LOAD00000001.csv", bad_load, mtime=1_772_700_000)
    run_pipeline(settings, ["load_titles"], spark=spark, echo=ih.quiet)
    after_reload = read_table(spark, settings.lake, QUARANTINE_TITLES).collect()
    moved = HEADER + "Z,2026-02-28,t2,Two,g\nI,2026-03-05 00:00:00.000000,t1,One,drama\n"
    write_dms(tmp_path, "LOAD00000001.csv", moved, mtime=1_772_800_000)
    run_pipeline(settings, ["load_titles"], spark=spark, echo=ih.quiet)
    # THEN the bad row is there once, dated by the first read, through retries and reloads;
    # the same content at another place of the file is another row
    assert after_cdc == 1
    assert [(r.reason, r.ingested_at.timestamp()) for r in after_reload] == [
        ("unknown_op", 1_772_000_000)
    ]
    rows = read_table(spark, settings.lake, QUARANTINE_TITLES).collect()
    assert sorted((r.reason, r.ingested_at.timestamp()) for r in rows) == [
        ("unknown_op", 1_772_000_000),
        ("unknown_op", 1_772_800_000),
    ]


def test_files_without_the_op_column_fail_naming_the_endpoint_settings(
    spark: SparkSession, tmp_path: Path
):
    # GIVEN a full-load file written without IncludeOpForFullLoad (no Op column)
    write_dms(
        tmp_path,
        "LOAD00000001.csv",
        "dms_commit_ts,title_id,title,genre\n2026-03-01 12:00:00.000000,t1,A,g\n",
        mtime=1,
    )
    path = f"file:{tmp_path / DMS / 'LOAD00000001.csv'}"
    # WHEN read THEN the error names titles_dms_path and the settings to fix
    with pytest.raises(
        ConfigError, match=r"^titles_dms_path: .*no column\(s\) Op .*IncludeOpForFullLoad=true"
    ):
        dms_source.dms_changes(spark, dms_source.DmsBatch([path], "s1"))
