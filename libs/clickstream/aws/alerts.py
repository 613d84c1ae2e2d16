"""Deploy's alerts: an SNS topic, EventBridge rules on failed Glue jobs and EMR steps, alarms.

Each piece is create-or-update and reports created / updated / unchanged, so deploying twice
changes nothing:
- the topic clickstream-<env>-alerts (or `alerts_topic_arn`, used as it is), with a policy that
  lets EventBridge and CloudWatch publish to it;
- clickstream-<env>-glue-job-failures: Glue Job State Change FAILED, TIMEOUT or ERROR of the
  project's Glue jobs; clickstream-<env>-emr-step-failures: EMR Step Status Change FAILED of
  its steps (named like the jobs); both target the topic;
- CloudWatch alarms on the run figures (clickstream.run_metrics; they need metrics: cloudwatch):
  any failed `fail` rule (dq_failures >= 1), the quarantine rate above quarantine_rate_max, and
  the freshness lag above freshness_max_minutes or no figure for three hours (a pipeline that
  stopped running is stale too).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from clickstream.config import Settings

PERIOD_SECONDS = 3600
FRESHNESS_PERIODS = 3
GLUE_FAILED_STATES = ("FAILED", "TIMEOUT", "ERROR")


def topic_name(env: str) -> str:
    """The topic deploy creates when alerts_topic_arn is not set."""
    return f"clickstream-{env}-alerts"


def rule_definitions(
    env: str, glue_jobs: Sequence[str], emr_steps: Sequence[str]
) -> list[dict[str, Any]]:
    """The EventBridge rules: failed runs of the Glue jobs, failed EMR steps of these names."""
    glue = {
        "source": ["aws.glue"],
        "detail-type": ["Glue Job State Change"],
        "detail": {"jobName": sorted(glue_jobs), "state": list(GLUE_FAILED_STATES)},
    }
    emr = {
        "source": ["aws.emr"],
        "detail-type": ["EMR Step Status Change"],
        "detail": {"name": sorted(emr_steps), "state": ["FAILED"]},
    }
    return [
        {
            "Name": f"clickstream-{env}-glue-job-failures",
            "EventPattern": json.dumps(glue, sort_keys=True),
            "State": "ENABLED",
            "Description": f"clickstream {env}: a Glue job run failed or timed out",
        },
        {
            "Name": f"clickstream-{env}-emr-step-failures",
            "EventPattern": json.dumps(emr, sort_keys=True),
            "State": "ENABLED",
            "Description": f"clickstream {env}: an EMR step failed",
        },
    ]


def alarm_definitions(settings: Settings, topic_arn: str) -> list[dict[str, Any]]:
    """The CloudWatch alarms on curate_events' figures (rules whose threshold is null: none)."""
    env = settings.env
    dims = [{"Name": "env", "Value": env}, {"Name": "job", "Value": "curate_events"}]
    rules = settings.dq_rules

    def alarm(name: str, metric: str, stat: str, threshold: float, **more: Any) -> dict[str, Any]:
        return {
            "AlarmName": f"clickstream-{env}-{name}",
            "Namespace": settings.metrics_namespace,
            "MetricName": metric,
            "Dimensions": dims,
            "Statistic": stat,
            "Period": PERIOD_SECONDS,
            "EvaluationPeriods": 1,
            "Threshold": float(threshold),
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [topic_arn],
            **more,
        }

    alarms = [
        alarm(
            "dq-failures",
            "dq_failures",
            "Maximum",
            0,
            AlarmDescription="a data-quality rule with action fail failed (dq_results)",
        )
    ]
    rate = rules.get("quarantine_rate_max", {}).get("threshold")
    if rate is not None:
        alarms.append(
            alarm(
                "quarantine-rate",
                "quarantine_rate",
                "Maximum",
                rate,
                AlarmDescription=f"more than {rate:g}% of a run's records quarantined",
            )
        )
    minutes = rules.get("freshness_max_minutes", {}).get("threshold")
    if minutes is not None:
        alarms.append(
            alarm(
                "freshness-lag",
                "freshness_lag_seconds",
                "Maximum",
                minutes * 60,
                EvaluationPeriods=FRESHNESS_PERIODS,
                TreatMissingData="breaching",
                AlarmDescription=(
                    f"the newest object curated is more than {minutes:g} minutes old, or no run "
                    f"reported for {FRESHNESS_PERIODS} hours"
                ),
            )
        )
    return alarms


