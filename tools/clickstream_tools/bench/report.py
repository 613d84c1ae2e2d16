"""The bench's report: the table printed at the end and the summary stored as JSON."""

from __future__ import annotations

import argparse
import os
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from clickstream_tools.bench.child import Measurement, load_average
from clickstream_tools.bench.raw_zone import Lake

MEASUREMENTS = ("pipeline", "scan", "core", "scan_native", "duckdb")
REPO = Path(__file__).resolve().parents[3]


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def render_table(records: int, measurements: dict[str, Measurement]) -> str:
    """The measurements as a fixed-width table (rows: pipeline and its jobs, scan, native, duckdb)."""
    scan = measurements.get("scan")
    ref = measurements.get("duckdb")
    scan_s = scan.seconds if scan else None
    ref_s = ref.seconds if ref else None
    header = (
        f"{'measurement':<22}{'seconds':>9}{'start s':>9}{'events/s':>11}{'peak MiB':>10}"
        f"{'x scan':>8}{'x duckdb':>10}{'load 1m':>9}"
    )
    lines = [header, "-" * len(header)]

    def row(label: str, seconds: float | None, m: Measurement | None, start: float | None) -> None:
        rate = records / seconds if seconds else None
        peak = m.peak_rss_mib if m else None
        load = m.load_before[0] if m else None
        lines.append(
            f"{label:<22}{_fmt(seconds, '.1f'):>9}{_fmt(start, '.1f'):>9}{_fmt(rate, ',.0f'):>11}"
            f"{_fmt(peak, ',.0f'):>10}{_fmt(_ratio(seconds, scan_s), '.2f'):>8}"
            f"{_fmt(_ratio(seconds, ref_s), '.2f'):>10}{_fmt(load, '.2f'):>9}"
        )

    for name in MEASUREMENTS:
        m = measurements.get(name)
        if m is None:
            continue
        if not m.ok:
            lines.append(f"{name:<22}  FAILED: {m.error}"[:200])
            continue
        row(name, m.seconds, m, m.result.get("start_seconds"))
        if name == "pipeline":
            for job, seconds in m.result.get("jobs", {}).items():
                row(f"  {job}", seconds, None, None)
    return "\n".join(lines)


def _git() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=20, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(status) if status is not None else None,
    }


def measurement_json(m: Measurement) -> dict[str, Any]:
    return {
        "ok": m.ok,
        "seconds": m.seconds,
        "start_seconds": m.result.get("start_seconds"),
        "process_seconds": m.process_seconds,
        "peak_rss_mib": m.peak_rss_mib,
        "peak_pss_mib": m.peak_pss_mib,
        "load_before": list(m.load_before),
        "load_after": list(m.load_after),
        "error": m.error,
        "log": m.log,
        "result": m.result,
    }


def summary(
    args: argparse.Namespace,
    lake: Lake,
    measurements: dict[str, Measurement],
    runs: dict[str, list[dict[str, Any]]],
    checks: dict[str, Any],
    event_logs: dict[str, Any],
    started: datetime,
    load_start: tuple[float, float, float],
) -> dict[str, Any]:
    def seconds(name: str) -> float | None:
        m = measurements.get(name)
        return m.seconds if m else None

    pipeline = measurements.get("pipeline")
    return {
        "date": started.isoformat(timespec="seconds"),
        "events": args.events,
        "records": lake.report["records"],
        "pipeline_seconds": seconds("pipeline"),
        "scan_seconds": seconds("scan"),
        "core_seconds": seconds("core"),
        "scan_native_seconds": seconds("scan_native"),
        "duckdb_seconds": seconds("duckdb"),
        "jobs_seconds": pipeline.result.get("jobs") if pipeline and pipeline.ok else None,
        "spark_start_seconds": {
            n: m.result.get("start_seconds") for n, m in measurements.items() if m.ok
        },
        "peak_memory_mib": {n: m.peak_rss_mib for n, m in measurements.items()},
        "peak_pss_mib": {n: m.peak_pss_mib for n, m in measurements.items()},
        "ratios": {
            "pipeline_to_scan": _ratio(seconds("pipeline"), seconds("scan")),
            "pipeline_to_duckdb": _ratio(seconds("pipeline"), seconds("duckdb")),
            "scan_to_duckdb": _ratio(seconds("scan"), seconds("duckdb")),
            "core_to_scan": _ratio(seconds("core"), seconds("scan")),
            "pipeline_to_core": _ratio(seconds("pipeline"), seconds("core")),
            "scan_native_to_scan": _ratio(seconds("scan_native"), seconds("scan")),
        },
        "loadavg": {
            "start": list(load_start),
            "end": list(load_average()),
            "per_measurement": {n: list(m.load_before) for n, m in measurements.items()},
        },
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "git": _git(),
        "lake": {
            "root": str(lake.root),
            "params": lake.params,
            "reused": lake.reused,
            "generation_seconds": lake.generation_seconds,
            "report": lake.report,
        },
        "agreement": checks,
        "measured": sorted(measurements),
        "repeat": args.repeat,
        "event_log": args.event_log,
        "runs": runs,
        "event_logs": event_logs,
    }
