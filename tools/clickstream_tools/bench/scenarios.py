"""The bench's scale scenarios: hourly and idle runs on lakes with history, small objects, and
linearity, each run as the ``pipeline`` measurement in a child process.

* history: per lake size, a full run over the history (setup), an idle run (nothing new) and an
  hourly run (one more hour: ``per_hour`` objects of ``per_object`` events), in that order on
  the same lake, each in a fresh process;
* small objects: the same events in many small objects and in few large ones, a full run each;
* linearity: the pipeline on twice the bench's events (the main raw zone generator).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from clickstream_tools.bench import history
from clickstream_tools.bench.child import Measurement, run_child
from clickstream_tools.bench.event_log import job_report, latest_event_log, measurement_overrides
from clickstream_tools.bench.raw_zone import fresh_lake


def _pipeline_argv(lake: Path, result: Path, overrides: Sequence[str]) -> list[str]:
    sets = [arg for o in overrides for arg in ("--set", o)]
    return [
        "-m", "clickstream_tools.bench.pipeline_run", "--lake", str(lake),
        "--result", str(result), *sets,
    ]  # fmt: skip


def pipeline_child(name: str, lake: Path, work: Path, overrides: Sequence[str]) -> Measurement:
    """One pipeline run on lake (as it is) in a fresh process."""
    result = work / f"{name}.json"
    return run_child(
        name,
        _pipeline_argv(lake, result, overrides),
        result_file=result,
        log_file=work / "logs" / f"{name}.log",
        cwd=work,
    )


def _cached(root: Path, params: dict[str, Any], build: Callable[[Path], int]) -> Path:
    """root built by build() once per params (and generator source), reused afterwards."""
    source = Path(history.__file__).read_bytes()
    params = {**params, "generator_sha256": hashlib.sha256(source).hexdigest()[:16]}
    meta = root / "params.json"
    if meta.is_file() and json.loads(meta.read_text(encoding="utf-8")) == params:
        return root
    build(root)
    meta.write_text(json.dumps(params), encoding="utf-8")
    return root


def _seconds(m: Measurement) -> float | None:
    return m.seconds if m.ok else None


def _row(m: Measurement) -> dict[str, Any]:
    return {
        "ok": m.ok,
        "seconds": _seconds(m),
        "start_seconds": m.result.get("start_seconds"),
        "process_seconds": m.process_seconds if m.ok else None,
        "jobs": m.result.get("jobs"),
        "spark_jobs": m.result.get("spark_jobs"),
        "records_read": m.result.get("records_read"),
        "load_before": list(m.load_before),
        "error": m.error,
    }


def run_history(
    out: Path,
    sizes: Sequence[int],
    shape: history.HourlyShape,
    overrides: Sequence[str],
    echo: Callable[[str], None] = print,
    *,
    event_logs: Path | None = None,
) -> dict[str, Any]:
    """Full, idle and hourly runs per history size (objects); their times by size. With
    event_logs, each run writes a Spark event log there and its row gets job_report()."""
    found: dict[str, Any] = {"shape": asdict(shape), "sizes": {}}
    for objects in sizes:
        base = _cached(
            out / f"history-{objects}",
            {"objects": objects, **asdict(shape)},
            lambda root, n=objects: history.hourly_lake(root, n, shape),
        )
        work = out / "work" / f"history-{objects}"
        lake = work / "lake"
        fresh_lake(base, lake)
        runs: dict[str, Any] = {}
        for step in ("full", "idle", "hourly"):
            if step == "hourly":
                history.next_hour(lake, shape)
            echo(f"[history {objects:,} objects: {step} run] running ...")
            name = f"history-{objects}-{step}"
            log_dir = event_logs / name if event_logs is not None else None
            if log_dir is not None:
                log_dir.mkdir(parents=True, exist_ok=True)
            m = pipeline_child(name, lake, work, measurement_overrides(overrides, log_dir))
            runs[step] = _row(m)
            log_file = latest_event_log(log_dir) if log_dir is not None and m.ok else None
            if log_file is not None:
                runs[step]["event_log"] = {"file": str(log_file), **job_report(log_file)}
            echo(f"  {_status(m)}")
        found["sizes"][str(objects)] = runs
    return found


def run_small_objects(
    out: Path,
    events: int,
    object_counts: Sequence[int],
    overrides: Sequence[str],
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """A full run over the same events delivered in each number of objects."""
    found: dict[str, Any] = {"events": events, "objects": {}}
    for objects in object_counts:
        base = _cached(
            out / f"split-{events}-{objects}",
            {"events": events, "objects": objects},
            lambda root, n=objects: history.split_lake(root, events, n),
        )
        work = out / "work" / f"split-{objects}"
        lake = work / "lake"
        fresh_lake(base, lake)
        echo(f"[{events:,} events in {objects:,} objects] running ...")
        m = pipeline_child(f"split-{objects}", lake, work, overrides)
        found["objects"][str(objects)] = _row(m)
        echo(f"  {_status(m)}")
    return found


def _status(m: Measurement) -> str:
    return f"{m.seconds:.1f}s" if m.ok and m.seconds is not None else f"FAILED ({m.error})"


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def targets(
    measured: dict[str, float | None],
    hist: dict[str, Any] | None,
    small: dict[str, Any] | None,
    double: float | None,
) -> list[tuple[str, float | None, str]]:
    """Issue 17's targets: (what, measured value, target)."""
    rows: list[tuple[str, float | None, str]] = []
    if hist and len(hist["sizes"]) >= 2:
        sizes = sorted(hist["sizes"], key=int)
        small_lake, big_lake = hist["sizes"][sizes[0]], hist["sizes"][sizes[-1]]
        for step in ("idle", "hourly"):
            rows.append(
                (
                    f"{step} run, {int(sizes[-1]):,} / {int(sizes[0]):,} objects",
                    ratio(big_lake[step]["seconds"], small_lake[step]["seconds"]),
                    "<= 1.25",
                )
            )
    if hist:
        for size, runs in sorted(hist["sizes"].items(), key=lambda kv: int(kv[0])):
            hourly, idle = runs["hourly"], runs["idle"]
            rows.append(
                (
                    f"hourly / idle run, {int(size):,} objects",
                    ratio(hourly["seconds"], idle["seconds"]),
                    "<= 3 (goal 2)",
                )
            )
            rows.append(
                (
                    "  the same, whole processes (Spark start too)",
                    ratio(hourly.get("process_seconds"), idle.get("process_seconds")),
                    "<= 3 (goal 2)",
                )
            )
    if small and len(small["objects"]) >= 2:
        counts = sorted(small["objects"], key=int)
        many, few = small["objects"][counts[-1]], small["objects"][counts[0]]
        rows.append(
            (
                f"{small['events']:,} events in {int(counts[-1]):,} / {int(counts[0]):,} objects",
                ratio(many["seconds"], few["seconds"]),
                "<= 2",
            )
        )
    pipeline, scan, duckdb = (measured.get(k) for k in ("pipeline", "scan", "duckdb"))
    rows.append(("pipeline / scan", ratio(pipeline, scan), "<= 1.8"))
    rows.append(("pipeline / DuckDB", ratio(pipeline, duckdb), "goal <= 3"))
    rows.append(("pipeline at 2x events / pipeline", ratio(double, pipeline), "<= 2.2"))
    return rows