def topic_policy(topic_arn: str) -> str:
    """Lets EventBridge and CloudWatch alarms publish to the topic."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "clickstream-alerts-publish",
                    "Effect": "Allow",
                    "Principal": {"Service": ["events.amazonaws.com", "cloudwatch.amazonaws.com"]},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                }
            ],
        },
        sort_keys=True,
    )


def ensure_topic(sns: Any, env: str, configured_arn: str | None) -> tuple[str, str]:
    """The topic's ARN and what was done: the configured topic is used as it is."""
    if configured_arn:
        return configured_arn, "configured"
    name = topic_name(env)
    existing = [
        t["TopicArn"]
        for page in sns.get_paginator("list_topics").paginate()
        for t in page.get("Topics", [])
        if t["TopicArn"].rsplit(":", 1)[-1] == name
    ]
    arn = existing[0] if existing else sns.create_topic(Name=name)["TopicArn"]
    policy = topic_policy(arn)
    current = sns.get_topic_attributes(TopicArn=arn)["Attributes"].get("Policy")
    if existing and current and json.loads(current) == json.loads(policy):
        return arn, "unchanged"
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=policy)
    return arn, "updated" if existing else "created"


def ensure_rule(events: Any, rule: Mapping[str, Any], topic_arn: str) -> str:
    """Create or update the rule and its one target, the topic."""
    try:
        current = events.describe_rule(Name=rule["Name"])
    except events.exceptions.ResourceNotFoundException:
        current = None
    same_rule = current is not None and (
        json.loads(current.get("EventPattern", "{}")) == json.loads(rule["EventPattern"])
        and current.get("State") == rule["State"]
        and current.get("Description") == rule["Description"]
    )
    if not same_rule:
        events.put_rule(**rule)
    targets = events.list_targets_by_rule(Rule=rule["Name"]).get("Targets", [])
    same_target = [t["Arn"] for t in targets] == [topic_arn]
    if not same_target:
        stale = [t["Id"] for t in targets if t["Arn"] != topic_arn]
        if stale:
            events.remove_targets(Rule=rule["Name"], Ids=stale)
        events.put_targets(Rule=rule["Name"], Targets=[{"Id": "alerts-topic", "Arn": topic_arn}])
    if current is None:
        return "created"
    return "unchanged" if same_rule and same_target else "updated"


_ALARM_FIELDS = (
    "Namespace",
    "MetricName",
    "Statistic",
    "Period",
    "EvaluationPeriods",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "AlarmActions",
    "AlarmDescription",
)


def ensure_alarm(cloudwatch: Any, alarm: Mapping[str, Any]) -> str:
    """Create or update a metric alarm (PutMetricAlarm replaces it: called only on a change)."""
    found = cloudwatch.describe_alarms(AlarmNames=[alarm["AlarmName"]]).get("MetricAlarms", [])
    if found and _same_alarm(found[0], alarm):
        return "unchanged"
    cloudwatch.put_metric_alarm(**alarm)
    return "updated" if found else "created"


def _same_alarm(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    dims = sorted((d["Name"], d["Value"]) for d in current.get("Dimensions", []))
    if dims != sorted((d["Name"], d["Value"]) for d in wanted["Dimensions"]):
        return False
    return all(current.get(key) == wanted.get(key) for key in _ALARM_FIELDS)
