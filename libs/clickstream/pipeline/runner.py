"""Running jobs in order: progress, catalog registration, bookmark commit, run summary."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import import_module
from typing import Any

from pyspark.sql import SparkSession

from clickstream import fs
from clickstream.catalog import register_tables
from clickstream.config import ConfigError, Settings
from clickstream.pipeline import JOB_NAMES
from clickstream.pipeline.context import JobContext, JobOutcome
from clickstream.spark import catalog_dir, get_spark


def resolve_jobs(names: Sequence[str]) -> list[str]:
    """The named jobs in pipeline order (all when none is named); unknown names fail fast."""
    unknown = [n for n in names if n not in JOB_NAMES]
    if unknown:
        raise ConfigError(f"unknown job(s) {', '.join(unknown)}; jobs are: {', '.join(JOB_NAMES)}")
    return [n for n in JOB_NAMES if not names or n in names]


def run_job(ctx: JobContext, name: str) -> JobOutcome:
    """Run one job, register what it wrote, then (only then) commit its bookmark."""
    outcome: JobOutcome = import_module(f"clickstream.pipeline.{name}").run(ctx)
    register_tables(
        ctx.spark,
        ctx.settings,
        outcome.tables,
        outcome.dts,
        outcome.dropped,
        sync=ctx.catalog_sync,
    )
    outcome.commit()
    return outcome


def run_pipeline(
    settings: Settings,
    jobs: Sequence[str] = (),
    *,
    spark: SparkSession | None = None,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the jobs in order and return (and store under the lake) the run summary."""
    names = resolve_jobs(jobs)
    started = datetime.now(UTC)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    t0 = time.perf_counter()
    spark = spark or get_spark(settings)
    ctx = JobContext(spark, settings, echo)
    echo(f"clickstream run {run_id}: env={settings.env} lake={settings.lake}")
    if settings.catalog == "hive" and settings.spark_master:
        echo(f"  catalog: embedded Derby metastore in {catalog_dir(settings)}")
    results: dict[str, Any] = {}
    for i, name in enumerate(names, 1):
        echo(f"[{i}/{len(names)}] {name}")
        t = time.perf_counter()
        outcome = run_job(ctx, name)
        seconds = round(time.perf_counter() - t, 2)
        results[name] = {"seconds": seconds, **outcome.metrics}
        echo(f"  done in {seconds:.1f}s")
    summary = {
        "run_id": run_id,
        "env": settings.env,
        "lake": settings.lake,
        "started_at": started.isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - t0, 2),
        "jobs": results,
        "totals": _totals(results),
    }
    text = json.dumps(summary, indent=2)
    fs.write_text(spark, settings.path("_runs", f"{run_id}.json"), text)
    fs.write_text(spark, settings.path("_runs", "latest.json"), text)
    echo(format_summary(summary))
    return summary


def _totals(results: dict[str, Any]) -> dict[str, Any]:
    curate = results.get("curate_events", {})
    keys = ("records_read", "curated", "duplicates_removed", "quarantined", "quarantined_by_reason")
    totals = {k: curate[k] for k in keys if k in curate}
    titles = results.get("load_titles", {})
    for key in ("titles_quarantined", "titles_quarantined_by_reason"):
        if key in titles:
            totals[key] = titles[key]
    if "build_sessions" in results:
        totals["sessions_written"] = results["build_sessions"]["sessions_written"]
    if "daily_active_users" in results:
        totals["days"] = results["daily_active_users"]["days"]
    return totals


def format_summary(summary: dict[str, Any]) -> str:
    """The run summary as a few readable lines."""
    lines = [f"Run {summary['run_id']} finished in {summary['seconds']:.1f}s"]
    totals = summary["totals"]
    labels = {
        "records_read": "records read",
        "curated": "curated (new events)",
        "duplicates_removed": "duplicates removed",
        "quarantined": "quarantined",
        "titles_quarantined": "title rows quarantined",
        "sessions_written": "sessions (re)written",
        "days": "days (re)computed",
    }
    for key, label in labels.items():
        if key in totals:
            lines.append(f"  {label:<24}{totals[key]:>10,}")
        if key in ("quarantined", "titles_quarantined"):
            for reason, n in totals.get(f"{key}_by_reason", {}).items():
                lines.append(f"    {reason:<22}{n:>10,}")
    lines.append(f"  summary: {summary['lake']}/_runs/{summary['run_id']}.json")
    return "\n".join(lines)
