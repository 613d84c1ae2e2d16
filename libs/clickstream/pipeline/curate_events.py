"""curate_events: new raw Firehose objects to deduplicated, enriched, sessionized events.

Every run, the first included, is incremental:
1. Read the raw objects the bookmark has not seen; quarantine rejected records.
2. Plan: per affected user, the ranges of time the new events can change (the stored sessions
   within one lookback of a new event, and the new events; clickstream.pipeline.ranges). Only
   the dates of new events and their neighbours are read, more only while a touched session
   continues. With nothing stored near the new events, everything is new (the first run).
3. Publish a change set (the dates rewritten and the ranges) for build_sessions and
   daily_active_users, then recompute the events inside the ranges: dedup with the stored
   copies (a re-delivered event is not curated twice), suppress repeats, enrich, sessionize.
   Every row outside the ranges, session_id included, stays as stored.
4. Overwrite the rewritten dates (dynamic partition overwrite). The runner commits the bookmark
   afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pyspark.sql import DataFrame, Observation
from pyspark.sql import functions as F

from clickstream import fs
from clickstream.firehose_reader import read_firehose, split_valid
from clickstream.observe import observed
from clickstream.pipeline import changes
from clickstream.pipeline.context import JobContext, JobOutcome
from clickstream.pipeline.ranges import (
    inside,
    lookback_seconds,
    outside,
    range_dates,
    touched_ranges,
)
from clickstream.raw_objects import RawObject, ingested_at_of, list_raw_objects
from clickstream.reference import title_dates
from clickstream.tables import EVENTS, PARTITION_COLUMN, QUARANTINE, TITLES_HISTORY, Table
from clickstream.transforms import dedup_events, enrich_events, local_date, sessionize
from clickstream.writer import dts_metric, observed_dts, read_table, table_schema, write_table

JOB = "curate_events"
BASE_COLUMNS = [
    "event_id",
    "user_id",
    "event_type",
    "event_time",
    "title_id",
    "ingested_at",
    "source_file",
]
# Events dropped by repeat suppression are kept here, so later runs see what a full run would.
SUPPRESSED = Table("repeat_suppressed", "_state/repeat_suppressed", EVENTS.schema)


def run(ctx: JobContext) -> JobOutcome:
    """Curate the raw objects the bookmark selects into events, quarantine and a change set."""
    spark, settings = ctx.spark, ctx.settings
    objects = {o.path: o for o in list_raw_objects(spark, settings.path("raw/clickstream"))}
    selection = ctx.select(
        JOB, "raw_clickstream", {p: f"{o.size}:{o.modified_ms}" for p, o in objects.items()}
    )
    chosen = [p for p in selection.chosen if p in objects]
    ctx.echo(f"  {len(chosen)} new raw object(s) of {len(objects)}")
    if not chosen:
        return JobOutcome(metrics=_zero_metrics(), commit=selection.commit)

    existing = _Existing(_partition_dts(ctx, EVENTS), _partition_dts(ctx, SUPPRESSED))
    parsed = cached_parse(ctx, [objects[p] for p in chosen], by_event_id=existing.empty)
    is_valid = F.col("reason").isNull()
    # One aggregation over the cache gives the counts by reason and the valid dates. It also
    # materializes the cache, after which dedup can see its partitioning by event_id.
    stats = parsed.groupBy("reason", PARTITION_COLUMN).agg(F.count("*").alias("n")).collect()
    counts: dict[str | None, int] = {}
    for row in stats:
        counts[row["reason"]] = counts.get(row["reason"], 0) + row["n"]
    new_dts = sorted(row[PARTITION_COLUMN] for row in stats if row["reason"] is None)
    read = sum(counts.values())
    valid_count = counts.pop(None, 0)
    _, rejected = split_valid(parsed)

    quarantined, q_written, q_dropped = _write_quarantine(
        ctx, rejected, [objects[p] for p in chosen]
    )
    if quarantined != sum(counts.values()):
        raise AssertionError(f"quarantine wrote {quarantined} rows, validation rejected {counts}")

    metrics = {
        "objects": len(chosen),
        "records_read": read,
        "quarantined": quarantined,
        "quarantined_by_reason": dict(sorted(counts.items())),
    }
    if valid_count == 0:
        parsed.unpersist()
        return JobOutcome(
            metrics={**metrics, **_event_metrics(0, 0, 0)},
            tables=(QUARANTINE,),
            dts={QUARANTINE.name: tuple(q_written)},
            dropped={QUARANTINE.name: tuple(q_dropped)},
            commit=selection.commit,
        )

    new = parsed.where(is_valid).select(*BASE_COLUMNS, PARTITION_COLUMN)
    plan = _plan(ctx, new, new_dts, existing)
    ctx.echo(
        f"  {valid_count} valid record(s) touching {len(new_dts)} date(s); "
        f"read {len(plan.read)}, rewrite {len(plan.dts)}"
    )
    # The change set goes first: a run that dies while writing still leaves its record.
    change = changes.publish(settings.lake, changes.new_change_id(), plan.dts, plan.ranges)
    ranges = None
    if not change.full:
        ranges = spark.read.schema(changes.RANGES_SCHEMA).parquet(
            changes.ranges_path(settings.lake, change.change_id)
        )
    result = _curate(ctx, new, plan, ranges, existing)
    curated_new = result["events_written"] - result["events_before"]
    metrics.update(_event_metrics(valid_count, curated_new, result["events_written"]))
    metrics["dates_read"] = len(plan.read)
    metrics["dates_rewritten"] = len(plan.dts)
    if read != metrics["curated"] + metrics["duplicates_removed"] + quarantined or curated_new < 0:
        raise AssertionError(f"accounting does not balance: {metrics}")

    if plan.ranges is not None:
        plan.ranges.unpersist()
    parsed.unpersist()
    return JobOutcome(
        metrics=metrics,
        tables=(EVENTS, QUARANTINE),
        dts={EVENTS.name: tuple(result["written"]), QUARANTINE.name: tuple(q_written)},
        dropped={EVENTS.name: tuple(result["dropped"]), QUARANTINE.name: tuple(q_dropped)},
        commit=selection.commit,
    )


def cached_parse(ctx: JobContext, objects: list[RawObject], *, by_event_id: bool) -> DataFrame:
    """The objects' records parsed once and cached: raw text kept on rejected records only, dt
    computed on valid ones only.

    by_event_id hash-partitions the cache by event_id, so once it is materialized, deduplicating
    these rows alone (a full run, nothing stored) needs no shuffle of its own; a union with stored
    rows would lose the partitioning.
    """
    is_valid = F.col("reason").isNull()
    parsed = (
        read_firehose(ctx.spark, objects)
        .withColumn("record", F.when(~is_valid, F.col("record")))
        .withColumn(
            PARTITION_COLUMN, F.when(is_valid, local_date("event_time", ctx.settings.timezone))
        )
    )
    if by_event_id:
        parsed = parsed.repartition("event_id")
    return parsed.persist()


@dataclass(frozen=True)
class _Existing:
    """Dates that already have curated (or repeat-suppressed) events partitions."""

    events: set[str]
    suppressed: set[str]

    @property
    def empty(self) -> bool:
        return not (self.events or self.suppressed)


def _zero_metrics() -> dict[str, object]:
    return {
        "objects": 0,
        "records_read": 0,
        "quarantined": 0,
        "quarantined_by_reason": {},
        **_event_metrics(0, 0, 0),
    }


def _event_metrics(valid: int, curated_new: int, written: int) -> dict[str, int]:
    return {
        "valid": valid,
        "curated": curated_new,
        "duplicates_removed": valid - curated_new,
        "event_rows_rewritten": written,
    }


def _write_quarantine(
    ctx: JobContext, rejected: DataFrame, chosen: list[RawObject]
) -> tuple[int, list[str], list[str]]:
    """Replace the quarantine rows of the chosen objects in their arrival-date partitions.

    Returns the rows written for these objects, the partitions written and those left empty.
    """
    settings = ctx.settings
    dts = sorted({ingested_at_of(o.path, o.modified_ms).date().isoformat() for o in chosen})
    stored = sorted(set(dts) & _partition_dts(ctx, QUARANTINE))
    new_obs, all_obs = Observation("quarantine_new"), Observation("quarantine_all")
    arrival = F.date_format("ingested_at", "yyyy-MM-dd")  # UTC, like the raw zone's folders
    rows = rejected.withColumn(PARTITION_COLUMN, arrival).observe(
        new_obs, F.count(F.lit(1)).alias("rows")
    )
    if stored:  # keep the stored rows of other objects (a re-run replaces its own)
        keep = read_table(ctx.spark, settings.lake, QUARANTINE, stored)
        sources = ctx.spark.createDataFrame([(o.path,) for o in chosen], "source_file string")
        keep = keep.join(F.broadcast(sources), "source_file", "left_anti")
        rows = keep.unionByName(rows)
    rows = rows.observe(all_obs, dts_metric())
    write_table(rows, settings.lake, QUARANTINE, target_file_mb=settings.target_file_mb)
    written = observed_dts(all_obs)
    return int(observed(new_obs)["rows"]), written, _drop_empty(ctx, QUARANTINE, dts, written)


def _partition_dts(ctx: JobContext, table: Table) -> set[str]:
    prefix = f"{PARTITION_COLUMN}="
    names = fs.list_names(ctx.spark, ctx.settings.path(table.location))
    return {n[len(prefix) :] for n in names if n.startswith(prefix)}


@dataclass
class _Plan:
    """Partitions to rewrite, existing partitions to read, and the ranges (None: all is new)."""

    dts: list[str]
    read: list[str]
    ranges: DataFrame | None


def _plan(ctx: JobContext, new: DataFrame, new_dts: list[str], existing: _Existing) -> _Plan:
    """The new events' ranges (clickstream.pipeline.ranges) and the dates they need.

    Stored events within one lookback of a new event lie on its date or the next or previous
    one; dates are added only while a touched session or a range's context reaches further.
    With nothing stored on those dates, every session there is new: no ranges are needed.
    """
    spark, settings = ctx.spark, ctx.settings
    stored_dts = existing.events | existing.suppressed
    lookback = lookback_seconds(settings)
    read = {_shift(d, k) for d in new_dts for k in (-1, 0, 1)} & stored_dts
    if not read:
        return _Plan(new_dts, [], None)
    users = new.select("user_id").distinct()
    while True:
        stored = read_table(spark, settings.lake, EVENTS, sorted(read))
        stored = stored.join(users, "user_id", "left_semi")
        ranges = touched_ranges(new, stored, lookback).persist()
        covered, needed = range_dates(ranges, settings.timezone, lookback)
        more = (needed & stored_dts) - read
        if not more:
            return _Plan(sorted(covered), sorted(read), ranges)
        ranges.unpersist()
        read |= more


def _shift(dt: str, days: int) -> str:
    return (date.fromisoformat(dt) + timedelta(days=days)).isoformat()


def _universe(ctx: JobContext, dts: list[str]) -> DataFrame:
    """Existing curated and repeat-suppressed events of the given dates."""
    lake = ctx.settings.lake
    return read_table(ctx.spark, lake, EVENTS, dts).unionByName(
        read_table(ctx.spark, lake, SUPPRESSED, dts)
    )


def _curate(
    ctx: JobContext,
    new: DataFrame,
    plan: _Plan,
    ranges: DataFrame | None,
    existing: _Existing,
) -> dict[str, Any]:
    """Recompute the events inside the ranges (all events when there are none); overwrite dts."""
    spark, settings = ctx.spark, ctx.settings
    window = settings.repeat_window_seconds
    dts = plan.dts
    untouched = None
    before = 0
    if ranges is not None:
        events_before = read_table(spark, settings.lake, EVENTS, dts)
        before = events_before.count()  # Parquet footers only: no data is read
        untouched = outside(events_before, ranges)
        # Stored events (curated and repeat-suppressed) inside the ranges, and within one lookback
        # of them as context for dedup and repeat suppression.
        context = _universe(ctx, plan.read)
        context = inside(context, ranges, margin_s=lookback_seconds(settings))
        new = context.select(*BASE_COLUMNS, PARTITION_COLUMN).unionByName(new)
    deduped = dedup_events(new)
    kept = deduped
    if window:
        deduped = deduped.persist()
        kept = dedup_events(deduped, repeat_window_seconds=window).persist()
    recomputed = kept if ranges is None else inside(kept, ranges)
    kept_obs, out_obs, written_obs = Observation("kept"), Observation("out"), Observation("written")
    titles = read_table(spark, settings.lake, TITLES_HISTORY)  # titles as of each event
    enriched = enrich_events(recomputed.observe(kept_obs, F.count(F.lit(1)).alias("rows")), titles)
    curated = sessionize(enriched, timeout_minutes=settings.session_timeout_minutes)
    curated = curated.observe(out_obs, F.count(F.lit(1)).alias("rows"))
    output = curated.select(*table_schema(EVENTS).names)
    if untouched is not None:
        output = untouched.unionByName(output)
    output = output.observe(
        written_obs, F.count(F.lit(1)).alias("rows"), dts_metric(), title_dates.pairs_metric()
    )
    write_table(
        output,
        settings.lake,
        EVENTS,
        target_file_mb=settings.target_file_mb,
        rebalance=settings.rebalance_events,
    )
    if observed(kept_obs)["rows"] != observed(out_obs)["rows"]:
        raise AssertionError(
            f"enrich/sessionize changed the row count: {observed(kept_obs)} -> {observed(out_obs)}"
        )
    written = observed_dts(written_obs)
    dropped = _drop_empty(ctx, EVENTS, dts, written)
    pairs = title_dates.observed_pairs(observed(written_obs))
    title_dates.record(spark, settings.lake, pairs, dts)
    if window or set(dts) & existing.suppressed:
        suppressed = deduped.join(kept, "event_id", "left_anti")
        stored = None
        if ranges is not None:
            suppressed = inside(suppressed, ranges)
            stored = outside(read_table(spark, settings.lake, SUPPRESSED, dts), ranges)
        _write_suppressed(ctx, suppressed, stored, dts)
    if window:
        kept.unpersist()
        deduped.unpersist()
    return {
        "events_before": before,
        "events_written": int(observed(written_obs)["rows"]),
        "written": written,
        "dropped": dropped,
    }


def _write_suppressed(
    ctx: JobContext, suppressed: DataFrame, stored: DataFrame | None, dts: list[str]
) -> None:
    """Keep repeat-suppressed events of dts as state, so later runs can recompute exactly."""
    settings = ctx.settings
    rows = (
        suppressed.withColumn("title", F.lit(None).cast("string"))
        .withColumn("genre", F.lit(None).cast("string"))
        .withColumn("session_id", F.lit(""))
        .select(*table_schema(SUPPRESSED).names)
    )
    if stored is not None:
        rows = stored.unionByName(rows)
    obs = Observation("suppressed")
    rows = rows.observe(obs, dts_metric())
    write_table(rows, settings.lake, SUPPRESSED, target_file_mb=settings.target_file_mb)
    _drop_empty(ctx, SUPPRESSED, dts, observed_dts(obs))


def _drop_empty(ctx: JobContext, table: Table, dts: list[str], written: list[str]) -> list[str]:
    """Delete partitions of dts the rewrite left without rows (dynamic overwrite keeps them)."""
    emptied = sorted(set(dts) - set(written))
    for dt in emptied:
        fs.delete(ctx.spark, f"{ctx.settings.path(table.location)}/{PARTITION_COLUMN}={dt}")
    return emptied
