"""Deploy's alerts on moto over HTTP: the topic, EventBridge rules on failures, metric alarms."""

from __future__ import annotations

import json

import boto3
import pytest

from clickstream.aws.deploy import deploy, glue_job_name
from clickstream.aws.packaging import Artifacts
from clickstream.config import ConfigError, load_settings
from clickstream.pipeline import JOB_NAMES
from tests.aws.conftest import ISSUE_OVERRIDES

TOPIC = "clickstream-dev-alerts"


def _topic_arn() -> str:
    arns = [t["TopicArn"] for t in boto3.client("sns").list_topics()["Topics"]]
    (arn,) = [a for a in arns if a.endswith(f":{TOPIC}")]
    return arn


def test_deploy_creates_the_topic_failure_rules_and_alarms_once(
    artifacts: Artifacts, buckets: list[str]
) -> None:
    # GIVEN dev's settings (metrics: cloudwatch; freshness 180 min; quarantine rate 5%)
    settings = load_settings("dev", list(ISSUE_OVERRIDES))
    # WHEN deploying
    plan = deploy(settings, artifacts=artifacts, echo=lambda _: None)
    # THEN the topic exists, and EventBridge and CloudWatch may publish to it
    arn = _topic_arn()
    policy = json.loads(
        boto3.client("sns").get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"]
    )
    (statement,) = policy["Statement"]
    assert statement["Action"] == "sns:Publish" and statement["Resource"] == arn
    assert set(statement["Principal"]["Service"]) == {
        "events.amazonaws.com",
        "cloudwatch.amazonaws.com",
    }
    # AND a rule sends the project's failed or timed-out Glue job runs to the topic
    events = boto3.client("events")
    glue_rule = events.describe_rule(Name="clickstream-dev-glue-job-failures")
    pattern = json.loads(glue_rule["EventPattern"])
    assert pattern["source"] == ["aws.glue"]
    assert pattern["detail-type"] == ["Glue Job State Change"]
    assert pattern["detail"]["jobName"] == sorted(glue_job_name("dev", j) for j in JOB_NAMES)
    assert pattern["detail"]["state"] == ["FAILED", "TIMEOUT", "ERROR"]
    # AND another its failed EMR steps
    emr_rule = json.loads(
        events.describe_rule(Name="clickstream-dev-emr-step-failures")["EventPattern"]
    )
    assert emr_rule["detail-type"] == ["EMR Step Status Change"]
    assert emr_rule["detail"]["name"] == sorted(glue_job_name("dev", j) for j in JOB_NAMES)
    assert emr_rule["detail"]["state"] == ["FAILED"]
    for rule in ("clickstream-dev-glue-job-failures", "clickstream-dev-emr-step-failures"):
        targets = events.list_targets_by_rule(Rule=rule)["Targets"]
        assert [t["Arn"] for t in targets] == [arn]
    # AND three alarms watch curate_events' figures and notify the topic
    alarms = {
        a["AlarmName"]: a
        for a in boto3.client("cloudwatch").describe_alarms(AlarmNamePrefix="clickstream-dev-")[
            "MetricAlarms"
        ]
    }
    assert sorted(alarms) == [
        "clickstream-dev-dq-failures",
        "clickstream-dev-freshness-lag",
        "clickstream-dev-quarantine-rate",
    ]
    expected = {
        "clickstream-dev-dq-failures": ("dq_failures", 0.0, "notBreaching"),
        "clickstream-dev-quarantine-rate": ("quarantine_rate", 5.0, "notBreaching"),
        "clickstream-dev-freshness-lag": ("freshness_lag_seconds", 180 * 60.0, "breaching"),
    }
    for name, (metric, threshold, missing) in expected.items():
        alarm = alarms[name]
        assert (alarm["MetricName"], alarm["Threshold"], alarm["TreatMissingData"]) == (
            metric,
            threshold,
            missing,
        )
        assert alarm["Namespace"] == "Clickstream" and alarm["AlarmActions"] == [arn]
        dims = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        assert dims == {"env": "dev", "job": "curate_events"}
    created = {
        a.target: a.status for a in plan.actions if a.kind in ("topic", "event-rule", "alarm")
    }
    assert set(created.values()) == {"created"}
    # WHEN deploying again THEN nothing changes
    again = deploy(settings, artifacts=artifacts, echo=lambda _: None)
    assert not again.changed, again.summary()


def test_a_configured_topic_is_used_as_it_is_and_a_changed_threshold_updates_its_alarm(
    artifacts: Artifacts, buckets: list[str]
) -> None:
    # GIVEN an on-call topic of the team's own
    oncall = boto3.client("sns").create_topic(Name="oncall")["TopicArn"]
    overrides = [*ISSUE_OVERRIDES, f"alerts_topic_arn={oncall}"]
    deploy(load_settings("dev", overrides), artifacts=artifacts, echo=lambda _: None)
    # THEN no topic of the project's is made, and the rules and alarms notify the team's topic
    assert not [t for t in boto3.client("sns").list_topics()["Topics"] if TOPIC in t["TopicArn"]]
    targets = boto3.client("events").list_targets_by_rule(Rule="clickstream-dev-glue-job-failures")
    assert [t["Arn"] for t in targets["Targets"]] == [oncall]
    # WHEN quarantine_rate_max changes and deploy runs again
    changed = [*overrides, "dq_rules.quarantine_rate_max.threshold=2"]
    plan = deploy(load_settings("dev", changed), artifacts=artifacts, echo=lambda _: None)
    # THEN only that alarm is updated
    assert [(a.kind, a.target) for a in plan.changes] == [
        ("alarm", "clickstream-dev-quarantine-rate")
    ]
    (alarm,) = boto3.client("cloudwatch").describe_alarms(
        AlarmNames=["clickstream-dev-quarantine-rate"]
    )["MetricAlarms"]
    assert alarm["Threshold"] == 2.0


def test_without_metrics_no_alarm_is_planned_and_a_bad_topic_arn_fails_fast(
    artifacts: Artifacts,
) -> None:
    # GIVEN metrics: none (no figure would ever reach an alarm) WHEN planning a deploy
    settings = load_settings("dev", [*ISSUE_OVERRIDES, "metrics=none"])
    plan = deploy(settings, dry_run=True, artifacts=artifacts, echo=lambda _: None)
    # THEN the topic and the rules are planned, the alarms skipped with the reason
    kinds = [(a.kind, a.status) for a in plan.actions if a.kind in ("topic", "event-rule", "alarm")]
    assert kinds == [
        ("topic", "planned"),
        ("event-rule", "planned"),
        ("event-rule", "planned"),
        ("alarm", "skipped"),
    ]
    # AND an alerts_topic_arn that is not an SNS ARN fails before anything is deployed
    with pytest.raises(ConfigError, match="alerts_topic_arn='oncall': expected an SNS topic ARN"):
        load_settings("dev", ["alerts_topic_arn=oncall"])
