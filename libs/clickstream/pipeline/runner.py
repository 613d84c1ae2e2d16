"""Running jobs in order: progress, catalog registration, bookmark commit, run summary."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from importlib import import_module
from typing import Any

from pyspark.sql import SparkSession

from clickstream import delta_lake, file_ops, fs
from clickstream.catalog import register_tables
from clickstream.config import Settings
from clickstream.forgotten_users import forgotten_users
from clickstream.lake_rules import check_rules
from clickstream.leases import Leases, acquire_all, check_free
from clickstream.local_modes import protect_local_lake
from clickstream.pipeline import JOB_NAMES, WRITES, leases_of, resolve_jobs
from clickstream.pipeline.context import Inputs, JobContext, JobOutcome
from clickstream.pipeline.dq_check import JOB as DQ_JOB
from clickstream.pipeline.dq_check import check_quality, raise_on_failures
from clickstream.pipeline.run_records import (
    SUCCEEDED,
    error_line,
    failed_record,
    new_run_id,
    prune_runs,
    record_run,
)
from clickstream.promoted_fields import check_promoted
from clickstream.run_metrics import publish_job_metrics
from clickstream.spark import catalog_dir, get_spark
from clickstream.state_store import StateStore, store_for
from clickstream.tables import all_tables
from clickstream.writer import format_of


def run_job(ctx: JobContext, name: str, leases: Leases | None = None) -> JobOutcome:
    """Run one job, register what it wrote, then (only then, and only while it still holds its
    leases) commit its bookmark."""
    ctx.leases = leases
    try:
        refresh_manifests(ctx, name)
        # File operations a dead process left half done (clickstream.file_ops) are finished
        # first, so nothing reads a table with a file both added and replaced.
        for op in file_ops.complete_pending(
            ctx.spark, ctx.settings.lake, _paths_written(ctx, name)
        ):
            ctx.echo(f"  completed the file operation {op} a dead run left unfinished")
        outcome: JobOutcome = import_module(f"clickstream.pipeline.{name}").run(ctx)
    finally:
        ctx.leases = None
    register_tables(
        ctx.spark,
        ctx.settings,
        outcome.tables,
        outcome.dts,
        outcome.dropped,
        sync=ctx.catalog_sync,
    )
    if leases is not None:
        leases.verify()  # re-read: a run that stalled past its lease never commits
    outcome.commit()
    if name == DQ_JOB:
        # Judged once the job's data and bookmark are committed: a failing `fail` rule ends the
        # run (finish_quality) with correct data.
        outcome.metrics["dq"] = check_quality(ctx, outcome, ctx.run_id)
    return outcome


def _paths_written(ctx: JobContext, name: str) -> list[str]:
    """The folders of the tables the job writes (pipeline.WRITES): the job holds their leases."""
    settings = ctx.settings
    return [
        settings.path(t.location)
        for t in all_tables(settings.promoted_fields)
        if t.name in WRITES[name]
    ]


def refresh_manifests(ctx: JobContext, name: str) -> None:
    """Bring the Redshift manifests of the Delta tables the job writes up to their latest
    version: a run that died between a commit and its manifests left them behind."""
    settings = ctx.settings
    for table in all_tables(settings.promoted_fields):
        if table.name not in WRITES[name]:
            continue
        if format_of(table, settings.table_format) != "delta":
            continue
        path = settings.path(table.location)
        refreshed = delta_lake.refresh_manifests(ctx.spark, path, partitioned=table.partitioned)
        if refreshed != []:
            dates = "all dates" if refreshed is None else f"{len(refreshed)} date(s)"
            ctx.echo(f"  {table.name}: manifests behind the table: refreshed ({dates})")


def acquire_job_leases(settings: Settings, job: str, echo: Callable[[str], None]) -> Leases:
    """The leases a run of the job takes (pipeline.leases_of), before it touches the lake."""
    return acquire_all(
        settings.lake, leases_of(job), stale_minutes=settings.lease_stale_minutes, warn=echo
    )


def run_pipeline(
    settings: Settings,
    jobs: Sequence[str] = (),
    *,
    spark: SparkSession | None = None,
    echo: Callable[[str], None] = print,
    inputs: Inputs | None = None,
) -> dict[str, Any]:
    """Run the jobs in order and return (and store under the lake) the run summary.

    inputs: how jobs select their inputs (default: the project's bookmark store; Glue passes its
    adapter's). A run that fails once it has started records its failure (run_records), then
    raises.
    """
    names = resolve_jobs(jobs)
    started = datetime.now(UTC)
    run_id = new_run_id(started)
    t0 = time.perf_counter()
    # Before Spark starts: owner-only folders (a local lake), the lake's pinned rules, and no
    # live run of any of these jobs.
    protect_local_lake(settings.lake)
    check_rules(settings)
    check_promoted(settings)
    forgotten_users(settings)  # the keys of the suppression list are at hand (else ConfigError)
    stale = settings.lease_stale_minutes
    check_free(settings.lake, sorted({j for n in names for j in leases_of(n)}), stale_minutes=stale)
    leases: Leases | None = acquire_job_leases(settings, names[0], echo)
    results: dict[str, Any] = {}
    store = store_for(settings.lake)
    current = names[0]
    try:
        spark = spark or get_spark(settings)
        ctx = JobContext(spark, settings, echo, inputs, run_id=run_id)
        echo(f"clickstream run {run_id}: env={settings.env} lake={settings.lake}")
        if settings.catalog == "hive" and settings.spark_master:
            echo(f"  catalog: embedded Derby metastore in {catalog_dir(settings)}")
        for i, name in enumerate(names, 1):
            current = name
            echo(f"[{i}/{len(names)}] {name}")
            t = time.perf_counter()
            if leases is None:
                leases = acquire_job_leases(settings, name, echo)
            leases.keep_renewed(stale * 60 / 4)
            try:
                outcome = run_job(ctx, name, leases)
            finally:
                leases.release()
                leases = None
            seconds = round(time.perf_counter() - t, 2)
            results[name] = {"seconds": seconds, **outcome.metrics}
            echo(f"  done in {seconds:.1f}s")
            publish_job_metrics(settings, name, results[name], warn=echo)
    except Exception as exc:
        summary = _summary(settings, run_id, started, t0, results)
        _record_failure(store, failed_record(summary, current, exc, store), echo)
        raise
    finally:
        if leases is not None:
            leases.release()
    summary = {**_summary(settings, run_id, started, t0, results), "status": SUCCEEDED}
    record_run(store, summary)
    prune_runs(store, started - timedelta(days=settings.state_retention_days))
    echo(format_summary(summary))
    raise_on_failures(results)
    return summary


def record_job_run(
    settings: Settings,
    job: str,
    run: Callable[[str], JobOutcome],
    echo: Callable[[str], None] = print,
) -> JobOutcome:
    """Run one job outside run_pipeline (a Glue job run: `run` gets the run's id), recording the
    run as run_pipeline does; DataQualityFailed after the record when a `fail` rule failed."""
    started = datetime.now(UTC)
    run_id, t0 = new_run_id(started), time.perf_counter()
    store = store_for(settings.lake)
    try:
        outcome = run(run_id)
    except Exception as exc:
        summary = _summary(settings, run_id, started, t0, {})
        _record_failure(store, failed_record(summary, job, exc, store), echo)
        raise
    results = {job: {"seconds": round(time.perf_counter() - t0, 2), **outcome.metrics}}
    publish_job_metrics(settings, job, results[job], warn=echo)
    summary = {**_summary(settings, run_id, started, t0, results), "status": SUCCEEDED}
    record_run(store, summary)
    prune_runs(store, started - timedelta(days=settings.state_retention_days))
    raise_on_failures(results)
    return outcome


def _summary(
    settings: Settings, run_id: str, started: datetime, t0: float, results: dict[str, Any]
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "env": settings.env,
        "lake": settings.lake,
        "started_at": started.isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - t0, 2),
        "jobs": results,
        "totals": _totals(results),
    }


def _record_failure(store: StateStore, record: dict[str, Any], echo: Callable[[str], None]) -> None:
    """Record a failed run; a store that fails too only costs a warning (the run's own error is
    what propagates)."""
    try:
        record_run(store, record)
    except Exception as exc:  # the lake's store is unreachable as well
        echo(f"warning: could not record the failed run {record['run_id']}: {error_line(exc)}")
        return
    echo(f"Run {record['run_id']} failed in {record['failed_job']}: {record['error']}")


# What a rebuild keeps under _state: leases, the titles change log (below), operator decisions
# (objects set aside, forgotten users and their erasure records).
KEPT_STATE = ("leases", "titles", "skipped_objects", "forgotten")


def rebuild_lake(
    settings: Settings, *, spark: SparkSession | None = None, echo: Callable[[str], None] = print
) -> dict[str, Any]:
    """Delete the lake's curated tables, quarantine and state (never its raw objects, reference
    files, the titles change log, the objects set aside, the forgotten users or leases), then run
    the whole pipeline over every raw object: the way to change a rule pinned to the lake. Fails
    first when any job is running."""
    check_free(settings.lake, list(JOB_NAMES), stale_minutes=settings.lease_stale_minutes)
    spark = spark or get_spark(settings)
    for folder in ("curated", "quarantine"):
        fs.delete(spark, settings.path(folder))
    for name in fs.list_names(spark, settings.path("_state")):
        if name not in KEPT_STATE:
            fs.delete(spark, settings.path("_state", name))
    # The titles change log is what the lake received from the reference source (a csv snapshot
    # or a row pulled over JDBC may exist nowhere else now): kept. The rest is derived state.
    for name in fs.list_names(spark, settings.path("_state", "titles")):
        if name != "changes":
            fs.delete(spark, settings.path("_state", "titles", name))
    echo(f"rebuild: curated tables, quarantine and state deleted under {settings.lake}")
    return run_pipeline(settings, spark=spark, echo=echo)


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
