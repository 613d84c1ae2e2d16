"""The unmodified jobs/<job>.py scripts as AWS Glue jobs, against a test double of awsglue."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from clickstream import bookmarks
from clickstream.aws.deploy import glue_job_name
from clickstream.config import ConfigError
from clickstream.leases import LeaseHeld, acquire, lease_key
from clickstream.pipeline import JOB_NAMES, PIPELINE, runner
from clickstream.runtime.glue import glue_settings
from clickstream.tables import DAILY_ACTIVE_USERS, EVENTS, QUARANTINE, SESSIONS, TITLES, Table
from clickstream.writer import read_table, table_schema
from tests.pipeline import lake_fixture as lf
from tests.runtime import job_main
from tests.runtime.fake_awsglue import Call, GlueArgumentError, GlueDouble


def glue_argv(job: str, lake: Path, catalog: str = "hive") -> list[str]:
    """The arguments Glue passes to the script of a job deployed with --env local."""
    return [
        "--JOB_ID",
        "j_0123",
        "--JOB_RUN_ID",
        "jr_0123",
        "--JOB_NAME",
        glue_job_name("local", job),
        "--env",
        "local",
        "--conf_overrides",
        f"lake_root={lake};catalog={catalog}",
        "--job-bookmark-option",
        "job-bookmark-enable",
        "--enable-glue-datacatalog",
        "true",
    ]


def glue_with_lake(spark: SparkSession, lake: Path) -> GlueDouble:
    """A Glue double watching the lake's Parquet files (no catalog tables: jobs list S3)."""
    return GlueDouble(spark, watch=lake)


def run_script(double: GlueDouble, job: str, argv: list[str]) -> tuple[int, list[Call]]:
    """Run jobs/<job>.py main(argv); its exit code and the Glue calls it made."""
    start = len(double.log)
    code = job_main(job)(argv)
    return code, double.log[start:]


def parquet_files(lake: Path) -> dict[str, int]:
    """Every Parquet file under the lake with its modification time."""
    return {str(p.relative_to(lake)): p.stat().st_mtime_ns for p in lake.rglob("*.parquet")}


def partitions(files: list[str], table: Table) -> list[str]:
    """The dt=... folders (or the table folder itself, when unpartitioned) holding files."""
    prefix = f"{table.location}/"
    found = {f[len(prefix) :].split("/")[0] for f in files if f.startswith(prefix)}
    return sorted(p if p.startswith("dt=") else table.location for p in found)


@dataclass
class GlueRuns:
    """Two passes of the four job scripts on Glue over one lake, and what they did."""

    lake: Path
    sources: dict[str, str]
    double: GlueDouble
    first: dict[str, tuple[int, list[Call]]]
    second: dict[str, tuple[int, list[Call]]]
    files_after_first: dict[str, int]
    files_after_second: dict[str, int]


@pytest.fixture(scope="module")
def glue_runs(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GlueRuns]:
    # GIVEN the hand-built lake, and Glue's catalog tables over its raw objects
    lake = tmp_path_factory.mktemp("glue_lake")
    sources = lf.build_lake(lake)
    double = glue_with_lake(spark, lake)
    with pytest.MonkeyPatch.context() as mp:
        double.install(mp)
        # WHEN the four scripts run as Glue jobs, in order, twice
        first = {job: run_script(double, job, glue_argv(job, lake)) for job in JOB_NAMES}
        files_after_first = parquet_files(lake)
        second = {job: run_script(double, job, glue_argv(job, lake)) for job in JOB_NAMES}
    spark.sparkContext.setLogLevel("ERROR")
    yield GlueRuns(lake, sources, double, first, second, files_after_first, parquet_files(lake))


def frame(spark: SparkSession, table: Table, rows: list[tuple]) -> DataFrame:
    return spark.createDataFrame(rows, table_schema(table))


@pytest.mark.slow
def test_every_script_exits_zero_on_glue(glue_runs: GlueRuns) -> None:
    codes = [code for run in (glue_runs.first, glue_runs.second) for code, _ in run.values()]
    assert codes == [0] * 2 * len(JOB_NAMES)


