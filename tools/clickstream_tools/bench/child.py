"""One measurement in a child process: its wall time, peak memory of its process tree, load.

Each measurement runs in a fresh interpreter (fresh JVM, memory and caches). Memory is the peak
summed RSS (and PSS) of the child's whole process tree (Python, JVM, Python workers), sampled
every SAMPLE_SECONDS.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from clickstream_tools.bench import MIB

SAMPLE_SECONDS = 0.2
TIMEOUT_SECONDS = 3 * 3600


@dataclass
class Measurement:
    """One child run: its own result JSON plus what the parent saw (wall, memory, load)."""

    name: str
    ok: bool
    result: dict[str, Any] = field(default_factory=dict)
    process_seconds: float = 0.0
    peak_rss_mib: float = 0.0
    peak_pss_mib: float | None = None
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    log: str = ""
    error: str | None = None

    @property
    def seconds(self) -> float | None:
        """Seconds of the work itself (no interpreter start, no SparkSession start)."""
        return self.result.get("seconds") if self.ok else None


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    one, five, fifteen = os.getloadavg()
    return round(one, 2), round(five, 2), round(fifteen, 2)


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return [proc]


def _memory(processes: Iterable[psutil.Process], pss: bool) -> tuple[int, int | None]:
    """Summed RSS and (when readable) PSS of the processes, in bytes."""
    rss, pss_total = 0, 0 if pss else None
    for p in processes:
        try:
            if pss:
                info = p.memory_full_info()
                rss += info.rss
                pss_total = (pss_total or 0) + info.pss
            else:
                rss += p.memory_info().rss
        except (psutil.Error, AttributeError):
            continue
    return rss, pss_total


def _kill_tree(proc: psutil.Process) -> None:
    """Terminate the child this harness started and its descendants, by pid."""
    for p in reversed(_tree(proc)):
        with contextlib.suppress(psutil.Error):
            p.kill()


def run_child(
    name: str,
    argv: Sequence[str],
    *,
    result_file: Path,
    log_file: Path,
    cwd: Path,
    timeout: float = TIMEOUT_SECONDS,
) -> Measurement:
    """Run `python argv` in a fresh process; sample its tree's memory; read its result file."""
    result_file.unlink(missing_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    cwd.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    measurement = Measurement(name, ok=False, load_before=load_average(), log=str(log_file))
    peak_rss, peak_pss = 0, None
    pss = hasattr(psutil.Process, "memory_full_info") and sys.platform.startswith("linux")
    with log_file.open("w", encoding="utf-8") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, *argv], stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env=env
        )
        ps = psutil.Process(proc.pid)
        while proc.poll() is None:
            rss, pss_bytes = _memory(_tree(ps), pss)
            peak_rss = max(peak_rss, rss)
            if pss_bytes is not None:
                peak_pss = max(peak_pss or 0, pss_bytes)
            if time.perf_counter() - t0 > timeout:
                _kill_tree(ps)
                measurement.error = f"timed out after {timeout:.0f}s"
                break
            time.sleep(SAMPLE_SECONDS)
        proc.wait()
        measurement.process_seconds = round(time.perf_counter() - t0, 2)
    measurement.load_after = load_average()
    measurement.peak_rss_mib = round(peak_rss / MIB, 1)
    measurement.peak_pss_mib = round(peak_pss / MIB, 1) if peak_pss is not None else None
    if proc.returncode == 0 and result_file.is_file():
        measurement.ok = True
        measurement.result = json.loads(result_file.read_text(encoding="utf-8"))
    elif measurement.error is None:
        tail = log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        measurement.error = f"exit code {proc.returncode}: " + " | ".join(tail)
    return measurement
