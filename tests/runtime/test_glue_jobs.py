"""The unmodified jobs/<job>.py scripts as AWS Glue jobs, against a test double of awsglue."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from clickstream.aws.deploy import glue_job_name
from clickstream.config import ConfigError
from clickstream.pipeline import JOB_NAMES, runner
from clickstream.runtime.glue import (
    UnlistedObjectsError,
    glue_settings,
    normalise_uri,
    transformation_ctx,
)
from clickstream.tables import DAILY_ACTIVE_USERS, EVENTS, QUARANTINE, SESSIONS, TITLES, Table
from clickstream.writer import read_table, table_schema
from tests.pipeline import lake_fixture as lf
from tests.runtime import job_main
from tests.runtime.fake_awsglue import (
    FILE,
    Call,
    GlueArgumentError,
    GlueDouble,
    csv_rows_frame,
    raw_lines_frame,
)

RAW_DATABASE = "raw"  # conf/base.yaml raw_database


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
    """A Glue double whose raw catalog tables cover the lake's raw objects and titles CSV."""
    double = GlueDouble(spark, watch=lake)
    double.register(RAW_DATABASE, "raw_clickstream", raw_lines_frame(spark, lake / "raw"))
    double.register(RAW_DATABASE, "ref_titles", csv_rows_frame(spark, lake / "ref" / "titles"))
    return double


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
def test_every_catalog_source_carries_a_stable_transformation_ctx(glue_runs: GlueRuns) -> None:
    def reads(run: dict[str, tuple[int, list[Call]]]) -> list[tuple[str, str, str, str]]:
        return [
            (job, c.detail["database"], c.detail["table_name"], c.detail["transformation_ctx"])
            for job, (_, calls) in run.items()
            for c in calls
            if c.kind == "from_catalog"
        ]

    # THEN the raw sources are read through the catalog, each with a non-empty ctx ...
    first = reads(glue_runs.first)
    assert first == [
        ("load_titles", RAW_DATABASE, "ref_titles", "load_titles_ref_titles"),
        ("curate_events", RAW_DATABASE, "raw_clickstream", "curate_events_raw_clickstream"),
    ]
    assert all(ctx for *_, ctx in first)
    # ... the same one on the next run (Glue keys its bookmark on it) ...
    assert reads(glue_runs.second) == first
    # ... and with the object name attached to every row
    for _, calls in glue_runs.first.values():
        for call in (c for c in calls if c.kind == "from_catalog"):
            assert call.detail["additional_options"]["attachFilename"] == "source_file"


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
def test_glue_bookmark_picks_the_objects_with_records(glue_runs: GlueRuns) -> None:
    # GIVEN four raw objects, one of them empty (Glue's reader gives no row for it)
    _, calls = glue_runs.first["curate_events"]
    (read,) = [c for c in calls if c.kind == "from_catalog"]
    objects = {normalise_uri(o) for o in read.detail["objects_returned"]}
    assert objects == {normalise_uri(glue_runs.sources[k]) for k in "abd"}


@pytest.mark.slow
def test_second_run_reads_no_new_objects_writes_nothing_and_commits_once(
    glue_runs: GlueRuns,
) -> None:
    # GIVEN Glue's bookmark advanced by the first run's commits
    for job, (_, calls) in glue_runs.second.items():
        # THEN each catalog read returns nothing new and each job commits exactly once
        for read in (c for c in calls if c.kind == "from_catalog"):
            assert read.detail["objects_returned"] == [], job
        assert [c.kind for c in calls].count("job.commit") == 1, job
    # AND no Parquet file was written or rewritten
    assert glue_runs.files_after_second == glue_runs.files_after_first


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
def test_a_failed_read_propagates_and_never_commits(fresh_glue: GlueDouble, tmp_path: Path) -> None:
    # GIVEN a catalog read that fails
    fresh_glue.read_error = OSError("S3 read timed out")
    # WHEN curate_events runs on Glue THEN the error reaches Glue, which marks the run failed
    with pytest.raises(OSError, match="S3 read timed out"):
        job_main("curate_events")(glue_argv("curate_events", tmp_path, catalog="none"))
    # AND the job was initialised but never committed; nothing was written
    assert len(fresh_glue.calls("job.init")) == 1
    assert fresh_glue.calls("job.commit") == []
    assert parquet_files(tmp_path) == {}


@pytest.mark.slow
def test_a_failure_after_the_write_never_commits_and_the_retry_reads_again(
    fresh_glue: GlueDouble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def catalog_down(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Glue Data Catalog unavailable")

    argv = glue_argv("load_titles", tmp_path, catalog="none")
    # GIVEN partition registration fails after load_titles wrote curated/titles
    with monkeypatch.context() as m:
        m.setattr(runner, "register_tables", catalog_down)
        with pytest.raises(RuntimeError, match="Glue Data Catalog unavailable"):
            job_main("load_titles")(argv)
    # THEN the write happened but job.commit never came: Glue's bookmark did not advance
    assert partitions(list(parquet_files(tmp_path)), TITLES) == [TITLES.location]
    assert fresh_glue.calls("job.commit") == [] and fresh_glue.committed == {}
    # WHEN the job runs again THEN it reads the titles again, and commits once
    assert job_main("load_titles")(argv) == 0
    reads = fresh_glue.calls("from_catalog")
    assert [len(r.detail["objects_returned"]) for r in reads] == [1, 1]
    assert len(fresh_glue.calls("job.commit")) == 1


@pytest.mark.slow
def test_objects_glue_reports_but_the_listing_missed_fail_before_any_write(
    spark: SparkSession, fresh_glue: GlueDouble, tmp_path: Path
) -> None:
    # GIVEN Glue reports an object that arrived after the job listed the raw zone
    late = (tmp_path / "elsewhere" / "clickstream-1-late").as_uri()
    raw = fresh_glue.tables[(RAW_DATABASE, "raw_clickstream")]
    extra = spark.createDataFrame([('{"event_id":"x"}', late)], f"line string, {FILE} string")
    fresh_glue.register(RAW_DATABASE, "raw_clickstream", raw.unionByName(extra))
    # WHEN curate_events runs THEN it fails naming the object, writes nothing, never commits
    with pytest.raises(UnlistedObjectsError, match="clickstream-1-late"):
        job_main("curate_events")(glue_argv("curate_events", tmp_path, catalog="none"))
    assert fresh_glue.calls("job.commit") == []
    assert parquet_files(tmp_path) == {}


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


@pytest.mark.parametrize(
    ("uri", "normal"),
    [
        ("s3://lake/raw/a.gz", "s3://lake/raw/a.gz"),
        ("s3a://lake/raw/a.gz", "s3://lake/raw/a.gz"),
        ("s3n://lake/raw/a.gz", "s3://lake/raw/a.gz"),
        ("S3://lake/raw/a%20b.gz", "s3://lake/raw/a b.gz"),
        ("file:///tmp/lake/a", "file:/tmp/lake/a"),
        ("file:/tmp/lake/a", "file:/tmp/lake/a"),
        ("/tmp/lake/a", "file:/tmp/lake/a"),
    ],
)
def test_object_uris_compare_in_one_spelling(uri: str, normal: str) -> None:
    assert normalise_uri(uri) == normal


def test_transformation_ctx_is_job_and_source() -> None:
    assert transformation_ctx("curate_events", "raw_clickstream") == (
        "curate_events_raw_clickstream"
    )