@pytest.mark.slow
def test_glue_runs_read_no_object_through_glues_reader(glue_runs: GlueRuns) -> None:
    # THEN no job asks Glue's reader for its inputs: each raw object is read once, by the
    # project's Firehose reader, and chosen by the project's bookmark store
    for run in (glue_runs.first, glue_runs.second):
        for job, (_, calls) in run.items():
            assert [c for c in calls if c.kind == "from_catalog"] == [], job


WRITES = {
    "load_titles": {TITLES: [TITLES.location]},
    "curate_events": {
        EVENTS: ["dt=2026-03-01", "dt=2026-03-02"],
        QUARANTINE: ["dt=2026-03-01"],
    },
    "build_sessions": {SESSIONS: ["dt=2026-03-01"]},
    "daily_active_users": {DAILY_ACTIVE_USERS: ["dt=2026-03-01", "dt=2026-03-02"]},
}


@pytest.mark.slow
@pytest.mark.parametrize("job", JOB_NAMES)
def test_job_init_comes_first_and_commit_once_after_the_write(
    glue_runs: GlueRuns, job: str
) -> None:
    _, calls = glue_runs.first[job]
    kinds = [c.kind for c in calls]
    # THEN job.init precedes every read, and job.commit is the last call, made once ...
    assert kinds[: kinds.index("job.init") + 1] == ["getResolvedOptions", "GlueContext", "job.init"]
    assert kinds.count("job.init") == 1 and kinds.count("job.commit") == 1
    assert kinds[-1] == "job.commit"
    init, commit = calls[kinds.index("job.init")], calls[-1]
    assert init.detail["args"]["JOB_NAME"] == glue_job_name("local", job)
    # ... after the job's partitions were written (none of them existed at init)
    for table, written in WRITES[job].items():
        assert partitions(init.detail["files"], table) == []
        assert partitions(commit.detail["files"], table) == written


@pytest.mark.slow
def test_glue_runs_write_the_expected_tables(
    spark: SparkSession, glue_runs: GlueRuns, assert_frames_equal: Callable[..., None]
) -> None:
    lake, sources = str(glue_runs.lake), glue_runs.sources
    expected = {
        EVENTS: lf.expected_events(sources),
        SESSIONS: lf.expected_sessions(),
        DAILY_ACTIVE_USERS: lf.EXPECTED_DAU,
        QUARANTINE: lf.expected_quarantine(sources),
    }
    for table, rows in expected.items():
        assert_frames_equal(read_table(spark, lake, table), frame(spark, table, rows))


@pytest.mark.slow
def test_second_run_reads_no_new_objects_writes_nothing_and_commits_once(
    glue_runs: GlueRuns,
) -> None:
    # GIVEN the bookmarks advanced by the first run
    for job, (_, calls) in glue_runs.second.items():
        # THEN each job commits exactly once
        assert [c.kind for c in calls].count("job.commit") == 1, job
    # AND no Parquet file was written or rewritten but the run's data-quality results (one row
    # per rule and run: a run that found nothing is judged too, freshness and volume above all)
    dq = "curated/dq_results/"
    after = {k: v for k, v in glue_runs.files_after_second.items() if not k.startswith(dq)}
    assert after == {k: v for k, v in glue_runs.files_after_first.items() if not k.startswith(dq)}
    added = set(glue_runs.files_after_second) - set(glue_runs.files_after_first)
    assert len(added) == 1 and next(iter(added)).startswith(dq)


