"""Judging the data-quality rules after curate_events committed, and recording every result.

The rules (clickstream.dq_rules) are judged on the job's figures, on the dq_results history (the
volume of the same UTC hour on earlier days) and on the event_ids of the dates it wrote. Every
result is appended to dq_results (one row per rule and run, Parquet, dt = the UTC date judged)
and returned for the run summary; a failing `fail` rule raises DataQualityFailed only once the
run has committed everything (runner.finish_quality).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pyspark.sql import functions as F

from clickstream.catalog import register_tables
from clickstream.dq_rules import (
    PASS,
    RULES,
    VOLUME_DAYS,
    DataQualityFailed,
    Result,
    Rule,
    event_id_unique,
    failures,
    freshness,
    judged_records,
    parse_rules,
    quarantine_rate,
    volume_drop,
)
from clickstream.pipeline.context import JobContext, JobOutcome
from clickstream.tables import DQ_RESULTS, PARTITION_COLUMN, events_table
from clickstream.writer import conform, read_table, table_schema

JOB = "curate_events"


def check_quality(
    ctx: JobContext,
    outcome: JobOutcome,
    run_id: str,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[dict[str, Any]]:
    """Judge every rule that is on, append the results to dq_results, print the breaches; the
    results as dicts (empty when every rule is off)."""
    rules = parse_rules(ctx.settings.dq_rules)
    at = now()
    # Milliseconds: what Athena (Trino) shows of a timestamp; the stored value reads back equal.
    at = at.replace(microsecond=at.microsecond // 1000 * 1000)
    results = [
        judged
        for name in RULES
        if (rule := rules.get(name)) is not None and rule.threshold is not None
        for judged in [_judge(ctx, rule, outcome, at)]
    ]
    if not results:
        return []
    _record(ctx, run_id, results, at)
    for result in results:
        if result.status != PASS:
            ctx.echo(f"  {result.line}")
    return [r.as_dict() for r in results]


def _judge(ctx: JobContext, rule: Rule, outcome: JobOutcome, at: datetime) -> Result:
    figures = outcome.metrics
    if rule.name == "quarantine_rate_max":
        return quarantine_rate(rule, *judged_records(figures))
    if rule.name == "volume_drop_max":
        return volume_drop(rule, figures.get("curated", 0), volume_history(ctx, at), at.hour)
    if rule.name == "freshness_max_minutes":
        newest = figures.get("newest_ingested_at")
        return freshness(rule, datetime.fromisoformat(newest) if newest else None, at)
    dts = sorted(outcome.dts.get("events", ()))
    return event_id_unique(rule, extra_copies(ctx, dts), len(dts))


def volume_history(ctx: JobContext, at: datetime) -> list[int]:
    """Curated events per earlier day (of the last VOLUME_DAYS) over the runs judged in at's UTC
    hour: reads only those days' dq_results partitions."""
    days = [(at - timedelta(days=n)).date().isoformat() for n in range(1, VOLUME_DAYS + 1)]
    rows = (
        read_table(ctx.spark, ctx.settings.lake, DQ_RESULTS, days)
        .where((F.col("rule") == "volume_drop_max") & (F.hour("evaluated_at") == at.hour))
        .groupBy(PARTITION_COLUMN)
        .agg(F.sum("observed").alias("curated"))
        .collect()
    )
    return [int(r["curated"] or 0) for r in sorted(rows, key=lambda r: r[PARTITION_COLUMN])]


def extra_copies(ctx: JobContext, dts: Sequence[str]) -> int:
    """Rows beyond the first of each event_id on the dates (event_id column only)."""
    if not dts:
        return 0
    events = read_table(
        ctx.spark, ctx.settings.lake, events_table(ctx.settings.promoted_fields), list(dts)
    )
    row = events.agg(F.count("*").alias("rows"), F.count_distinct("event_id").alias("ids")).first()
    return int(row["rows"]) - int(row["ids"]) if row is not None else 0


def _record(ctx: JobContext, run_id: str, results: list[Result], at: datetime) -> None:
    """Append the run's results to dq_results (one small file) and register the date."""
    dt = at.date().isoformat()
    rows = [
        {**r.as_dict(), "run_id": run_id, "job": JOB, "evaluated_at": at, PARTITION_COLUMN: dt}
        for r in results
    ]
    frame = ctx.spark.createDataFrame(rows, table_schema(DQ_RESULTS))
    ctx.guard()
    conform(frame, DQ_RESULTS).coalesce(1).write.mode("append").partitionBy(
        PARTITION_COLUMN
    ).parquet(ctx.settings.path(DQ_RESULTS.location))
    register_tables(
        ctx.spark,
        ctx.settings,
        (DQ_RESULTS,),
        {DQ_RESULTS.name: (dt,)},
        sync=ctx.catalog_sync,
    )


def raise_on_failures(results: Mapping[str, Any]) -> None:
    """DataQualityFailed (one line per failed `fail` rule) when the run's dq results hold one."""
    lines = failures(results.get(JOB, {}).get("dq", []))
    if lines:
        raise DataQualityFailed("\n".join(lines))
