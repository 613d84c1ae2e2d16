"""The Glue workflow deploy creates: schedule, conditional chain, one run at a time (moto, HTTP)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from clickstream.aws.deploy import DeployPlan, deploy, glue_job_name
from clickstream.aws.packaging import Artifacts
from clickstream.aws.workflow import ensure_trigger, trigger_definitions
from clickstream.config import ConfigError, Settings, load_settings
from tests.aws.conftest import ISSUE_OVERRIDES

MUTATING_PREFIXES = ("Create", "Update", "Put", "Add", "Delete", "BatchCreate", "Start")
TITLES, EVENTS, SESSIONS, DAU = (
    glue_job_name("dev", job)
    for job in ("load_titles", "curate_events", "build_sessions", "daily_active_users")
)


def _deploy(settings: Settings, artifacts: Artifacts, **kwargs: Any) -> DeployPlan:
    return deploy(settings, artifacts=artifacts, echo=lambda _: None, **kwargs)


def _triggers() -> dict[str, dict[str, Any]]:
    glue = boto3.client("glue")
    names = glue.list_triggers()["TriggerNames"]
    return {name: glue.get_trigger(Name=name)["Trigger"] for name in names}


def _succeeded(job: str) -> dict[str, Any]:
    return {
        "Logical": "AND",
        "Conditions": [{"LogicalOperator": "EQUALS", "JobName": job, "State": "SUCCEEDED"}],
    }


def test_workflow_runs_one_at_a_time(
    settings: Settings, artifacts: Artifacts, buckets: list[str]
) -> None:
    # WHEN deploy runs THEN the environment has one workflow that never overlaps itself
    _deploy(settings, artifacts)
    workflow = boto3.client("glue").get_workflow(Name="clickstream-dev")["Workflow"]
    assert workflow["MaxConcurrentRuns"] == 1


def test_hourly_trigger_starts_titles_and_each_job_waits_for_its_upstream_success(
    settings: Settings, artifacts: Artifacts, buckets: list[str]
) -> None:
    # GIVEN the default schedule WHEN deploy runs
    _deploy(settings, artifacts)
    triggers = _triggers()
    # THEN a scheduled trigger starts load_titles every hour, activated
    start = triggers.pop("clickstream-dev-start")
    assert (start["Type"], start["Schedule"], start["State"]) == (
        "SCHEDULED",
        "cron(0 * * * ? *)",
        "ACTIVATED",
    )
    assert [a["JobName"] for a in start["Actions"]] == [TITLES]
    # AND conditional triggers chain titles -> events -> sessions and DAU on SUCCEEDED
    chain = {
        t["Predicate"]["Conditions"][0]["JobName"]: sorted(a["JobName"] for a in t["Actions"])
        for t in triggers.values()
    }
    assert chain == {TITLES: [EVENTS], EVENTS: sorted([SESSIONS, DAU])}
    for trigger in triggers.values():
        upstream = trigger["Predicate"]["Conditions"][0]["JobName"]
        assert trigger["Type"] == "CONDITIONAL" and trigger["State"] == "ACTIVATED"
        assert trigger["Predicate"] == _succeeded(upstream)
        assert trigger["WorkflowName"] == "clickstream-dev"
    assert start["WorkflowName"] == "clickstream-dev"


def test_schedule_comes_from_config(artifacts: Artifacts, buckets: list[str]) -> None:
    settings = load_settings("dev", [*ISSUE_OVERRIDES, "glue_workflow_schedule=cron(15 2 * * ? *)"])
    _deploy(settings, artifacts)
    assert _triggers()["clickstream-dev-start"]["Schedule"] == "cron(15 2 * * ? *)"


def test_null_schedule_gives_an_on_demand_start(artifacts: Artifacts, buckets: list[str]) -> None:
    settings = load_settings("dev", [*ISSUE_OVERRIDES, "glue_workflow_schedule=null"])
    _deploy(settings, artifacts)
    start = _triggers()["clickstream-dev-start"]
    assert start["Type"] == "ON_DEMAND" and "Schedule" not in start


@pytest.mark.parametrize("schedule", ["hourly", "0 * * * *", "cron(0 * * * *)", "rate(1 hour)"])
def test_a_bad_schedule_fails_fast_naming_the_key(schedule: str) -> None:
    with pytest.raises(ConfigError, match="glue_workflow_schedule"):
        load_settings("dev", [f"glue_workflow_schedule={schedule}"])


def test_redeploy_changes_no_workflow_or_trigger(
    settings: Settings, artifacts: Artifacts, buckets: list[str]
) -> None:
    # GIVEN a deployed environment
    _deploy(settings, artifacts)
    session = boto3.Session()
    calls: list[str] = []
    session.events.register("before-call", lambda model, **_: calls.append(model.name))
    # WHEN deploy runs again THEN the workflow and its triggers are read, nothing is changed
    plan = _deploy(settings, artifacts, session=session)
    kinds = {a.kind: a.status for a in plan.actions if a.kind in ("workflow", "trigger")}
    assert kinds == {"workflow": "unchanged", "trigger": "unchanged"}
    assert {"GetWorkflow", "GetTrigger"} <= set(calls)
    assert [c for c in calls if c.startswith(MUTATING_PREFIXES)] == []


def test_a_deactivated_trigger_is_started_again(
    settings: Settings, artifacts: Artifacts, buckets: list[str]
) -> None:
    _deploy(settings, artifacts)
    boto3.client("glue").stop_trigger(Name="clickstream-dev-after-curate-events")
    plan = _deploy(settings, artifacts)
    assert [(a.kind, a.target, a.status) for a in plan.changes] == [
        ("trigger", "clickstream-dev-after-curate-events", "updated")
    ]
    assert _triggers()["clickstream-dev-after-curate-events"]["State"] == "ACTIVATED"


def test_a_changed_schedule_type_replaces_the_start_trigger(
    settings: Settings, artifacts: Artifacts, buckets: list[str]
) -> None:
    # GIVEN an on-demand workflow WHEN a schedule is configured and deploy runs again
    on_demand = load_settings("dev", [*ISSUE_OVERRIDES, "glue_workflow_schedule=null"])
    _deploy(on_demand, artifacts)
    _deploy(settings, artifacts)
    # THEN the start trigger is scheduled (UpdateTrigger cannot change a type)
    start = _triggers()["clickstream-dev-start"]
    assert (start["Type"], start["Schedule"]) == ("SCHEDULED", "cron(0 * * * ? *)")


def test_dry_run_shows_the_workflow_and_triggers(settings: Settings, artifacts: Artifacts) -> None:
    lines: list[str] = []
    plan = deploy(settings, dry_run=True, artifacts=artifacts, echo=lines.append)
    planned = {(a.kind, a.target) for a in plan.actions if a.status == "planned"}
    assert ("workflow", "clickstream-dev") in planned
    assert {
        ("trigger", "clickstream-dev-start"),
        ("trigger", "clickstream-dev-after-load-titles"),
        ("trigger", "clickstream-dev-after-curate-events"),
    } <= planned
    assert any("cron(0 * * * ? *)" in line for line in lines)


class _GlueWithUpdateTrigger:
    """The Glue calls ensure_trigger makes, where moto has no UpdateTrigger."""

    class exceptions:
        """Mirrors boto3's client.exceptions."""

        class EntityNotFoundException(Exception):
            pass

    def __init__(self, trigger: dict[str, Any]) -> None:
        self.trigger = trigger
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get_trigger(self, Name: str) -> dict[str, Any]:
        return {"Trigger": self.trigger}

    def update_trigger(self, **kwargs: Any) -> None:
        self.calls.append(("update_trigger", kwargs))

    def start_trigger(self, **kwargs: Any) -> None:
        self.calls.append(("start_trigger", kwargs))


