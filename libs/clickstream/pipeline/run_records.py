"""Run records under the lake: what each run did, or why it failed.

`_runs/<run_id>.json` is written once per run, succeeded or failed; `_runs/latest.json` is
replaced by every run, never deleted. A failed run's record says `status: failed`, the job that
failed and the error's first line (credentials in URLs removed), with the figures of the jobs
that finished before it, and names the last run that succeeded (`last_succeeded_run_id`), whose
own record stays readable. A run refused before it started (another run holds a lease, a config
error) leaves no record: it changed nothing, and latest.json keeps describing the lake.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Any

from clickstream.state_store import StateStore, write_pointer

RUNS = "_runs"
LATEST = f"{RUNS}/latest.json"
SUCCEEDED, FAILED = "succeeded", "failed"
_ERROR_CHARS = 500
# user:password@ in a URL, and password-like query or property values.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)[^/@\s:]+:[^/@\s]*@")
_SECRET_VALUES = re.compile(r"(?i)(?P<key>password|passwd|pwd|secret|token)=(?P<value>[^&;\s]+)")


def new_run_id(started: datetime) -> str:
    """A sortable, unique run id: the UTC start time and a random suffix."""
    return f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def redact(text: str) -> str:
    """text without credentials: user:password@ in URLs and password=... values masked."""
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}***@", text)
    return _SECRET_VALUES.sub(lambda m: f"{m['key']}=***", text)


def error_line(exc: BaseException) -> str:
    """The exception as one line: its type and the first line of its message, redacted."""
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    line = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    line = redact(line)
    return line if len(line) <= _ERROR_CHARS else line[: _ERROR_CHARS - 3] + "..."


def last_succeeded(store: StateStore) -> str | None:
    """The id of the last run that succeeded, from latest.json (None when no run has)."""
    found = store.read(LATEST)
    if found is None:
        return None
    try:
        doc = json.loads(found.text)
    except ValueError:
        return None
    if doc.get("status", SUCCEEDED) == SUCCEEDED:  # records before statuses: succeeded runs only
        return doc.get("run_id")
    return doc.get("last_succeeded_run_id")


def failed_record(
    summary: dict[str, Any], job: str, exc: BaseException, store: StateStore
) -> dict[str, Any]:
    """The record of a run that failed in job: its summary so far, the job and the error line."""
    return {
        **summary,
        "status": FAILED,
        "failed_job": job,
        "error": error_line(exc),
        "last_succeeded_run_id": last_succeeded(store),
    }


def record_run(store: StateStore, record: dict[str, Any]) -> None:
    """Write the run's own record (once) and point latest.json at it (written last)."""
    text = json.dumps(record, indent=2, default=str)
    store.create(f"{RUNS}/{record['run_id']}.json", text)
    write_pointer(store, LATEST, text)


def prune_runs(store: StateStore, before: datetime) -> list[str]:
    """Delete the run records of runs started before `before` (latest.json stays)."""
    cutoff = f"{before:%Y%m%dT%H%M%SZ}"
    old = [
        key
        for key in store.list(RUNS)
        if key.count("/") == 1 and key[len(RUNS) + 1 :] < cutoff and key != LATEST
    ]
    for key in old:
        store.delete(key)
    return old
