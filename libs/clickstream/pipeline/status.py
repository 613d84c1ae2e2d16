"""`clickstream status`: a lake's operational state, read from its state files alone.

Nothing here imports pyspark or lists the raw zone: the last run of each job (`_runs/`), the
bookmarks (`_state/bookmarks/`), change sets not ready (`_state/changes/`) and leases
(`_state/leases/`). On S3 that is a handful of LIST and GET requests, whatever the raw zone holds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from clickstream import bookmarks
from clickstream.leases import LEASES
from clickstream.pipeline.run_records import FAILED, LATEST, RUNS, SUCCEEDED
from clickstream.state_store import StateStore, store_for

# As clickstream.pipeline.changes, which imports pyspark (tests pin the two equal).
CHANGES = "_state/changes"
READY_FORMATS = (2,)  # change sets from before ready marks count as ready
# Run records read, newest first, looking for a job's last run (one per run; a Glue job run of
# one job writes its own record): beyond these the job is reported as not run recently.
MAX_RECORDS = 48


@dataclass(frozen=True)
class JobRun:
    """A job's part in one run: its outcome, the run's start and the job's figures."""

    job: str
    run_id: str
    started_at: str
    outcome: str
    figures: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class LakeStatus:
    """What `clickstream status` prints."""

    lake: str
    now: datetime
    runs: dict[str, JobRun | None]
    bookmarks: dict[str, dict[str, Any]]
    unready: list[dict[str, Any]]
    leases: list[dict[str, Any]]
    pending: dict[str, int]


def last_runs(store: StateStore, jobs: Sequence[str]) -> dict[str, JobRun | None]:
    """Each job's last run from the newest run records (None: none among MAX_RECORDS)."""
    keys = [k for k in store.list(RUNS) if k.count("/") == 1 and k.endswith(".json")]
    found: dict[str, JobRun | None] = {}
    for key in sorted((k for k in keys if k != LATEST), reverse=True)[:MAX_RECORDS]:
        if len(found) == len(jobs):
            break
        obj = store.read(key)
        try:
            doc = json.loads(obj.text) if obj is not None else None
        except ValueError:
            continue
        if not isinstance(doc, dict):
            continue
        for job in jobs:
            figures = doc.get("jobs", {}).get(job)
            if job in found or (figures is None and doc.get("failed_job") != job):
                continue
            failed = doc.get("failed_job") == job
            found[job] = JobRun(
                job,
                str(doc.get("run_id")),
                str(doc.get("started_at")),
                FAILED if failed else SUCCEEDED,
                dict(figures or {}),
                doc.get("error") if failed else None,
            )
    return {job: found.get(job) for job in jobs}


def change_sets(store: StateStore) -> tuple[set[str], list[dict[str, Any]]]:
    """The ready change sets' ids, and the manifests of those not ready (a set another absorbed
    is left out: it is being deleted)."""
    keys = store.list(CHANGES)
    manifests = {k.split("/")[-2] for k in keys if k.endswith("/manifest.json")}
    ready = {k.split("/")[-2] for k in keys if k.endswith("/ready")} & manifests
    unready = []
    for cid in sorted(manifests - ready):
        obj = store.read(f"{CHANGES}/{cid}/manifest.json")
        if obj is None:
            continue
        doc = json.loads(obj.text)
        if doc.get("format") in READY_FORMATS:
            ready.add(cid)
        else:
            unready.append(doc)
    absorbed = {a for doc in unready for a in doc.get("absorbs", ())}
    return ready, [doc for doc in unready if doc["change_id"] not in absorbed]


def held_leases(store: StateStore, stale_minutes: float, now: datetime) -> list[dict[str, Any]]:
    """Every lease under the lake, with its age since renewal and whether it is stale."""
    held = []
    for key in store.list(LEASES):
        obj = store.read(key)
        if obj is None or not key.endswith(".json"):
            continue
        doc = json.loads(obj.text)
        renewed = datetime.fromisoformat(doc.get("renewed_at") or doc["started_at"])
        age = now - renewed
        held.append({**doc, "age": age, "stale": age >= timedelta(minutes=stale_minutes)})
    return held


