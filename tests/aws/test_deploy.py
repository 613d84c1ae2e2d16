"""deploy against a real moto server over HTTP: S3 artifacts, Glue jobs, catalog, EMR steps."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

import clickstream
from clickstream import jars
from clickstream.aws.deploy import (
    DeployPlan,
    deploy,
    ensure_job,
    glue_job_name,
)
from clickstream.aws.glue_catalog import (
    LAZY_SIMPLE_SERDE,
    OPEN_CSV_SERDE,
    PARQUET_INPUT,
    PARQUET_OUTPUT,
    PARQUET_SERDE,
    TEXT_INPUT,
    default_projection_start,
)
from clickstream.aws.packaging import Artifacts
from clickstream.config import ConfigError, Settings, load_settings
from clickstream.pipeline import JOB_NAMES
from clickstream.tables import ALL_TABLES

VERSION = clickstream.__version__
RELEASE = f"s3://clickstream-artifacts/releases/{VERSION}"
MUTATING_PREFIXES = ("Create", "Update", "Put", "Add", "Delete", "BatchCreate", "Start")


def _quiet(_: str) -> None:
    """Swallow deploy's progress lines."""


def _recording_session() -> tuple[boto3.Session, list[str]]:
    """A boto3 session that records the name of every API operation its clients call."""
    session = boto3.Session()
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    session.events.register("before-call", record)
    return session, calls


def _deploy(settings: Settings, artifacts: Artifacts, **kwargs: Any) -> DeployPlan:
    return deploy(settings, artifacts=artifacts, echo=_quiet, **kwargs)


def test_the_issue_deploy_call_works(artifacts: Artifacts, buckets: list[str]) -> None:
    lines: list[str] = []
    plan = deploy(
        load_settings(
            "dev",
            ["artifacts_uri=s3://clickstream-artifacts/releases", "lake_uri=s3://clickstream-lake"],
        ),
        artifacts=artifacts,
        echo=lines.append,
    )
    assert plan.changed and not plan.dry_run
    assert lines[0] == plan.header() and lines[-1] == plan.tally()
    assert {str(a) for a in plan.actions} <= set(lines)
    glue = boto3.client("glue")
    assert len(glue.get_jobs()["Jobs"]) == len(JOB_NAMES)
    table = glue.get_table(DatabaseName="clickstream_dev", Name="events")["Table"]
    assert table["StorageDescriptor"]["Location"] == "s3://clickstream-lake/curated/events/"


def test_glue_jobs_have_the_exact_definition(
    settings: Settings, artifacts: Artifacts, buckets: list[str]
) -> None:
    _deploy(settings, artifacts)
    glue = boto3.client("glue")
    for job in JOB_NAMES:
        name = glue_job_name("dev", job)
        assert name == f"clickstream-dev-{job.replace('_', '-')}"
        found = glue.get_job(JobName=name)["Job"]
        assert found["Command"] == {
            "Name": "glueetl",
            "ScriptLocation": f"{RELEASE}/jobs/{job}.py",
            "PythonVersion": "3",
        }
        assert found["DefaultArguments"] == {
            "--env": "dev",
            "--additional-python-modules": ",".join(
                [
                    f"{RELEASE}/clickstream_etl-{VERSION}-py3-none-any.whl",
                    *(f"{RELEASE}/python-modules/{w.name}" for w in artifacts.glue_modules),
                ]
            ),
            "--python-modules-installer-option": "--no-deps",
            "--extra-files": f"{RELEASE}/conf/base.yaml,{RELEASE}/conf/dev.yaml",
            "--job-bookmark-option": "job-bookmark-enable",
            "--enable-glue-datacatalog": "true",
            "--TempDir": "s3://clickstream-artifacts/releases/tmp/",
            "--enable-metrics": "true",
            "--enable-observability-metrics": "true",
            "--enable-continuous-cloudwatch-log": "true",
            "--enable-spark-ui": "true",
            "--spark-event-logs-path": "s3://clickstream-artifacts/releases/spark-event-logs/dev/",
        }
        assert found["GlueVersion"] == "5.0"
        assert found["WorkerType"] == "G.1X"
        assert found["NumberOfWorkers"] == 2
        assert found["Timeout"] == 60
        assert found["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
        assert found["ExecutionClass"] == "STANDARD"
        assert found["Role"] == "arn:aws:iam::123456789012:role/clickstream-glue-dev"


def test_worker_settings_come_from_config(artifacts: Artifacts, buckets: list[str]) -> None:
    settings = load_settings(
        "dev",
        [
            "artifacts_uri=s3://clickstream-artifacts/releases",
            "lake_uri=s3://clickstream-lake",
            "glue_worker_type=G.2X",
            "glue_number_of_workers=7",
            "glue_timeout_minutes=15",
        ],
    )
    _deploy(settings, artifacts)
    job = boto3.client("glue").get_job(JobName="clickstream-dev-curate-events")["Job"]
    assert (job["WorkerType"], job["NumberOfWorkers"], job["Timeout"]) == ("G.2X", 7, 15)


def test_artifacts_are_uploaded_to_the_versioned_prefix(
    settings: Settings, artifacts: Artifacts, buckets: list[str]
) -> None:
    _deploy(settings, artifacts)
    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket="clickstream-artifacts", Prefix=f"releases/{VERSION}/")
    keys = {o["Key"] for o in listed["Contents"]}
    expected = {f"releases/{VERSION}/{artifacts.relative(p)}" for p in artifacts.files()}
    assert keys == expected
    assert f"releases/{VERSION}/clickstream_etl-{VERSION}-py3-none-any.whl" in keys
    assert f"releases/{VERSION}/clickstream-{VERSION}.zip" in keys
    assert f"releases/{VERSION}/conf/dev.yaml" in keys
    assert f"releases/{VERSION}/jars/{jars.jars_for(*jars.POSTGRESQL)[0].name}" in keys
    body = s3.get_object(Bucket="clickstream-artifacts", Key=f"releases/{VERSION}/conf/base.yaml")
    assert body["Body"].read() == (artifacts.dist_dir / "conf" / "base.yaml").read_bytes()