@pytest.mark.slow
def test_the_pipeline_script_runs_every_job_in_one_glue_job_and_commits_once(
    spark: SparkSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    assert_frames_equal: Callable[..., None],
) -> None:
    # GIVEN the hand-built lake and Glue (a single Glue job deployed with glue_single_job)
    sources = lf.build_lake(tmp_path)
    double = glue_with_lake(spark, tmp_path).install(monkeypatch)
    # WHEN jobs/pipeline.py runs as that Glue job
    code, calls = run_script(double, PIPELINE, glue_argv(PIPELINE, tmp_path))
    spark.sparkContext.setLogLevel("ERROR")
    # THEN it exits 0, with one job.init first and one job.commit last, after every write
    kinds = [c.kind for c in calls]
    assert code == 0
    assert kinds[: kinds.index("job.init") + 1] == ["getResolvedOptions", "GlueContext", "job.init"]
    assert kinds.count("job.init") == 1 and kinds.count("job.commit") == 1
    assert kinds[-1] == "job.commit"
    for written in WRITES.values():
        for table, dts in written.items():
            assert partitions(calls[-1].detail["files"], table) == dts
    # AND it wrote what the four Glue jobs write, and every job's bookmark advanced
    expected = {
        EVENTS: lf.expected_events(sources),
        SESSIONS: lf.expected_sessions(),
        DAILY_ACTIVE_USERS: lf.EXPECTED_DAU,
        QUARANTINE: lf.expected_quarantine(sources),
    }
    for table, rows in expected.items():
        assert_frames_equal(read_table(spark, str(tmp_path), table), frame(spark, table, rows))
    for job in JOB_NAMES:
        assert bookmarks.show(spark, str(tmp_path), job)["processed"], job


@pytest.fixture
def glue_api(spark: SparkSession, monkeypatch: pytest.MonkeyPatch) -> GlueDouble:
    """The fake awsglue modules, with no catalog tables."""
    return GlueDouble(spark).install(monkeypatch)


@pytest.fixture
def fresh_glue(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GlueDouble]:
    lf.build_lake(tmp_path)
    yield glue_with_lake(spark, tmp_path).install(monkeypatch)
    spark.sparkContext.setLogLevel("ERROR")


