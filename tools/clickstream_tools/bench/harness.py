"""``make bench``: the local pipeline against the Spark scan baseline and the DuckDB reference.

One run, on one generated raw zone (``<out>/lake-<events>/``, reused while its parameters and the
generator are unchanged):

* ``pipeline``: ``run_pipeline`` (all jobs) with the local settings on a fresh copy of the raw
  zone and the titles (hard links), so curated tables, state and bookmarks start empty;
* ``scan``: the same Spark settings reading the same objects with the Firehose reader and writing
  them as dt-partitioned Parquet, the floor for any Spark pipeline here;
* ``core``: the scan's read plus dedup and sessionization as the pipeline computes them, written
  by dt, without quarantine, enrichment, catalog, bookkeeping or the other jobs;
* ``scan_native``: Spark's own JSON reader to dt-partitioned Parquet (it drops records);
* ``duckdb``: the DuckDB reference doing the same parsing, dedup, sessionization and DAU.

Each runs in its own child process (fresh JVM, memory and caches); ``seconds`` is the work alone
(no interpreter start or imports; SparkSession start is reported apart as ``start``), memory is the
peak summed RSS (and PSS) of the child's whole process tree (Python, JVM, Python workers), sampled
every 0.2 s. The table goes to stdout, the numbers to ``<out>/latest.json`` and
``<out>/history.jsonl``.

``python -m clickstream_tools.bench.harness --events N [--keep] [--out .bench] [--only pipeline,scan]
[--repeat K] [--event-log]``
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psutil

from clickstream.config import ConfigError, load_settings
from clickstream_tools import sample

MEASUREMENTS = ("pipeline", "scan", "core", "scan_native", "duckdb")
DAYS = 4
EVENTS_PER_USER = 200
SEED = 7
START = date(2026, 3, 1)
SAMPLE_SECONDS = 0.2
TIMEOUT_SECONDS = 3 * 3600
REPO = Path(__file__).resolve().parents[3]
_MIB = 1024 * 1024
_JOB_LINE = re.compile(r"^\[\d+/\d+\] (\w+)$")


# ---------------------------------------------------------------------------------------------
# The raw zone
# ---------------------------------------------------------------------------------------------


def lake_params(events: int) -> dict[str, Any]:
    """Generator arguments for a bench of `events` unique events, plus the generator's hash."""
    source = Path(sample.__file__).read_bytes()
    return {
        "events": events,
        "users": max(1, events // EVENTS_PER_USER),
        "days": DAYS,
        "start": START.isoformat(),
        "seed": SEED,
        "generator_sha256": hashlib.sha256(source).hexdigest()[:16],
    }


@dataclass
class Lake:
    """A generated raw zone: where, with which parameters, what the generator reported."""

    root: Path
    params: dict[str, Any]
    report: dict[str, Any]
    generation_seconds: float
    reused: bool


def ensure_lake(out: Path, events: int, echo: Callable[[str], None] = print) -> Lake:
    """<out>/lake-<events>/ with raw/ and ref/: reused when params.json matches, else generated."""
    params = lake_params(events)
    root = out / f"lake-{events}"
    meta = root / "params.json"
    if meta.is_file():
        stored = json.loads(meta.read_text(encoding="utf-8"))
        if stored.get("params") == params:
            echo(f"reusing {root} (generated in {stored['generation_seconds']:.1f}s)")
            return Lake(root, params, stored["report"], stored["generation_seconds"], True)
    echo(f"generating {root}: {events:,} events, {params['users']:,} users, {DAYS} days")
    staging = out / f"lake-{events}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    t0 = time.perf_counter()
    report = sample.generate_sample(
        staging,
        events=events,
        users=params["users"],
        days=DAYS,
        start=START,
        seed=SEED,
    )
    seconds = round(time.perf_counter() - t0, 2)
    report_dict = {**asdict(report), "lake_root": str(root), "records": report.records}
    report_dict["valid_records"] = report.valid_records
    (staging / "params.json").write_text(
        json.dumps(
            {"params": params, "report": report_dict, "generation_seconds": seconds}, indent=2
        ),
        encoding="utf-8",
    )
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    echo(f"  {report.records:,} records in {report.objects:,} objects, {seconds:.1f}s")
    return Lake(root, params, report_dict, seconds, False)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def fresh_lake(source: Path, target: Path) -> None:
    """target/ = source's raw/ and ref/ only (hard links where possible); nothing else."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for part in ("raw", "ref"):
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, copy_function=_link_or_copy)


def warm_cache(root: Path) -> int:
    """Read every raw object once, so all measurements start from the same (warm) page cache."""
    total = 0
    for path in sorted((root / "raw").rglob("*")):
        if path.is_file():
            with path.open("rb") as f:
                while chunk := f.read(8 * _MIB):
                    total += len(chunk)
    return total


# ---------------------------------------------------------------------------------------------
# Child processes
# ---------------------------------------------------------------------------------------------


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


def _load() -> tuple[float, float, float]:
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
    measurement = Measurement(name, ok=False, load_before=_load(), log=str(log_file))
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
    measurement.load_after = _load()
    measurement.peak_rss_mib = round(peak_rss / _MIB, 1)
    measurement.peak_pss_mib = round(peak_pss / _MIB, 1) if peak_pss is not None else None
    if proc.returncode == 0 and result_file.is_file():
        measurement.ok = True
        measurement.result = json.loads(result_file.read_text(encoding="utf-8"))
    elif measurement.error is None:
        tail = log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        measurement.error = f"exit code {proc.returncode}: " + " | ".join(tail)
    return measurement


def _measure_pipeline(lake: str, overrides: Sequence[str], label_jobs: bool) -> dict[str, Any]:
    """Child side of `pipeline`: start Spark, then time run_pipeline (all jobs)."""
    from clickstream.pipeline.runner import run_pipeline
    from clickstream.spark import get_spark

    settings = load_settings("local", [f"lake_root={lake}", *overrides])
    t0 = time.perf_counter()
    spark = get_spark(settings)
    start = time.perf_counter() - t0

    def echo(message: str) -> None:
        print(message, flush=True)
        match = _JOB_LINE.match(message)
        if match and label_jobs:  # names the Spark jobs of each pipeline job in the event log
            spark.sparkContext.setJobDescription(match.group(1))

    t1 = time.perf_counter()
    summary = run_pipeline(settings, spark=spark, echo=echo)
    seconds = time.perf_counter() - t1
    spark.stop()
    totals = summary.get("totals", {})
    return {
        "start_seconds": round(start, 3),
        "seconds": round(seconds, 3),
        "jobs": {name: job["seconds"] for name, job in summary["jobs"].items()},
        "job_metrics": summary["jobs"],
        "totals": totals,
        "records_read": totals.get("records_read"),
    }


# ---------------------------------------------------------------------------------------------
# Spark event logs
# ---------------------------------------------------------------------------------------------


def _accumulable(info: dict[str, Any], name: str) -> int:
    for acc in info.get("Accumulables", []):
        if acc.get("Name") == name:
            try:
                return int(acc.get("Value", 0))
            except (TypeError, ValueError):
                return 0
    return 0


def stage_report(event_log: Path, top: int = 12) -> dict[str, Any]:
    """The longest stages of a Spark event log, and stage seconds per job description."""
    job_of_stage: dict[int, str] = {}
    stages: list[dict[str, Any]] = []
    for line in event_log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        kind = event.get("Event")
        if kind == "SparkListenerJobStart":
            props = event.get("Properties") or {}
            label = props.get("spark.job.description") or props.get("callSite.short") or "?"
            for stage_id in event.get("Stage IDs", []):
                job_of_stage[stage_id] = label
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
                        _accumulable(info, "internal.metrics.input.bytesRead") / _MIB, 1
                    ),
                    "shuffle_write_mib": round(
                        _accumulable(info, "internal.metrics.shuffle.write.bytesWritten") / _MIB, 1
                    ),
                    "operators": scopes,
                }
            )
    per_job: dict[str, float] = {}
    for stage in stages:
        per_job[stage["job"]] = round(per_job.get(stage["job"], 0.0) + stage["seconds"], 2)
    longest = sorted(stages, key=lambda s: -s["seconds"])[:top]
    return {"stages": len(stages), "stage_seconds_by_job": per_job, "longest": longest}


def _event_log_file(folder: Path) -> Path | None:
    files = sorted(p for p in folder.glob("*") if p.is_file() and not p.name.startswith("."))
    return files[-1] if files else None


# ---------------------------------------------------------------------------------------------
# Agreement
# ---------------------------------------------------------------------------------------------


def _check(a: Any, b: Any) -> dict[str, Any]:
    return {"pipeline": a, "duckdb": b, "equal": a == b}


def agreement(
    pipeline_lake: Path | None,
    duckdb_out: Path | None,
    measurements: dict[str, Measurement],
    report: dict[str, Any],
) -> dict[str, Any]:
    """Compare the pipeline's curated output with the DuckDB reference (and both with the sample)."""
    import duckdb

    checks: dict[str, Any] = {}
    pipe, ref = measurements.get("pipeline"), measurements.get("duckdb")
    scan, native = measurements.get("scan"), measurements.get("scan_native")
    checks["generator"] = {
        "records": report["records"],
        "valid_records": report["valid_records"],
        "unique_events": report["unique_events"],
        "malformed": report["malformed"],
    }
    if scan and scan.ok:
        checks["scan_records_equal_generator"] = scan.result["records_read"] == report["records"]
    core = measurements.get("core")
    if core and core.ok:
        checks["core_events_equal_generator"] = core.result["rows"] == report["unique_events"]
    if native and native.ok:
        got = native.result["rows_with_event_id"]
        checks["scan_native"] = {
            "rows": native.result["rows"],
            "rows_with_event_id": got,
            "valid_records": report["valid_records"],
            "dropped_or_broken": report["valid_records"] - got,
            "fraction_read": round(got / max(1, report["valid_records"]), 4),
        }
    if not (pipe and pipe.ok and ref and ref.ok and pipeline_lake):
        return checks
    con = duckdb.connect()
    con.execute("SET threads = 2")
    totals = pipe.result["totals"]
    for key in ("records_read", "curated", "duplicates_removed", "quarantined"):
        checks[key] = _check(totals.get(key), ref.result.get(key))
    checks["quarantined_by_reason"] = _check(
        totals.get("quarantined_by_reason"), ref.result.get("quarantined_by_reason")
    )
    dau_glob = str(pipeline_lake / "curated/daily_active_users/*/*.parquet")
    pipe_dau = [
        {"dt": dt, "active_users": int(a), "events": int(e)}
        for dt, a, e in con.execute(
            "SELECT CAST(dt AS VARCHAR), active_users, events "
            "FROM read_parquet($g, hive_partitioning = true) "
            "ORDER BY dt",
            {"g": dau_glob},
        ).fetchall()
    ]
    checks["dau"] = {
        "rows": len(pipe_dau),
        "equal": pipe_dau == ref.result["dau"],
        "pipeline": pipe_dau,
        "duckdb": ref.result["dau"],
    }
    sessions_glob = str(pipeline_lake / "curated/sessions/*/*.parquet")
    pipe_sessions = con.execute(
        "SELECT count(*) FROM read_parquet($g, hive_partitioning = true)", {"g": sessions_glob}
    ).fetchone()
    checks["sessions"] = _check(
        int(pipe_sessions[0]) if pipe_sessions else 0, ref.result["sessions"]
    )
    if duckdb_out is not None and (duckdb_out / "curated/sessions").is_dir():
        ref_glob = str(duckdb_out / "curated/sessions/*/*.parquet")
        only = {}
        for label, a, b in (
            ("only_pipeline", sessions_glob, ref_glob),
            ("only_duckdb", ref_glob, sessions_glob),
        ):
            row = con.execute(
                "SELECT count(*) FROM (SELECT session_id FROM read_parquet($a) "
                "EXCEPT SELECT session_id FROM read_parquet($b))",
                {"a": a, "b": b},
            ).fetchone()
            only[label] = int(row[0]) if row else 0
        checks["session_ids"] = {**only, "equal": not any(only.values())}
    con.close()
    return checks


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


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


def _argv(name: str, lake: Path, out: Path, result: Path, overrides: Sequence[str]) -> list[str]:
    sets = [arg for o in overrides for arg in ("--set", o)]
    if name == "pipeline":
        label = ["--label-jobs"] if any("eventLog" in o for o in overrides) else []
        return [
            "-m", "clickstream_tools.bench.harness", "--child", "pipeline",
            "--lake", str(lake), "--result", str(result), *label, *sets,
        ]  # fmt: skip
    if name in ("scan", "core", "scan_native"):
        return [
            "-m", "clickstream_tools.bench.spark_scan", "--mode", name, "--lake", str(lake),
            "--out", str(out), "--result", str(result), *sets,
        ]  # fmt: skip
    return [
        "-m", "clickstream_tools.bench.duckdb_reference", "--lake", str(lake), "--out", str(out),
        "--result", str(result), "--threads", "2",
    ]  # fmt: skip


def run_bench(args: argparse.Namespace) -> int:
    """Generate (or reuse) the raw zone, run the measurements, print and store the results."""
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    names = [n for n in MEASUREMENTS if n in (args.only.split(",") if args.only else MEASUREMENTS)]
    started = datetime.now(UTC)
    load_start = _load()
    lake = ensure_lake(out, args.events)
    warm = warm_cache(lake.root)
    print(
        f"raw zone: {lake.report['records']:,} records, {warm / _MIB:,.0f} MiB on disk (read once to warm the cache)"
    )
    work = out / "work"
    logs = out / "logs"
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    measurements: dict[str, Measurement] = {}
    runs: dict[str, list[dict[str, Any]]] = {}
    event_logs: dict[str, Any] = {}
    for name in names:
        for attempt in range(args.repeat):
            scratch = work / name / "lake"
            fresh_lake(lake.root, scratch)
            log_dir = out / "eventlogs" / f"{stamp}-{name}-{attempt}"
            logged = args.event_log and name != "duckdb"
            if logged:
                log_dir.mkdir(parents=True, exist_ok=True)
            overrides = measurement_overrides(args.overrides, log_dir if logged else None)
            result = work / name / "result.json"
            print(
                f"[{name}{f' #{attempt + 1}' if args.repeat > 1 else ''}] running ...", flush=True
            )
            m = run_child(
                name,
                _argv(name, scratch, work / name / "out", result, overrides),
                result_file=result,
                log_file=logs / f"{name}.log",
                cwd=work / name,
            )
            status = (
                f"{m.seconds:.1f}s" if m.ok and m.seconds is not None else f"FAILED ({m.error})"
            )
            print(
                f"  {status}; peak {m.peak_rss_mib:,.0f} MiB; load {m.load_before[0]:.2f}",
                flush=True,
            )
            runs.setdefault(name, []).append(_measurement_json(m))
            best = measurements.get(name)
            faster = m.ok and (not best or not best.ok or (m.seconds or 0) < (best.seconds or 0))
            if best is None or faster:
                measurements[name] = m
            if args.event_log and name != "duckdb" and m.ok:
                log_file = _event_log_file(log_dir)
                if log_file is not None:
                    event_logs[f"{name}#{attempt + 1}"] = {
                        "file": str(log_file),
                        **stage_report(log_file),
                    }
    checks = agreement(
        work / "pipeline" / "lake" if "pipeline" in measurements else None,
        work / "duckdb" / "out" if "duckdb" in measurements else None,
        measurements,
        lake.report,
    )
    records = int(lake.report["records"])
    table = render_table(records, measurements)
    summary = _summary(args, lake, measurements, runs, checks, event_logs, started, load_start)
    text = json.dumps(summary, indent=2, default=str)
    (out / "latest.json").write_text(text, encoding="utf-8")
    with (out / "history.jsonl").open("a", encoding="utf-8") as history:
        history.write(json.dumps(summary, default=str) + "\n")
    print()
    print(
        f"{args.events:,} events ({records:,} raw records, {lake.report['objects']:,} objects); "
        f"load average {load_start[0]:.2f} at start, {_load()[0]:.2f} at end; "
        f"events/s = raw records / seconds"
    )
    print(table)
    print(_agreement_lines(checks))
    for key, report in event_logs.items():
        print(_stage_lines(key, report))
    print(f"\nwrote {out / 'latest.json'}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(m.ok for m in measurements.values()) else 1


def _measurement_json(m: Measurement) -> dict[str, Any]:
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


def _summary(
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
            "end": list(_load()),
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


def _agreement_lines(checks: dict[str, Any]) -> str:
    lines = ["", "agreement (pipeline vs DuckDB reference):"]
    for key, value in checks.items():
        if key == "dau" and isinstance(value, dict):
            lines.append(f"  dau: {value['rows']} rows, equal={value['equal']}")
        elif isinstance(value, dict) and "equal" in value:
            shown = {k: v for k, v in value.items() if k != "equal"}
            lines.append(f"  {key}: equal={value['equal']} {shown}")
        else:
            lines.append(f"  {key}: {value}")
    return "\n".join(lines)


def _stage_lines(key: str, report: dict[str, Any]) -> str:
    lines = [f"\nlongest Spark stages of {key} ({report['stages']} stages):"]
    lines.append(f"  stage seconds by job: {report['stage_seconds_by_job']}")
    for s in report["longest"]:
        ops = ", ".join(s["operators"][:6])
        lines.append(
            f"  {s['seconds']:>7.1f}s  stage {s['stage']:<4} {s['job']:<20} tasks={s['tasks']:<4} "
            f"in={s['input_mib']}MiB shuffle_w={s['shuffle_write_mib']}MiB  [{ops}]"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point: the bench, or (with --child) one measurement inside a child process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000, help="unique events to generate")
    parser.add_argument("--out", default=".bench", help="bench folder (default .bench)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch lakes and outputs")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(MEASUREMENTS)}")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; fastest kept")
    parser.add_argument(
        "--event-log", action="store_true", help="Spark event logs; print the longest stages"
    )
    parser.add_argument("--child", choices=("pipeline",), help=argparse.SUPPRESS)
    parser.add_argument("--lake", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--label-jobs", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for the Spark measurements, e.g. spark_conf.spark.driver.memory=4g",
    )
    args = parser.parse_args(argv)
    if args.child == "pipeline":
        result = _measure_pipeline(args.lake, args.overrides, args.label_jobs)
        Path(args.result).write_text(json.dumps(result, indent=2), encoding="utf-8")
        return 0
    if args.events < 1 or args.repeat < 1:
        parser.error("--events and --repeat must be at least 1")
    if args.only and not set(args.only.split(",")) <= set(MEASUREMENTS):
        parser.error(f"--only: choose from {','.join(MEASUREMENTS)}")
    try:  # a bad --set fails here, before the raw zone is generated
        load_settings("local", args.overrides)
    except ConfigError as error:
        parser.error(str(error))
    return run_bench(args)


if __name__ == "__main__":
    raise SystemExit(main())
