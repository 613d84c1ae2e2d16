"""titles_source=jdbc against a real PostgreSQL server: versions by key, watermark, overlap, and
one-line failures naming the setting."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from clickstream.bookmarks import show
from clickstream.config import ConfigError, Settings
from clickstream.pipeline import load_titles
from clickstream.pipeline.context import JobContext
from clickstream.pipeline.runner import run_pipeline
from clickstream.tables import EVENTS, QUARANTINE_TITLES, TITLES, TITLES_HISTORY
from clickstream.writer import read_table
from tests.pipeline import incremental_helpers as ih
from tests.reference.postgres_server import PASSWORD, USER, Server, free_port

pytestmark = pytest.mark.slow

ENV = "CLICKSTREAM_TITLES_DB_PASSWORD"


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, PASSWORD)


def make_table(server: Server, name: str, rows: list[tuple[str, str, str, str]]) -> None:
    server.sql(
        f"DROP TABLE IF EXISTS {name}; CREATE TABLE {name} (title_id text PRIMARY KEY, "
        "title text, genre text, updated_at timestamp(6) NOT NULL);"
    )
    upsert(server, name, rows)


def upsert(server: Server, name: str, rows: list[tuple[str, str, str, str]]) -> None:
    values = ", ".join(f"('{t}', '{n}', '{g}', '2026-03-01 {hhmm}:00')" for t, n, g, hhmm in rows)
    server.sql(
        f"INSERT INTO {name} VALUES {values} ON CONFLICT (title_id) DO UPDATE SET "
        "title = excluded.title, genre = excluded.genre, updated_at = excluded.updated_at;"
    )


def settings(lake: Path, server: Server, table: str, *more: str) -> Settings:
    return ih.lake_settings(
        lake,
        [
            "titles_source=jdbc",
            f"titles_jdbc_url={server.url}",
            f"titles_jdbc_table={table}",
            f"titles_jdbc_user={USER}",
            # The test server listens on loopback without TLS (the default, require, refuses it:
            # test_sslmode_require_refuses_a_server_without_tls).
            "titles_jdbc_sslmode=disable",
            *more,
        ],
    )


def versions(spark: SparkSession, s: Settings) -> list[tuple]:
    rows = read_table(spark, s.lake, TITLES_HISTORY).orderBy("title_id", "valid_from").collect()
    return [
        (
            r.title_id,
            r.title,
            r.valid_from.strftime("%H:%M"),
            r.valid_to and r.valid_to.strftime("%H:%M"),
        )
        for r in rows
    ]


def test_each_pulled_row_is_a_version_as_of_its_key_value(
    spark: SparkSession, postgres: Server, tmp_path: Path
):
    # GIVEN t1 written at 10:00 and pulled
    make_table(postgres, "public.t_versions", [("t1", "One", "drama", "10:00")])
    s = settings(tmp_path, postgres, "public.t_versions")
    run_pipeline(s, ["load_titles"], spark=spark, echo=ih.quiet)
    # WHEN t1 is renamed at 11:00 and pulled again
    upsert(postgres, "public.t_versions", [("t1", "One (renamed)", "drama", "11:00")])
    run_pipeline(s, ["load_titles"], spark=spark, echo=ih.quiet)
    # THEN the history has a version per pulled row, from its updated_at
    assert versions(spark, s) == [
        ("t1", "One", "10:00", "11:00"),
        ("t1", "One (renamed)", "11:00", None),
    ]
    assert [tuple(r) for r in read_table(spark, s.lake, TITLES).collect()] == [
        ("t1", "One (renamed)", "drama")
    ]


def test_a_restart_of_the_jdbc_pull_resumes_from_its_watermark(
    spark: SparkSession, postgres: Server, tmp_path: Path
):
    # GIVEN a pull of t1 (10:00) and t2 (10:30) committed: watermark 10:30
    make_table(postgres, "public.t_restart", [("t1", "A", "g", "10:00"), ("t2", "B", "g", "10:30")])
    s = settings(tmp_path, postgres, "public.t_restart", "titles_jdbc_overlap_minutes=15")
    run_pipeline(s, ["load_titles"], spark=spark, echo=ih.quiet)
    # AND a pull of t3 (12:00) that wrote its changes but died before committing the watermark
    upsert(postgres, "public.t_restart", [("t3", "C", "g", "12:00")])
    load_titles.run(JobContext(spark, s, ih.quiet))  # no commit: as if the job died here
    assert show(spark, s.lake, "load_titles")["processed"]["watermark"].startswith(
        "2026-03-01 10:30:00"
    )
    # WHEN the job restarts
    said: list[str] = []
    run_pipeline(s, ["load_titles"], spark=spark, echo=said.append)
    # THEN it pulls from the watermark minus the overlap, and no version is doubled
    assert any("from 2026-03-01 10:15:00.000000 to 2026-03-01 12:00:00.000000" in m for m in said)
    assert versions(spark, s) == [
        ("t1", "A", "10:00", None),
        ("t2", "B", "10:30", None),
        ("t3", "C", "12:00", None),
    ]
    watermark = show(spark, s.lake, "load_titles")["processed"]["watermark"]
    assert watermark == "2026-03-01 12:00:00.000000"


def test_the_overlap_window_catches_a_row_committed_late_with_an_older_key(
    spark: SparkSession, postgres: Server, tmp_path: Path
):
    # GIVEN t1 pulled at watermark 12:00 with a 60-minute overlap
    make_table(postgres, "public.t_overlap", [("t1", "A", "g", "12:00")])
    s = settings(tmp_path, postgres, "public.t_overlap", "titles_jdbc_overlap_minutes=60")
    run_pipeline(s, ["load_titles"], spark=spark, echo=ih.quiet)
    # WHEN rows committed later carry older keys: 11:30 (inside the window), 10:00 (outside)
    upsert(postgres, "public.t_overlap", [("t2", "B", "g", "11:30"), ("t3", "C", "g", "10:00")])
    run_pipeline(s, ["load_titles"], spark=spark, echo=ih.quiet)
    # THEN t2 is caught, t1 is not doubled; t3 is below the window and stays unseen
    assert versions(spark, s) == [("t1", "A", "12:00", None), ("t2", "B", "11:30", None)]


def test_a_wrong_password_fails_fast_naming_the_setting(
    spark: SparkSession, postgres: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # GIVEN the password variable holds a wrong password
    make_table(postgres, "public.t_badpw", [("t1", "A", "g", "10:00")])
    monkeypatch.setenv(ENV, "wrong")
    s = settings(tmp_path, postgres, "public.t_badpw")
    # WHEN load_titles runs THEN one line names the user setting and the variable
    with pytest.raises(ConfigError, match=rf"^titles_jdbc_user: .*\${ENV} \(SQLSTATE 28P01\)$"):
        run_pipeline(s, ["load_titles"], spark=spark, echo=ih.quiet)


def test_sslmode_require_refuses_a_server_without_tls(
    spark: SparkSession, postgres: Server, tmp_path: Path
):
    # GIVEN the loopback test server (no TLS) and the default titles_jdbc_sslmode, require
    make_table(postgres, "public.t_tls", [("t1", "A", "g", "10:00")])
    s = settings(tmp_path, postgres, "public.t_tls", "titles_jdbc_sslmode=require")
    # WHEN load_titles runs THEN the driver refuses to connect without TLS, naming the setting
    with pytest.raises(ConfigError, match=r"^titles_jdbc_sslmode: .* with sslmode=require"):
        run_pipeline(s, ["load_titles"], spark=spark, echo=ih.quiet)


def test_a_password_in_the_url_is_never_echoed(spark: SparkSession, tmp_path: Path):
    # GIVEN a URL carrying credentials, to a port nothing listens on
    url = f"jdbc:postgresql://etl:hunter2@127.0.0.1:{free_port()}/appdb?password=hunter3"
    s = ih.lake_settings(
        tmp_path,
        ["titles_source=jdbc", f"titles_jdbc_url={url}", f"titles_jdbc_user={USER}"],
    )
    # WHEN load_titles fails THEN the error names the URL without either password
    with pytest.raises(ConfigError) as failed:
        run_pipeline(s, ["load_titles"], spark=spark, echo=ih.quiet)
    assert "hunter" not in str(failed.value) and "***@127.0.0.1" in str(failed.value)


def test_an_unreachable_host_fails_fast_naming_the_setting(spark: SparkSession, tmp_path: Path):
    # GIVEN a URL whose port nothing listens on
    url = f"jdbc:postgresql://127.0.0.1:{free_port()}/appdb"
    s = ih.lake_settings(
        tmp_path,
        ["titles_source=jdbc", f"titles_jdbc_url={url}", f"titles_jdbc_user={USER}"],
    )
    # WHEN load_titles runs THEN it fails within seconds, naming titles_jdbc_url
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"^titles_jdbc_url: cannot reach the database at "):
        run_pipeline(s, ["load_titles"], spark=spark, echo=ih.quiet)
    assert time.monotonic() - started < 30


def test_a_missing_password_variable_fails_naming_it(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # GIVEN no password in the environment
    monkeypatch.delenv(ENV)
    s = ih.lake_settings(
        tmp_path,
        [
            "titles_source=jdbc",
            "titles_jdbc_url=jdbc:postgresql://127.0.0.1:1/x",
            "titles_jdbc_user=u",
        ],
    )
    # WHEN load_titles runs THEN the error names the setting and the variable
    with pytest.raises(ConfigError, match=rf"^titles_jdbc_password_env='{ENV}': .* not set"):
        run_pipeline(s, ["load_titles"], spark=spark, echo=ih.quiet)


def test_titles_of_events_follow_the_database_rows(
    spark: SparkSession, postgres: Server, tmp_path: Path
):
    # GIVEN events at 10:30 and 11:30 and t1 renamed at 11:00 in the database
    make_table(postgres, "public.t_events", [("t1", "Old", "g", "10:00")])
    upsert(postgres, "public.t_events", [("t1", "New", "g", "11:00")])
    folder = tmp_path / "raw" / "clickstream" / "2026" / "03" / "01" / "12"
    folder.mkdir(parents=True)
    lines = [
        f'{{"event_id":"{e}","user_id":"u1","event_type":"play","event_time":"2026-03-01T{t}:00Z","title_id":"t1"}}'
        for e, t in (("e1", "10:30"), ("e2", "11:30"))
    ]
    name = "clickstream-1-2026-03-01-12-00-00-0a0a0a0a-0000-4000-8000-00000000000a"
    (folder / name).write_text("\n".join(lines), encoding="utf-8")
    s = settings(tmp_path, postgres, "public.t_events")
    # WHEN the pipeline runs (only the 11:00 row exists now: the 10:00 one was overwritten)
    run_pipeline(s, spark=spark, echo=ih.quiet)
    titles = {r.event_id: r.title for r in read_table(spark, s.lake, EVENTS).collect()}
    # THEN both events take the only version known (the first one reaches back in time)
    assert titles == {"e1": "New", "e2": "New"}


def test_rows_without_a_key_value_or_a_title_id_go_to_quarantine_once(
    spark: SparkSession, postgres: Server, tmp_path: Path
):
    # GIVEN a table whose columns allow nulls: t1 at 10:00, t2 with no updated_at, a row with no
    # title_id at 10:30
    postgres.sql(
        "DROP TABLE IF EXISTS public.t_nulls; CREATE TABLE public.t_nulls (title_id text, "
        "title text, genre text, updated_at timestamp(6)); INSERT INTO public.t_nulls VALUES "
        "('t1', 'One', 'g', '2026-03-01 10:00:00'), ('t2', 'Two', 'g', NULL), "
        "(NULL, 'Nobody', 'g', '2026-03-01 10:30:00');"
    )
    s = settings(tmp_path, postgres, "public.t_nulls", "titles_jdbc_overlap_minutes=60")
    # WHEN load_titles pulls, and pulls again after a new row (the overlap re-reads 10:30)
    first = run_pipeline(s, ["load_titles"], spark=spark, echo=ih.quiet)
    postgres.sql("INSERT INTO public.t_nulls VALUES ('t3', 'Three', 'g', '2026-03-01 11:00:00');")
    run_pipeline(s, ["load_titles"], spark=spark, echo=ih.quiet)
    # THEN the versions are t1 and t3; each bad row is quarantined once with its reason
    assert versions(spark, s) == [("t1", "One", "10:00", None), ("t3", "Three", "11:00", None)]
    rows = read_table(spark, s.lake, QUARANTINE_TITLES).collect()
    assert sorted((r.reason, json.loads(r.record)["title"], r.source_file) for r in rows) == [
        ("missing_key", "Two", f"{postgres.url}#public.t_nulls"),
        ("missing_title_id", "Nobody", f"{postgres.url}#public.t_nulls"),
    ]
    # AND the first run's summary counted them
    assert first["jobs"]["load_titles"]["titles_quarantined_by_reason"] == {
        "missing_key": 1,
        "missing_title_id": 1,
    }