def spark_jobs_line(spark_jobs: dict[str, dict[str, int]] | None) -> str:
    """Spark jobs (stages run) per pipeline job, e.g. 'curate_events 34 (34)', or '-'."""
    if not spark_jobs:
        return "-"
    return ", ".join(f"{job} {n['jobs']} ({n['stages_run']})" for job, n in spark_jobs.items())


def render_scenarios(hist: dict[str, Any] | None, small: dict[str, Any] | None) -> str:
    """The scenario runs as a table: seconds of each run (work alone, Spark start apart) and its
    Spark jobs; then the Spark jobs (and stages run) of each pipeline job of the hourly runs."""
    header = (
        f"{'scenario':<40}{'seconds':>9}{'start s':>9}{'process s':>11}{'records':>10}"
        f"{'spark jobs':>12}{'load 1m':>9}"
    )
    lines = [header, "-" * len(header)]
    hourly: list[str] = []

    def row(label: str, r: dict[str, Any]) -> None:
        if not r["ok"]:
            lines.append(f"{label:<40}  FAILED: {r['error']}"[:200])
            return
        jobs = sum(n["jobs"] for n in (r.get("spark_jobs") or {}).values())
        lines.append(
            f"{label:<40}{r['seconds']:>9.1f}{r['start_seconds'] or 0:>9.1f}"
            f"{r.get('process_seconds') or 0:>11.1f}{r['records_read'] or 0:>10,}"
            f"{jobs or '-':>12}{r['load_before'][0]:>9.2f}"
        )

    for size, runs in sorted((hist or {}).get("sizes", {}).items(), key=lambda kv: int(kv[0])):
        for step, r in runs.items():
            row(f"history {int(size):,} objects: {step}", r)
            if step == "hourly" and r["ok"]:
                hourly.append(
                    f"Spark jobs (stages run) of the hourly run, {int(size):,} objects: "
                    + spark_jobs_line(r.get("spark_jobs"))
                )
    for objects, r in sorted((small or {}).get("objects", {}).items(), key=lambda kv: int(kv[0])):
        row(f"{small['events']:,} events in {int(objects):,} objects", r)  # type: ignore[index]
    return "\n".join([*lines, *hourly])


def render_targets(rows: list[tuple[str, float | None, str]]) -> str:
    """The targets table: measured value, target, met or not."""
    header = f"{'target':<48}{'measured':>10}  {'target':<14}{'met':>5}"
    lines = [header, "-" * len(header)]
    for label, value, target in rows:
        bound = float(target.split("<=")[1].split()[0])
        met = "-" if value is None else ("yes" if value <= bound else "no")
        shown = "-" if value is None else f"{value:.2f}"
        lines.append(f"{label:<48}{shown:>10}  {target:<14}{met:>5}")
    return "\n".join(lines)