def test_catalog_databases_and_curated_tables(
    settings: Settings, artifacts: Artifacts, buckets: list[str]
) -> None:
    _deploy(settings, artifacts)
    glue = boto3.client("glue")
    names = {d["Name"] for d in glue.get_databases()["DatabaseList"]}
    assert {"clickstream_dev", "clickstream_dev_quarantine", "clickstream_dev_raw"} <= names
    for table in ALL_TABLES:
        # the quarantine tables (raw payloads) in their own database, the others in the curated
        database = "clickstream_dev_quarantine" if "quarantine" in table.name else "clickstream_dev"
        found = glue.get_table(DatabaseName=database, Name=table.name)["Table"]
        sd = found["StorageDescriptor"]
        location = f"s3://clickstream-lake/{table.location}/"
        assert found["TableType"] == "EXTERNAL_TABLE"
        assert sd["Location"] == location
        assert sd["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
        assert (sd["InputFormat"], sd["OutputFormat"]) == (PARQUET_INPUT, PARQUET_OUTPUT)
        assert [c["Name"] for c in sd["Columns"]] == table.columns
        params = found["Parameters"]
        assert params["classification"] == "parquet"
        assert params["parquet.compression"] == "SNAPPY"
        if table.partitioned:
            assert found["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
            assert params["projection.enabled"] == "true"
            assert params["projection.dt.type"] == "date"
            assert params["projection.dt.format"] == "yyyy-MM-dd"
            # an empty lake: the projection starts yesterday (UTC); runs move it back
            assert params["projection.dt.range"] == f"{default_projection_start()},NOW+1DAYS"
            assert params["projection.dt.interval"] == "1"
            assert params["projection.dt.interval.unit"] == "DAYS"
            assert params["storage.location.template"] == location + "dt=${dt}/"
        else:
            assert not found.get("PartitionKeys")
            assert "projection.enabled" not in params
    events = glue.get_table(DatabaseName="clickstream_dev", Name="events")["Table"]
    types = {c["Name"]: c["Type"] for c in events["StorageDescriptor"]["Columns"]}
    assert types["event_time"] == "timestamp" and types["event_id"] == "string"
    sessions = glue.get_table(DatabaseName="clickstream_dev", Name="sessions")["Table"]
    types = {c["Name"]: c["Type"] for c in sessions["StorageDescriptor"]["Columns"]}
    assert types["event_count"] == "bigint" and types["duration_seconds"] == "double"


def test_raw_source_tables(settings: Settings, artifacts: Artifacts, buckets: list[str]) -> None:
    _deploy(settings, artifacts)
    glue = boto3.client("glue")
    raw = glue.get_table(DatabaseName="clickstream_dev_raw", Name="raw_clickstream")["Table"]
    sd = raw["StorageDescriptor"]
    assert sd["Location"] == "s3://clickstream-lake/raw/clickstream/"
    assert sd["InputFormat"] == TEXT_INPUT
    assert sd["SerdeInfo"]["SerializationLibrary"] == LAZY_SIMPLE_SERDE
    assert sd["Columns"] == [{"Name": "line", "Type": "string"}]
    # one partition per Firehose hour folder, projected (Athena reads no subfolders of a table)
    assert raw["PartitionKeys"] == [{"Name": "datehour", "Type": "string"}]
    params = raw["Parameters"]
    assert (params["projection.datehour.type"], params["projection.datehour.format"]) == (
        "date",
        "yyyy/MM/dd/HH",
    )
    assert params["projection.datehour.interval.unit"] == "HOURS"
    assert (
        params["storage.location.template"] == "s3://clickstream-lake/raw/clickstream/${datehour}/"
    )
    ref = glue.get_table(DatabaseName="clickstream_dev_raw", Name="ref_titles")["Table"]
    sd = ref["StorageDescriptor"]
    assert sd["Location"] == "s3://clickstream-lake/ref/titles/"
    assert sd["SerdeInfo"]["SerializationLibrary"] == OPEN_CSV_SERDE
    assert [c["Name"] for c in sd["Columns"]] == ["title_id", "title", "genre"]
    assert ref["Parameters"]["skip.header.line.count"] == "1"


def test_second_deploy_changes_nothing_and_calls_no_mutation(
    settings: Settings, artifacts: Artifacts, buckets: list[str]
) -> None:
    first = _deploy(settings, artifacts)
    assert first.changed
    session, calls = _recording_session()
    second = _deploy(settings, artifacts, session=session)
    assert not second.changed, second.summary()
    assert second.changes == []
    assert "no changes" in second.summary()
    assert calls, "the second deploy should still read the current state"
    assert [c for c in calls if c.startswith(MUTATING_PREFIXES)] == []
    assert {"HeadObject", "GetJob", "GetTable", "GetDatabase"} <= set(calls)


def test_changed_table_is_updated_then_stable(
    settings: Settings, artifacts: Artifacts, buckets: list[str]
) -> None:
    _deploy(settings, artifacts)
    glue = boto3.client("glue")
    table = glue.get_table(DatabaseName="clickstream_dev", Name="sessions")["Table"]
    drifted = {k: table[k] for k in ("Name", "TableType", "StorageDescriptor", "PartitionKeys")}
    drifted["Parameters"] = {**table["Parameters"], "projection.enabled": "false"}
    glue.update_table(DatabaseName="clickstream_dev", TableInput=drifted)
    plan = _deploy(settings, artifacts)
    assert [(a.kind, a.target) for a in plan.changes] == [("table", "clickstream_dev.sessions")]
    assert plan.changes[0].status == "updated"
    table = glue.get_table(DatabaseName="clickstream_dev", Name="sessions")["Table"]
    assert table["Parameters"]["projection.enabled"] == "true"
    assert not _deploy(settings, artifacts).changed


def test_changed_artifact_is_uploaded_again(
    settings: Settings, artifacts: Artifacts, buckets: list[str]
) -> None:
    _deploy(settings, artifacts)
    key = f"releases/{VERSION}/conf/dev.yaml"
    boto3.client("s3").put_object(Bucket="clickstream-artifacts", Key=key, Body=b"stale")
    plan = _deploy(settings, artifacts)
    assert [(a.target, a.status) for a in plan.changes] == [(f"{RELEASE}/conf/dev.yaml", "updated")]


class _FakeGlue:
    """Stands in for the Glue client where moto has no UpdateJob."""

    class exceptions:
        """Mirrors boto3's client.exceptions."""

        class EntityNotFoundException(Exception):
            pass

    def __init__(self, job: dict[str, Any] | None) -> None:
        self.job = job
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get_job(self, JobName: str) -> dict[str, Any]:
        if self.job is None:
            raise self.exceptions.EntityNotFoundException(JobName)
        return {"Job": self.job}

    def create_job(self, **kwargs: Any) -> None:
        self.calls.append(("create_job", kwargs))

    def update_job(self, **kwargs: Any) -> None:
        self.calls.append(("update_job", kwargs))


def test_changed_job_definition_is_updated_without_name_or_tags(
    settings: Settings, artifacts: Artifacts
) -> None:
    from clickstream.aws.deploy import deploy_targets, glue_job_definition, release_uris

    targets = deploy_targets(settings)
    definition = glue_job_definition(targets, release_uris(targets, artifacts), "load_titles")
    current = {k: v for k, v in definition.items() if k != "Tags"}
    current |= {"CreatedOn": "2024-01-01", "MaxCapacity": 2.0, "ExecutionClass": "STANDARD"}
    assert ensure_job(_FakeGlue(current), definition) == "unchanged"

    stale = {**current, "DefaultArguments": {**definition["DefaultArguments"], "--extra": "x"}}
    fake = _FakeGlue(stale)
    assert ensure_job(fake, definition) == "updated"
    (call, kwargs), *_ = fake.calls
    assert call == "update_job" and kwargs["JobName"] == definition["Name"]
    assert "Name" not in kwargs["JobUpdate"] and "Tags" not in kwargs["JobUpdate"]
    assert kwargs["JobUpdate"]["DefaultArguments"] == definition["DefaultArguments"]

    fake = _FakeGlue({**current, "NumberOfWorkers": 10})
    assert ensure_job(fake, definition) == "updated"
    fake = _FakeGlue(None)
    assert ensure_job(fake, definition) == "created"
    assert fake.calls == [("create_job", definition)]


def _no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make any HTTP request by botocore fail loudly; return the list of attempted operations."""
    import botocore.endpoint

    attempted: list[str] = []

    def refuse(self: Any, operation_model: Any, request_dict: Any) -> Any:
        attempted.append(operation_model.name)
        raise AssertionError(f"dry run called AWS: {operation_model.name}")

    monkeypatch.setattr(botocore.endpoint.Endpoint, "make_request", refuse)
    return attempted


def test_dry_run_prints_the_plan_and_calls_nothing(
    settings: Settings, artifacts: Artifacts, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempted = _no_network(monkeypatch)  # and AWS_ENDPOINT_URL points at a dead port
    lines: list[str] = []
    plan = deploy(settings, dry_run=True, artifacts=artifacts, echo=lines.append)
    assert attempted == []
    assert plan.dry_run and plan.changed
    assert {a.status for a in plan.actions} <= {"planned", "missing"}
    targets = {a.target for a in plan.actions}
    assert f"{RELEASE}/clickstream_etl-{VERSION}-py3-none-any.whl" in targets
    assert {glue_job_name("dev", job) for job in JOB_NAMES} <= targets
    assert {f"{settings.database_of(t.name)}.{t.name}" for t in ALL_TABLES} <= targets
    assert {"clickstream_dev", "clickstream_dev_quarantine", "clickstream_dev_raw"} <= targets
    assert "dry run" in lines[0]
    assert all(str(a) in lines for a in plan.actions)


def test_dry_run_leaves_the_endpoint_untouched(
    settings: Settings, artifacts: Artifacts, buckets: list[str]
) -> None:
    plan = _deploy(settings, artifacts, dry_run=True)
    assert plan.actions
    assert boto3.client("glue").get_jobs()["Jobs"] == []
    assert boto3.client("glue").get_databases()["DatabaseList"] == []
    assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket="clickstream-artifacts")


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["artifacts_uri=null"], "artifacts_uri"),
        (["artifacts_uri="], "artifacts_uri"),
        (["artifacts_uri=/tmp/releases"], "artifacts_uri"),
        (["lake_uri=clickstream-lake", "lake_root=s3://clickstream-lake"], "lake_uri"),
        (["lake_root=.lake"], "lake_root"),
        (["glue_role_arn=null"], "glue_role_arn"),
    ],
)
def test_bad_settings_fail_fast_naming_the_key(
    overrides: list[str],
    key: str,
    artifacts: Artifacts,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempted = _no_network(monkeypatch)
    settings = load_settings("dev", overrides)
    with pytest.raises(ConfigError, match=key):
        deploy(settings, artifacts=artifacts, echo=_quiet)
    with pytest.raises(ConfigError, match=key):
        deploy(settings, artifacts=artifacts, echo=_quiet, dry_run=True)
    assert attempted == []


def test_missing_artifacts_uri_fails_before_building(monkeypatch: pytest.MonkeyPatch) -> None:
    import clickstream.aws.deploy as deploy_module

    built: list[object] = []
    monkeypatch.setattr(deploy_module, "build_package", lambda *a, **k: built.append(a))
    settings = load_settings("local")
    with pytest.raises(ConfigError, match="artifacts_uri is not set"):
        deploy(settings, echo=_quiet)
    assert built == []


def test_missing_bucket_is_reported(settings: Settings, artifacts: Artifacts, moto: str) -> None:
    from clickstream.aws.deploy import DeployError

    boto3.client("s3").create_bucket(Bucket="clickstream-lake")
    with pytest.raises(DeployError, match="artifacts_uri=s3://clickstream-artifacts/releases"):
        _deploy(settings, artifacts)
