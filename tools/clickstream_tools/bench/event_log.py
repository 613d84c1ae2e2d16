"""Spark event logs of a measurement: the longest stages, stage seconds per pipeline job, and the
Spark jobs' busy time against the driver's gaps between them."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from clickstream_tools.bench import MIB


def measurement_overrides(user: Sequence[str], event_log_dir: Path | None) -> list[str]:
    """The user's --set overrides for a Spark measurement, plus event logging when asked."""
    overrides = list(user)
    if event_log_dir is not None:
        overrides += [
            "spark_conf.spark.eventLog.enabled=true",
            f"spark_conf.spark.eventLog.dir=file://{event_log_dir}",
            "spark_conf.spark.eventLog.compress=false",
        ]
    return overrides


def _accumulable(info: dict[str, Any], name: str) -> int:
    for acc in info.get("Accumulables", []):
        if acc.get("Name") == name:
            try:
                return int(acc.get("Value", 0))
            except (TypeError, ValueError):
                return 0
    return 0


def _events(event_log: Path) -> Iterator[dict[str, Any]]:
    """The events of a Spark event log, one JSON object per line (other lines skipped)."""
    for line in event_log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            yield json.loads(line)
        except ValueError:
            continue


def _job_label(job_start: dict[str, Any]) -> str:
    """A job's label: its description (the bench names it after the pipeline job), else its call site."""
    props = job_start.get("Properties") or {}
    return props.get("spark.job.description") or props.get("callSite.short") or "?"


def stage_report(event_log: Path, top: int = 12) -> dict[str, Any]:
    """The longest stages of a Spark event log, and stage seconds per job description."""
    job_of_stage: dict[int, str] = {}
    stages: list[dict[str, Any]] = []
    for event in _events(event_log):
        kind = event.get("Event")
        if kind == "SparkListenerJobStart":
            for stage_id in event.get("Stage IDs", []):
                job_of_stage[stage_id] = _job_label(event)
        elif kind == "SparkListenerStageCompleted":
            info = event["Stage Info"]
            if "Completion Time" not in info or "Submission Time" not in info:
                continue
            scopes: list[str] = []
            for rdd in info.get("RDD Info", []):
                try:
                    scope = json.loads(rdd.get("Scope") or "{}").get("name")
                except ValueError:
                    scope = None
                if scope and scope not in scopes:
                    scopes.append(scope)
            stages.append(
                {
                    "stage": info["Stage ID"],
                    "job": job_of_stage.get(info["Stage ID"], "?"),
                    "name": info.get("Stage Name", ""),
                    "tasks": info.get("Number of Tasks"),
                    "seconds": round((info["Completion Time"] - info["Submission Time"]) / 1000, 2),
                    "task_seconds": round(
                        _accumulable(info, "internal.metrics.executorRunTime") / 1000, 2
                    ),
                    "input_mib": round(
                        _accumulable(info, "internal.metrics.input.bytesRead") / MIB, 1
                    ),
                    "shuffle_write_mib": round(
                        _accumulable(info, "internal.metrics.shuffle.write.bytesWritten") / MIB, 1
                    ),
                    "operators": scopes,
                }
            )
    per_job: dict[str, float] = {}
    for stage in stages:
        per_job[stage["job"]] = round(per_job.get(stage["job"], 0.0) + stage["seconds"], 2)
    longest = sorted(stages, key=lambda s: -s["seconds"])[:top]
    return {"stages": len(stages), "stage_seconds_by_job": per_job, "longest": longest}


def latest_event_log(folder: Path) -> Path | None:
    files = sorted(p for p in folder.glob("*") if p.is_file() and not p.name.startswith("."))
    return files[-1] if files else None


def stage_lines(key: str, report: dict[str, Any]) -> str:
    lines = [f"\nlongest Spark stages of {key} ({report['stages']} stages):"]
    lines.append(f"  stage seconds by job: {report['stage_seconds_by_job']}")
    for s in report["longest"]:
        ops = ", ".join(s["operators"][:6])
        lines.append(
            f"  {s['seconds']:>7.1f}s  stage {s['stage']:<4} {s['job']:<20} tasks={s['tasks']:<4} "
            f"in={s['input_mib']}MiB shuffle_w={s['shuffle_write_mib']}MiB  [{ops}]"
        )
    return "\n".join(lines)


def job_report(event_log: Path, top: int = 5) -> dict[str, Any]:
    """The Spark jobs of an event log: how many, their busy seconds (overlaps counted once), the
    span from the first job's start to the last one's end, and the longest gaps between jobs
    (driver work: listing, planning, metastore calls), each with the jobs' labels around it."""
    jobs: dict[int, dict[str, Any]] = {}
    for event in _events(event_log):
        kind = event.get("Event")
        if kind == "SparkListenerJobStart":
            jobs[event["Job ID"]] = {"start": event["Submission Time"], "label": _job_label(event)}
        elif kind == "SparkListenerJobEnd" and event.get("Job ID") in jobs:
            jobs[event["Job ID"]]["end"] = event["Completion Time"]
    done = sorted((j for j in jobs.values() if "end" in j), key=lambda j: j["start"])
    if not done:
        return {"jobs": 0, "busy_seconds": 0.0, "span_seconds": 0.0, "gaps": []}
    busy = 0
    gaps: list[dict[str, Any]] = []
    reach, last = done[0]["start"], done[0]
    for job in done:
        if job["start"] > reach:  # nothing ran between the previous jobs' end and this start
            gaps.append(
                {
                    "seconds": round((job["start"] - reach) / 1000, 2),
                    "after": last["label"],
                    "before": job["label"],
                }
            )
            busy += job["end"] - job["start"]
        else:
            busy += max(0, job["end"] - reach)
        if job["end"] >= reach:
            reach, last = job["end"], job
    return {
        "jobs": len(done),
        "busy_seconds": round(busy / 1000, 2),
        "span_seconds": round((reach - done[0]["start"]) / 1000, 2),
        "gaps": sorted(gaps, key=lambda g: -g["seconds"])[:top],
    }


def job_lines(key: str, report: dict[str, Any]) -> str:
    """job_report() as text: jobs, busy and span seconds, the longest gaps between jobs."""
    lines = [
        f"\nSpark jobs of {key}: {report['jobs']} jobs, busy {report['busy_seconds']:.1f}s "
        f"of {report['span_seconds']:.1f}s from the first job's start to the last one's end"
    ]
    for gap in report["gaps"]:
        lines.append(f"  {gap['seconds']:>7.1f}s idle between {gap['after']} and {gap['before']}")
    return "\n".join(lines)
