"""The Glue workflow that runs the four jobs in order on a schedule, one run at a time.

Per environment, deploy creates (or updates) a workflow `clickstream-<env>` with
`MaxConcurrentRuns` 1, so an hourly run never overlaps the previous one, and its triggers:

- `clickstream-<env>-start`: SCHEDULED on `glue_workflow_schedule` (a Glue cron expression,
  hourly by default), or ON_DEMAND when that key is null; it starts load_titles;
- `clickstream-<env>-after-<job>`: CONDITIONAL, fires when <job> SUCCEEDED in the same workflow
  run and starts the jobs that wait for it (pipeline.UPSTREAM_JOB): titles -> events ->
  sessions and daily active users. A failed job stops the chain there.

Every trigger is created activated (StartOnCreation), and a deactivated one is started again.

With glue_single_job, job_names holds the one PIPELINE job: its start trigger,
`clickstream-<env>-start-pipeline`, starts it, and there are no conditional triggers (the job
runs every step in order itself). Deploy deletes the triggers of the other layout first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clickstream.aws.glue_catalog import _same
from clickstream.pipeline import JOB_NAMES, PIPELINE, UPSTREAM_JOB

MAX_CONCURRENT_RUNS = 1
# Trigger fields UpdateTrigger can change; Type and WorkflowName it cannot (delete, then create).
UPDATABLE_TRIGGER_KEYS = ("Description", "Schedule", "Actions", "Predicate")


def workflow_name(env: str) -> str:
    """clickstream-<env>."""
    return f"clickstream-{env}"


def workflow_definition(env: str) -> dict[str, Any]:
    """The CreateWorkflow request of an environment."""
    return {
        "Name": workflow_name(env),
        "Description": f"clickstream-etl {env}: {' -> '.join(JOB_NAMES)} (one run at a time)",
        "MaxConcurrentRuns": MAX_CONCURRENT_RUNS,
        "Tags": {"project": "clickstream-etl", "env": env},
    }


def trigger_definitions(
    env: str, job_names: Mapping[str, str], schedule: str | None
) -> list[dict[str, Any]]:
    """CreateTrigger requests: the start trigger, then one conditional trigger per upstream job.

    job_names maps a pipeline job to its Glue job name.
    """
    workflow = workflow_name(env)
    roots = [job for job in job_names if job not in UPSTREAM_JOB]
    start: dict[str, Any] = {
        "Name": start_trigger_name(env, job_names),
        "WorkflowName": workflow,
        "Type": "SCHEDULED" if schedule else "ON_DEMAND",
        "Description": f"starts {', '.join(roots)}"
        + (f" on {schedule}" if schedule else " when the workflow is started"),
        "Actions": [{"JobName": job_names[job]} for job in roots],
    }
    if schedule:
        start["Schedule"] = schedule
        start["StartOnCreation"] = True
    triggers = [start]
    for upstream in job_names:
        downstream = [job for job in job_names if UPSTREAM_JOB.get(job) == upstream]
        if not downstream:
            continue
        triggers.append(
            {
                "Name": f"{workflow}-after-{upstream.replace('_', '-')}",
                "WorkflowName": workflow,
                "Type": "CONDITIONAL",
                "Description": f"starts {', '.join(downstream)} when {upstream} SUCCEEDED",
                "Predicate": {
                    "Logical": "AND",
                    "Conditions": [
                        {
                            "LogicalOperator": "EQUALS",
                            "JobName": job_names[upstream],
                            "State": "SUCCEEDED",
                        }
                    ],
                },
                "Actions": [{"JobName": job_names[job]} for job in downstream],
                "StartOnCreation": True,
            }
        )
    return triggers


def ensure_workflow(glue: Any, definition: Mapping[str, Any]) -> str:
    """Create or update the workflow; returns created, updated or unchanged."""
    wanted = {k: v for k, v in definition.items() if k not in ("Name", "Tags")}
    try:
        current = glue.get_workflow(Name=definition["Name"], IncludeGraph=False)["Workflow"]
    except glue.exceptions.EntityNotFoundException:
        glue.create_workflow(**definition)
        return "created"
    if _same(current, wanted):
        return "unchanged"
    glue.update_workflow(Name=definition["Name"], **wanted)
    return "updated"


def _trigger_update(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The TriggerUpdate of a trigger definition."""
    update = {k: definition[k] for k in UPDATABLE_TRIGGER_KEYS if k in definition}
    return {"Name": definition["Name"], **update}


def ensure_trigger(glue: Any, definition: Mapping[str, Any]) -> str:
    """Create, update or re-activate a trigger; returns created, updated or unchanged.

    A trigger whose Type or workflow differs is deleted and created again (UpdateTrigger
    cannot change them). A scheduled or conditional trigger that is not ACTIVATED is started.
    """
    name = definition["Name"]
    try:
        current = glue.get_trigger(Name=name)["Trigger"]
    except glue.exceptions.EntityNotFoundException:
        glue.create_trigger(**definition)
        return "created"
    if (current.get("Type"), current.get("WorkflowName")) != (
        definition["Type"],
        definition["WorkflowName"],
    ):
        glue.delete_trigger(Name=name)
        glue.create_trigger(**definition)
        return "updated"
    status = "unchanged"
    wanted = _trigger_update(definition)
    if not _same(current, wanted):
        glue.update_trigger(Name=name, TriggerUpdate=wanted)
        status = "updated"
    if definition["Type"] != "ON_DEMAND" and current.get("State") not in (
        "ACTIVATED",
        "ACTIVATING",
    ):
        glue.start_trigger(Name=name)
        status = "updated"
    return status


def start_trigger_name(env: str, job_names: Mapping[str, str]) -> str:
    """clickstream-<env>-start, or clickstream-<env>-start-pipeline for the single job."""
    return f"{workflow_name(env)}-start" + ("-pipeline" if PIPELINE in job_names else "")


def stale_trigger_names(env: str, wanted: set[str]) -> list[str]:
    """The triggers either layout (four jobs, or the single job) may have created that are not
    wanted now."""
    workflow = workflow_name(env)
    every = {f"{workflow}-after-{job.replace('_', '-')}" for job in JOB_NAMES}
    every |= {f"{workflow}-start", f"{workflow}-start-pipeline"}
    return sorted(every - wanted)


def delete_trigger(glue: Any, name: str) -> str:
    """Delete a trigger; returns deleted, or absent when there is none."""
    try:
        glue.get_trigger(Name=name)
    except glue.exceptions.EntityNotFoundException:
        return "absent"
    glue.delete_trigger(Name=name)
    return "deleted"
