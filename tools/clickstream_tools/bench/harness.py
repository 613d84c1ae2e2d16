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
* ``duckdb``: the DuckDB reference doing the same parsing, dedup, sessionization and DAU;
* ``history``, ``small_objects``, ``linearity``: the scale scenarios of ``scenarios`` (hourly and
  idle runs on lakes with history, small objects, the pipeline on twice the events);
* ``full_day``: hourly on a full day (``full_day``): the same hourly batch on days of 200,000 and
  2,000,000 events; its seconds, rows written and files written.

The last table holds issues 17's and 26's targets, each with its measured value.

Each runs in its own child process (``child``); ``seconds`` is the work alone (no interpreter start
or imports; SparkSession start is reported apart as ``start``). The modules beside this one:
``raw_zone`` (the generated input), ``child`` (running and sampling one measurement), one module
per measurement (``pipeline_run``, ``spark_scan`` for scan/core/scan_native, ``duckdb_reference``),
``agreement`` (checks between them), ``event_log`` (Spark stages) and ``report`` (the table and
the JSON written to ``<out>/latest.json`` and ``<out>/history.jsonl``).

``python -m clickstream_tools.bench.harness --events N [--keep] [--out .bench] [--only pipeline,scan]
[--repeat K] [--event-log] [--history 1008,20016] [--small-objects 100000:20000:800]
[--full-day 200000,2000000]``
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clickstream.config import ConfigError, load_settings
from clickstream.config_args import add_set_arg
from clickstream_tools.bench import MIB
from clickstream_tools.bench.agreement import agreement, agreement_lines
from clickstream_tools.bench.child import Measurement, load_average, run_child
from clickstream_tools.bench.event_log import (
    job_lines,
    latest_event_log,
    measurement_overrides,
    stage_lines,
    stage_report,
)
from clickstream_tools.bench.full_day import full_day_targets, render_full_day, run_full_day
from clickstream_tools.bench.history import HourlyShape
from clickstream_tools.bench.raw_zone import ensure_lake, fresh_lake, warm_cache
from clickstream_tools.bench.report import MEASUREMENTS, measurement_json, render_table, summary
from clickstream_tools.bench.scenarios import (
    pipeline_child,
    render_scenarios,
    render_targets,
    run_history,
    run_small_objects,
    targets,
)

SCENARIOS = ("history", "small_objects", "linearity", "full_day")