def lake_status(
    lake: str, jobs: Sequence[str], *, stale_minutes: float, now: datetime | None = None
) -> LakeStatus:
    """The lake's state: last runs, bookmarks, change sets not ready or not yet consumed,
    leases."""
    store = store_for(lake)
    now = now or datetime.now(UTC)
    marks = {job: bookmarks.show(None, lake, job) for job in jobs}
    ready, unready = change_sets(store)
    pending = {
        job: len(ready - set(marks[job].get("processed", {})))  # type: ignore[arg-type]
        for job in ("build_sessions", "daily_active_users")
        if job in jobs
    }
    return LakeStatus(
        lake,
        now,
        last_runs(store, jobs),
        marks,
        unready,
        held_leases(store, stale_minutes, now),
        pending,
    )


def ago(delta: timedelta) -> str:
    """A duration as operators read it: 45s, 12m, 3h 05m, 2d 04h."""
    seconds = int(delta.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    if seconds < 60:
        return f"{sign}{seconds}s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours < 1:
        return f"{sign}{minutes}m"
    if days < 1:
        return f"{sign}{hours}h {minutes % 60:02d}m"
    return f"{sign}{days}d {hours % 24:02d}h"


def _since(now: datetime, iso: str | None) -> str:
    if not iso:
        return "never"
    try:
        return f"{iso} ({ago(now - datetime.fromisoformat(iso))} ago)"
    except ValueError:
        return iso


def _figures(figures: dict[str, Any]) -> str:
    shown = [
        f"{k}={v:,}" if isinstance(v, int) and not isinstance(v, bool) else f"{k}={v}"
        for k, v in figures.items()
        if k != "seconds" and isinstance(v, int | float | str)
    ]
    return " ".join(shown)


def high_water_lag(now: datetime, hour: str) -> timedelta | None:
    """Now minus the end of the high-water hour (YYYY/MM/DD/HH, UTC): how far behind the
    newest arrival hour processed is."""
    try:
        start = datetime.strptime(hour, "%Y/%m/%d/%H").replace(tzinfo=UTC)
    except ValueError:
        return None
    return now - (start + timedelta(hours=1))


def format_status(status: LakeStatus) -> str:
    """The status as a few readable lines."""
    now = status.now
    lines = [f"lake {status.lake} at {now.isoformat(timespec='seconds')}", "last runs:"]
    for job, run in status.runs.items():
        if run is None:
            lines.append(f"  {job:<20}no run in the newest {MAX_RECORDS} run records")
            continue
        seconds = run.figures.get("seconds")
        took = f" in {seconds:.1f}s" if isinstance(seconds, int | float) else ""
        lines.append(
            f"  {job:<20}{run.outcome}{took}, run {run.run_id} started "
            f"{_since(now, run.started_at)}"
        )
        if run.error:
            lines.append(f"    error: {run.error}")
        if _figures(run.figures):
            lines.append(f"    {_figures(run.figures)}")
        for result in run.figures.get("dq") or []:
            lines.append(
                f"    data quality: {result.get('rule')} {result.get('status')}: "
                f"{result.get('detail')}"
            )
    lines.append("bookmarks:")
    for job, doc in status.bookmarks.items():
        processed = len(doc.get("processed", {}))  # type: ignore[arg-type]
        line = f"  {job:<20}updated {_since(now, doc.get('updated_at'))}, {processed:,} input(s)"  # type: ignore[arg-type]
        hour = doc.get("high_water_hour")
        if isinstance(hour, str):
            lag = high_water_lag(now, hour)
            line += f", high-water hour {hour}" + (f" (lag {ago(lag)})" if lag is not None else "")
        if job in status.pending:
            line += f", {status.pending[job]} ready change set(s) not yet processed"
        lines.append(line)
    lines.append(f"change sets not ready: {len(status.unready) or 'none'}")
    for doc in status.unready:
        dts = doc.get("dts") or []
        span = f"{dts[0]}..{dts[-1]}" if dts else "no dates"
        try:
            stamp = datetime.strptime(doc["change_id"].split("-", 1)[0], "%Y%m%dT%H%M%S%fZ")
            published = f", published {ago(now - stamp.replace(tzinfo=UTC))} ago"
        except ValueError:
            published = ""
        lines.append(f"  {doc['change_id']}: {len(dts)} date(s) {span}{published}")
    lines.append(f"leases held: {len(status.leases) or 'none'}")
    for lease in status.leases:
        state = "stale: a new run takes it over" if lease["stale"] else "live"
        lines.append(
            f"  {lease.get('job')}: {lease.get('holder')} since {lease.get('started_at')}, "
            f"renewed {ago(lease['age'])} ago ({state})"
        )
    return "\n".join(lines)
