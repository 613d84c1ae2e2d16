"""Glue operator options on moto over HTTP: metrics, logs, Spark UI, Flex, job-run queuing."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from clickstream.aws.deploy import deploy, ensure_job, glue_job_name
from clickstream.aws.iam_policy import policy_documents
from clickstream.aws.packaging import Artifacts
from clickstream.config import ConfigError, load_settings
from clickstream.pipeline import JOB_NAMES
from tests.aws.conftest import ISSUE_OVERRIDES

EVENT_LOGS = "s3://clickstream-artifacts/releases/spark-event-logs/dev/"


def _deploy_recording(overrides: tuple[str, ...], artifacts: Artifacts) -> list[dict[str, Any]]:
    """Deploy dev with the overrides; the CreateJob requests as sent to the server."""
    session = boto3.Session()
    sent: list[dict[str, Any]] = []
    session.events.register(
        "provide-client-params.glue.CreateJob", lambda params, **_: sent.append(dict(params))
    )
    settings = load_settings("dev", [*ISSUE_OVERRIDES, *overrides])
    deploy(settings, artifacts=artifacts, echo=lambda _: None, session=session)
    return sent


def test_every_glue_job_carries_metrics_continuous_logs_and_the_spark_ui(
    artifacts: Artifacts, buckets: list[str]
) -> None:
    # GIVEN a deploy with the defaults
    sent = _deploy_recording((), artifacts)
    glue = boto3.client("glue")
    # THEN every job, read back, has the operator options, event logs under the artifacts bucket
    for job in JOB_NAMES:
        found = glue.get_job(JobName=glue_job_name("dev", job))["Job"]
        arguments = found["DefaultArguments"]
        for option in (
            "--enable-metrics",
            "--enable-observability-metrics",
            "--enable-continuous-cloudwatch-log",
            "--enable-spark-ui",
        ):
            assert arguments[option] == "true", (job, option)
        assert arguments["--spark-event-logs-path"] == EVENT_LOGS
        assert found["ExecutionClass"] == "STANDARD"
    # AND job-run queuing is asked for (moto keeps no JobRunQueuingEnabled to read back)
    assert len(sent) == len(JOB_NAMES)
    assert all(request["JobRunQueuingEnabled"] is True for request in sent)


def test_flex_and_no_queuing_from_config_and_a_second_deploy_changes_nothing(
    artifacts: Artifacts, buckets: list[str]
) -> None:
    # GIVEN glue_execution_class=FLEX and queuing off
    options = ("glue_execution_class=FLEX", "glue_job_run_queuing=false")
    sent = _deploy_recording(options, artifacts)
    # THEN the jobs run Flex, and queuing is off in every request
    glue = boto3.client("glue")
    job = glue.get_job(JobName=glue_job_name("dev", "curate_events"))["Job"]
    assert job["ExecutionClass"] == "FLEX"
    assert {request["JobRunQueuingEnabled"] for request in sent} == {False}
    # AND deploying again creates and updates nothing
    plan = deploy(
        load_settings("dev", [*ISSUE_OVERRIDES, *options]), artifacts=artifacts, echo=lambda _: None
    )
    assert not plan.changed, plan.summary()


class _Glue:
    """A Glue client holding one job as GetJob returns it (moto has no UpdateJob)."""

    class exceptions:
        class EntityNotFoundException(Exception):
            pass

    def __init__(self, job: dict[str, Any]) -> None:
        self.job, self.updates = job, []  # type: ignore[var-annotated]

    def get_job(self, JobName: str) -> dict[str, Any]:
        return {"Job": self.job}

    def update_job(self, **kwargs: Any) -> None:
        self.updates.append(kwargs)


def test_a_job_whose_queuing_or_execution_class_drifted_is_updated(
    artifacts: Artifacts,
) -> None:
    from clickstream.aws.deploy import deploy_targets, glue_job_definition, release_uris

    targets = deploy_targets(load_settings("dev", ISSUE_OVERRIDES))
    definition = glue_job_definition(targets, release_uris(targets, artifacts), "curate_events")
    current = {k: v for k, v in definition.items() if k != "Tags"}
    # GIVEN GetJob reporting queuing off, or the other execution class THEN each is updated
    for drift in ({"JobRunQueuingEnabled": False}, {"ExecutionClass": "FLEX"}):
        glue = _Glue({**current, **drift})
        assert ensure_job(glue, definition) == "updated", drift
        assert glue.updates[0]["JobUpdate"]["JobRunQueuingEnabled"] is True
    # AND an answer without the field (a service that does not report it) is no difference
    unreported = {k: v for k, v in current.items() if k != "JobRunQueuingEnabled"}
    assert ensure_job(_Glue(unreported), definition) == "unchanged"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("glue_execution_class=flex",), "glue_execution_class='flex': use one of STANDARD, FLEX"),
        (
            ("glue_execution_class=FLEX", "glue_worker_type=G.4X"),
            "glue_execution_class=FLEX runs on G.1X or G.2X workers only, not "
            "glue_worker_type='G.4X'",
        ),
        (("glue_job_run_queuing=maybe",), "glue_job_run_queuing='maybe': expected true or false"),
    ],
)
def test_bad_glue_options_fail_fast_naming_the_key(
    overrides: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ConfigError, match="^" + message.replace(".", r"\.").replace("(", r"\(")):
        load_settings("dev", [*ISSUE_OVERRIDES, *overrides])


def test_the_glue_role_may_write_event_logs_and_publish_run_metrics_in_their_namespace() -> None:
    documents = policy_documents(load_settings("dev", [*ISSUE_OVERRIDES, "metrics_namespace=Ops"]))
    sids = {s["Sid"]: s for s in documents["glue_job_role"]["Statement"]}
    assert sids["GlueSparkEventLogs"]["Resource"] == [
        "arn:aws:s3:::clickstream-artifacts/releases/spark-event-logs/dev/*"
    ]
    condition = sids["GlueMetrics"]["Condition"]["StringEquals"]["cloudwatch:namespace"]
    assert condition == ["Glue", "Ops"]
    emr = {s["Sid"]: s for s in documents["emr_instance_profile"]["Statement"]}
    assert emr["RunMetrics"]["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Ops"}}
    # metrics: none grants only Glue's own namespace, and EMR none
    quiet = policy_documents(load_settings("dev", [*ISSUE_OVERRIDES, "metrics=none"]))
    glue = {s["Sid"]: s for s in quiet["glue_job_role"]["Statement"]}
    assert glue["GlueMetrics"]["Condition"]["StringEquals"]["cloudwatch:namespace"] == "Glue"
    assert "RunMetrics" not in {s["Sid"] for s in quiet["emr_instance_profile"]["Statement"]}