@pytest.mark.slow
def test_a_failure_after_the_write_never_commits_and_the_retry_reads_again(
    spark: SparkSession, fresh_glue: GlueDouble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def catalog_down(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Glue Data Catalog unavailable")

    argv = glue_argv("load_titles", tmp_path, catalog="none")
    # GIVEN partition registration fails after load_titles wrote curated/titles
    with monkeypatch.context() as m:
        m.setattr(runner, "register_tables", catalog_down)
        with pytest.raises(RuntimeError, match="Glue Data Catalog unavailable"):
            job_main("load_titles")(argv)
    # THEN the write happened but neither job.commit nor the bookmark commit came
    assert partitions(list(parquet_files(tmp_path)), TITLES) == [TITLES.location]
    assert fresh_glue.calls("job.commit") == []
    assert bookmarks.show(spark, str(tmp_path), "load_titles")["processed"] == {}
    # WHEN the job runs again THEN it reads the titles again, commits once, and records them
    assert job_main("load_titles")(argv) == 0
    assert len(fresh_glue.calls("job.commit")) == 1
    processed = bookmarks.show(spark, str(tmp_path), "load_titles")["processed"]
    assert "titles.csv" in [Path(uri).name for uri in processed]


def _deliver_on_first_write(monkeypatch: pytest.MonkeyPatch, source: Path, target: Path) -> None:
    """Firehose delivers `target` (moved from `source`) when the run starts writing Parquet."""
    from pyspark.sql.readwriter import DataFrameWriter

    for name in ("parquet", "save"):
        original = getattr(DataFrameWriter, name)

        def write(self: DataFrameWriter, *args: object, _original=original, **kw: object) -> None:
            if source.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                source.rename(target)
            return _original(self, *args, **kw)

        monkeypatch.setattr(DataFrameWriter, name, write)


@pytest.mark.slow
def test_an_object_delivered_during_a_glue_run_is_read_once_by_the_next_run(
    spark: SparkSession,
    fresh_glue: GlueDouble,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    assert_frames_equal: Callable[..., None],
) -> None:
    # GIVEN the raw zone without object d, which Firehose delivers while curate_events writes
    sources = lf.build_lake(tmp_path)
    d = Path(sources["d"].removeprefix("file:"))
    held = tmp_path / "firehose-buffer" / d.name
    held.parent.mkdir()
    d.rename(held)
    argv = glue_argv("curate_events", tmp_path, catalog="none")
    assert job_main("load_titles")(glue_argv("load_titles", tmp_path, catalog="none")) == 0
    with monkeypatch.context() as m:
        _deliver_on_first_write(m, held, d)
        # WHEN curate_events runs on Glue THEN it succeeds although the raw zone changed
        assert job_main("curate_events")(argv) == 0
    assert d.exists()
    processed = bookmarks.show(spark, str(tmp_path), "curate_events")["processed"]
    assert not any(uri.endswith(d.name) for uri in processed)
    first = {r.event_id for r in read_table(spark, str(tmp_path), EVENTS).collect()}
    assert {"e7", "e8", "e9"}.isdisjoint(first)
    # WHEN the next hourly run comes THEN it reads d once: the events equal one full run's
    assert job_main("curate_events")(argv) == 0
    expected = frame(spark, EVENTS, lf.expected_events(sources))
    assert_frames_equal(read_table(spark, str(tmp_path), EVENTS), expected)
    # AND no run asked Glue's reader for anything
    assert fresh_glue.calls("from_catalog") == []
    assert len(fresh_glue.calls("job.commit")) == 3


def glue_only_argv(*extra: str) -> list[str]:
    return ["--JOB_NAME", "clickstream-local-curate-events", "--env", "local", *extra]


def test_glue_bookmark_option_becomes_the_bookmark_option_setting(
    glue_api: GlueDouble, tmp_path: Path
) -> None:
    # GIVEN Glue's --job-bookmark-option and a conflicting conf override
    args, settings = glue_settings(
        glue_only_argv(
            "--conf_overrides",
            f"lake_root={tmp_path}; bookmark_option=job-bookmark-enable",
            "--job-bookmark-option",
            "job-bookmark-pause",
        )
    )
    # THEN Glue's option wins, so the change-set bookmarks follow Glue's
    assert settings.bookmark_option == "job-bookmark-pause"
    assert settings.lake == str(tmp_path) and args["JOB_NAME"] == "clickstream-local-curate-events"


def test_without_glue_bookmark_option_the_config_keeps_its_own(glue_api: GlueDouble) -> None:
    _, settings = glue_settings(glue_only_argv())
    assert settings.bookmark_option == "job-bookmark-enable"  # conf/base.yaml


def test_glue_arguments_are_required_like_on_glue(glue_api: GlueDouble) -> None:
    with pytest.raises(GlueArgumentError, match="--env"):
        glue_settings(["--JOB_NAME", "clickstream-local-load-titles"])


def test_a_bad_conf_override_names_the_key(glue_api: GlueDouble) -> None:
    with pytest.raises(ConfigError, match="no_such_key"):
        glue_settings(glue_only_argv("--conf_overrides", "no_such_key=1"))


@pytest.mark.slow
def test_a_glue_run_takes_the_jobs_lease_before_spark_and_fails_fast_while_it_is_held(
    fresh_glue: GlueDouble, tmp_path: Path
) -> None:
    # GIVEN an EMR step (or a local run) holding curate_events' lease on the lake
    held = acquire(str(tmp_path), "curate_events", stale_minutes=20)
    try:
        # WHEN the Glue job of curate_events starts THEN it fails, naming the holder, before
        # Glue's job.init (no Spark work, nothing to commit)
        with pytest.raises(LeaseHeld, match=held.holder):
            job_main("curate_events")(glue_argv("curate_events", tmp_path))
        assert fresh_glue.calls("job.init") == []
    finally:
        held.release()
    # AND once it is released the Glue run takes the lease, runs, and gives it back
    assert job_main("curate_events")(glue_argv("curate_events", tmp_path)) == 0
    assert not (tmp_path / lease_key("curate_events")).exists()