def test_a_changed_cron_is_updated_in_place() -> None:
    names = {job: glue_job_name("dev", job) for job in ("load_titles",)}
    names |= {
        job: glue_job_name("dev", job)
        for job in ("curate_events", "build_sessions", "daily_active_users")
    }
    wanted = trigger_definitions("dev", names, "cron(30 * * * ? *)")[0]
    current = {**wanted, "Schedule": "cron(0 * * * ? *)", "State": "ACTIVATED"}
    current.pop("StartOnCreation")
    glue = _GlueWithUpdateTrigger(current)
    assert ensure_trigger(glue, wanted) == "updated"
    ((call, kwargs),) = glue.calls
    assert call == "update_trigger" and kwargs["Name"] == "clickstream-dev-start"
    assert kwargs["TriggerUpdate"]["Schedule"] == "cron(30 * * * ? *)"
    assert "Type" not in kwargs["TriggerUpdate"]
    # AND an unchanged, active trigger makes no call
    same = _GlueWithUpdateTrigger({**current, "Schedule": "cron(30 * * * ? *)"})
    assert ensure_trigger(same, wanted) == "unchanged" and same.calls == []


PIPELINE_JOB = glue_job_name("dev", "pipeline")


def _glue_jobs() -> dict[str, dict[str, Any]]:
    glue = boto3.client("glue")
    return {j["Name"]: j for j in glue.get_jobs()["Jobs"]}


