"""Tests of the runtimes: the jobs/<job>.py scripts on Glue (with a test double) and EMR/local."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

JOBS_DIR = Path(__file__).resolve().parents[2] / "jobs"


def load_job_script(job: str) -> ModuleType:
    """Import jobs/<job>.py unmodified, as a module (not as __main__)."""
    path = JOBS_DIR / f"{job}.py"
    spec = importlib.util.spec_from_file_location(f"clickstream_job_script_{job}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def job_main(job: str) -> Callable[[list[str] | None], int]:
    """The main() of jobs/<job>.py."""
    return load_job_script(job).main