def _argv(name: str, lake: Path, out: Path, result: Path, overrides: Sequence[str]) -> list[str]:
    sets = [arg for o in overrides for arg in ("--set", o)]
    if name == "pipeline":
        return [
            "-m", "clickstream_tools.bench.pipeline_run",
            "--lake", str(lake), "--result", str(result), *sets,
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
    only = args.only.split(",") if args.only else [*MEASUREMENTS, *SCENARIOS]
    names = [n for n in MEASUREMENTS if n in only]
    started = datetime.now(UTC)
    load_start = load_average()
    lake = ensure_lake(out, args.events)
    warm = warm_cache(lake.root)
    print(
        f"raw zone: {lake.report['records']:,} records, {warm / MIB:,.0f} MiB on disk (read once to warm the cache)"
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
            runs.setdefault(name, []).append(measurement_json(m))
            best = measurements.get(name)
            faster = m.ok and (not best or not best.ok or (m.seconds or 0) < (best.seconds or 0))
            if best is None or faster:
                measurements[name] = m
            if args.event_log and name != "duckdb" and m.ok:
                log_file = latest_event_log(log_dir)
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
    result = summary(args, lake, measurements, runs, checks, event_logs, started, load_start)
    scale = run_scenarios(
        args, out, only, {n: measurements[n].seconds for n in measurements if measurements[n].ok}
    )
    result["scenarios"] = scale
    text = json.dumps(result, indent=2, default=str)
    (out / "latest.json").write_text(text, encoding="utf-8")
    with (out / "history.jsonl").open("a", encoding="utf-8") as history:
        history.write(json.dumps(result, default=str) + "\n")
    print()
    print(
        f"{args.events:,} events ({records:,} raw records, {lake.report['objects']:,} objects); "
        f"load average {load_start[0]:.2f} at start, {load_average()[0]:.2f} at end; "
        f"events/s = raw records / seconds"
    )
    if measurements:
        print(table)
    if scale["history"] or scale["small_objects"]:
        print()
        print(render_scenarios(scale["history"], scale["small_objects"]))
    if scale["full_day"]:
        print()
        print(render_full_day(scale["full_day"]))
    print()
    print(render_targets(scale["targets"]))
    print(agreement_lines(checks))
    for key, report in event_logs.items():
        print(stage_lines(key, report))
    print(f"\nwrote {out / 'latest.json'}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(m.ok for m in measurements.values()) else 1


def run_scenarios(
    args: argparse.Namespace, out: Path, only: list[str], measured: dict[str, float | None]
) -> dict[str, Any]:
    """The scale scenarios asked for, and the targets table's rows from everything this run
    measured (a target whose measurements were left out shows -)."""
    hist = small = None
    double: float | None = None
    if "history" in only and args.history:
        sizes = [int(n) for n in args.history.split(",")]
        logs = out / "eventlogs" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-history")
        hist = run_history(
            out, sizes, HourlyShape(), args.overrides, event_logs=logs if args.event_log else None
        )
        for size, runs in hist["sizes"].items():
            for step, row in runs.items():
                if row.get("event_log"):
                    print(job_lines(f"history {int(size):,} objects: {step} run", row["event_log"]))
    if "small_objects" in only and args.small_objects:
        events, *counts = (int(n) for n in args.small_objects.split(":"))
        small = run_small_objects(out, events, counts, args.overrides)
    if "linearity" in only:
        big = ensure_lake(out, args.events * 2)
        scratch = out / "work" / "linearity" / "lake"
        fresh_lake(big.root, scratch)
        print(f"[pipeline at {args.events * 2:,} events] running ...", flush=True)
        m = pipeline_child("linearity", scratch, out / "work" / "linearity", args.overrides)
        double = m.seconds if m.ok else None
        print(f"  {double:.1f}s" if double is not None else f"  FAILED ({m.error})")
    day = None
    if "full_day" in only and args.full_day:
        day = run_full_day(out, [int(n) for n in args.full_day.split(",")], args.overrides)
    return {
        "history": hist,
        "small_objects": small,
        "linearity_seconds": double,
        "full_day": day,
        "targets": [*targets(measured, hist, small, double), *full_day_targets(day)],
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point of make bench: check the arguments, then run the bench."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000, help="unique events to generate")
    parser.add_argument("--out", default=".bench", help="bench folder (default .bench)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch lakes and outputs")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(MEASUREMENTS)}")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; fastest kept")
    parser.add_argument(
        "--event-log", action="store_true", help="Spark event logs; print the longest stages"
    )
    parser.add_argument(
        "--history",
        default="1008,20016",
        help="history scenario: lake sizes in objects (24 objects of 5 events an hour)",
    )
    parser.add_argument(
        "--full-day",
        default="200000,2000000",
        help="hourly-on-a-full-day scenario: day sizes in events (the same hourly batch on each)",
    )
    parser.add_argument(
        "--small-objects",
        default="100000:20000:800",
        help="small objects scenario: EVENTS:OBJECTS:OBJECTS (the same events in each count)",
    )
    add_set_arg(
        parser,
        help="config override for the Spark measurements, e.g. spark_conf.spark.driver.memory=4g",
    )
    args = parser.parse_args(argv)
    if args.events < 1 or args.repeat < 1:
        parser.error("--events and --repeat must be at least 1")
    choices = (*MEASUREMENTS, *SCENARIOS)
    if args.only and not set(args.only.split(",")) <= set(choices):
        parser.error(f"--only: choose from {','.join(choices)}")
    try:  # a bad --set fails here, before the raw zone is generated
        load_settings("local", args.overrides)
    except ConfigError as error:
        parser.error(str(error))
    return run_bench(args)


if __name__ == "__main__":
    raise SystemExit(main())
