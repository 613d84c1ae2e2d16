"""Owner-only modes for the parts of a local lake that may hold personal data.

Quarantine (raw payloads), state (the event_id index, repeat-suppressed events, change sets) and
run records are made 0700 at the top of their folders before a run writes, so other local users
cannot reach anything below, whatever mode Spark gives the files (its umask). The state store
also creates its own files 0600. Curated tables keep the usual modes. On S3 this does nothing:
access there is IAM's (clickstream iam-policy).
"""

from __future__ import annotations

import os
from pathlib import Path

OWNER_ONLY_FOLDERS = ("quarantine", "_state", "_runs")
OWNER_ONLY = 0o700


def protect_local_lake(lake: str) -> list[Path]:
    """Create (or re-mode) the owner-only folders of a local lake; the folders, [] on S3."""
    if "://" in lake and not lake.startswith("file://"):
        return []
    root = Path(lake.removeprefix("file://"))
    folders = []
    for name in OWNER_ONLY_FOLDERS:
        folder = root / name
        folder.mkdir(mode=OWNER_ONLY, parents=True, exist_ok=True)
        if folder.stat().st_mode & 0o777 != OWNER_ONLY:
            os.chmod(folder, OWNER_ONLY)
        folders.append(folder)
    return folders