def test_glue_single_job_deploys_one_job_the_schedule_starts(
    artifacts: Artifacts, buckets: list[str]
) -> None:
    # GIVEN glue_single_job WHEN deploy runs
    single = load_settings("dev", [*ISSUE_OVERRIDES, "glue_single_job=true"])
    _deploy(single, artifacts)
    # THEN one Glue job runs jobs/pipeline.py, one run at a time
    jobs = _glue_jobs()
    assert list(jobs) == [PIPELINE_JOB]
    command = jobs[PIPELINE_JOB]["Command"]["ScriptLocation"]
    assert command.endswith("/jobs/pipeline.py")
    assert jobs[PIPELINE_JOB]["ExecutionProperty"]["MaxConcurrentRuns"] == 1
    # AND the workflow's only trigger starts it every hour
    triggers = _triggers()
    assert list(triggers) == ["clickstream-dev-start-pipeline"]
    start = triggers["clickstream-dev-start-pipeline"]
    assert (start["Type"], start["Schedule"]) == ("SCHEDULED", "cron(0 * * * ? *)")
    assert [a["JobName"] for a in start["Actions"]] == [PIPELINE_JOB]


def test_switching_to_a_single_job_removes_the_chain_and_redeploys_stable(
    settings: Settings, artifacts: Artifacts, buckets: list[str]
) -> None:
    # GIVEN an environment deployed with four jobs chained by triggers
    _deploy(settings, artifacts)
    # WHEN it is deployed again with glue_single_job
    single = load_settings("dev", [*ISSUE_OVERRIDES, "glue_single_job=true"])
    plan = _deploy(single, artifacts)
    # THEN the chain's triggers are deleted and one start trigger starts the pipeline job
    deleted = sorted(a.target for a in plan.actions if a.status == "deleted")
    assert deleted == [
        "clickstream-dev-after-curate-events",
        "clickstream-dev-after-load-titles",
        "clickstream-dev-start",
    ]
    triggers = _triggers()
    assert list(triggers) == ["clickstream-dev-start-pipeline"]
    start = triggers["clickstream-dev-start-pipeline"]
    assert [a["JobName"] for a in start["Actions"]] == [PIPELINE_JOB]
    # AND a further deploy changes nothing; going back to four jobs restores the chain
    assert _deploy(single, artifacts).changes == []
    _deploy(settings, artifacts)
    assert sorted(_triggers()) == [
        "clickstream-dev-after-curate-events",
        "clickstream-dev-after-load-titles",
        "clickstream-dev-start",
    ]
