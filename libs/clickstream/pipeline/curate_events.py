"""curate_events: new raw Firehose objects to deduplicated, enriched, sessionized events.

Every run, the first included, is incremental:
1. Read the raw objects the bookmark has not seen; quarantine rejected records.
2. The dates of the new valid events, widened until no affected user has an event within one
   session timeout of the edge of that set of dates, are the partitions P to rewrite. Within P
   no session of an affected user crosses the edge, so recomputing them there is exact.
3. In P: dedup the affected users' existing events together with the new ones (a re-delivered
   copy is not curated twice), suppress repeats, enrich, sessionize; other users' rows stay.
4. Overwrite P (dynamic partition overwrite) and publish a change set (P and the users) for
   build_sessions and daily_active_users. The runner commits the bookmark afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F

from clickstream import fs
from clickstream.config import Settings
from clickstream.firehose_reader import read_firehose, split_valid
from clickstream.observe import observed
from clickstream.pipeline import changes
from clickstream.pipeline.context import JobContext, JobOutcome
from clickstream.raw_objects import RawObject, ingested_at_of, list_raw_objects
from clickstream.tables import EVENTS, PARTITION_COLUMN, QUARANTINE, TITLES, Table
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

    # One parse, cached once: the raw text is kept only where quarantine needs it, and dt is
    # computed once. A single aggregation gives the counts by reason and the valid dates.
    tz = settings.timezone
    is_valid = F.col("reason").isNull()
    parsed = (
        read_firehose(spark, [objects[p] for p in chosen])
        .withColumn("record", F.when(~is_valid, F.col("record")))
        .withColumn(PARTITION_COLUMN, F.when(is_valid, local_date("event_time", tz)))
        .persist()
    )
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
    users = new.select("user_id").distinct().persist()
    existing = _Existing(_partition_dts(ctx, EVENTS), _partition_dts(ctx, SUPPRESSED))
    dts = _widen(ctx, new_dts, users, existing)
    ctx.echo(
        f"  {valid_count} valid record(s) touching {len(new_dts)} date(s); rewriting {len(dts)}"
    )

    result = _curate(ctx, new, users, dts, existing)
    curated_new = result["events_written"] - result["events_before"]
    metrics.update(_event_metrics(valid_count, curated_new, result["events_written"]))
    if read != metrics["curated"] + metrics["duplicates_removed"] + quarantined or curated_new < 0:
        raise AssertionError(f"accounting does not balance: {metrics}")

    changes.publish(settings.lake, changes.new_change_id(), dts, users)
    users.unpersist()
    parsed.unpersist()
    return JobOutcome(
        metrics=metrics,
        tables=(EVENTS, QUARANTINE),
        dts={EVENTS.name: tuple(result["written"]), QUARANTINE.name: tuple(q_written)},
        dropped={EVENTS.name: tuple(result["dropped"]), QUARANTINE.name: tuple(q_dropped)},
        commit=selection.commit,
    )


@dataclass(frozen=True)
class _Existing:
    """Dates that already have curated (or repeat-suppressed) events partitions."""

    events: set[str]
    suppressed: set[str]

    def any_of(self, dts: list[str]) -> bool:
        return bool(set(dts) & (self.events | self.suppressed))


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
    existing = _partition_dts(ctx, QUARANTINE)
    keep = read_table(ctx.spark, settings.lake, QUARANTINE, [d for d in dts if d in existing])
    sources = ctx.spark.createDataFrame([(o.path,) for o in chosen], "source_file string")
    keep = keep.join(F.broadcast(sources), "source_file", "left_anti")
    new_obs, all_obs = Observation("quarantine_new"), Observation("quarantine_all")
    arrival = F.date_format("ingested_at", "yyyy-MM-dd")  # UTC, like the raw zone's folders
    new = rejected.withColumn(PARTITION_COLUMN, arrival).observe(
        new_obs, F.count(F.lit(1)).alias("rows")
    )
    rows = keep.unionByName(new).observe(all_obs, dts_metric())
    write_table(rows, settings.lake, QUARANTINE, target_file_mb=settings.target_file_mb)
    written = observed_dts(all_obs)
    return int(observed(new_obs)["rows"]), written, _drop_empty(ctx, QUARANTINE, dts, written)


def _partition_dts(ctx: JobContext, table: Table) -> set[str]:
    prefix = f"{PARTITION_COLUMN}="
    names = fs.list_names(ctx.spark, ctx.settings.path(table.location))
    return {n[len(prefix) :] for n in names if n.startswith(prefix)}


def _widen(
    ctx: JobContext, new_dts: list[str], users: DataFrame, existing_dts: _Existing
) -> list[str]:
    """Add neighbouring dates until no affected user has an event within the lookback of an edge."""
    settings = ctx.settings
    existing = existing_dts.events | existing_dts.suppressed
    lookback_s = max(settings.session_timeout_minutes * 60, settings.repeat_window_seconds)
    dts = set(new_dts)
    while True:
        candidates = {_shift(d, -1) for d in dts} | {_shift(d, 1) for d in dts}
        open_edges = (candidates - dts) & existing
        if not open_edges:
            return sorted(dts)
        events = _universe(ctx, sorted(dts)).join(users, "user_id", "left_semi")
        near = _near_edges(events, settings, lookback_s)
        added = {n for n in near if n in open_edges}
        if not added:
            return sorted(dts)
        dts |= added


def _near_edges(events: DataFrame, settings: Settings, lookback_s: int) -> set[str]:
    """Neighbouring dates of events that lie within lookback_s of their own date's edges."""
    tz = settings.timezone
    day_start = F.to_utc_timestamp(F.to_timestamp(PARTITION_COLUMN), tz)
    next_start = F.to_utc_timestamp(F.to_timestamp(F.date_add(F.to_date(PARTITION_COLUMN), 1)), tz)
    micros: Column = F.unix_micros("event_time")
    window = F.lit(lookback_s * 1_000_000)
    flags = events.select(
        PARTITION_COLUMN,
        (micros - F.unix_micros(day_start) <= window).alias("near_start"),
        (F.unix_micros(next_start) - micros <= window).alias("near_end"),
    ).where("near_start or near_end")
    rows = (
        flags.groupBy(PARTITION_COLUMN)
        .agg(F.max("near_start").alias("s"), F.max("near_end").alias("e"))
        .collect()
    )
    out = set()
    for row in rows:
        if row["s"]:
            out.add(_shift(row[PARTITION_COLUMN], -1))
        if row["e"]:
            out.add(_shift(row[PARTITION_COLUMN], 1))
    return out


def _shift(dt: str, days: int) -> str:
    return (date.fromisoformat(dt) + timedelta(days=days)).isoformat()


def _universe(ctx: JobContext, dts: list[str]) -> DataFrame:
    """Existing curated and repeat-suppressed events of the given dates."""
    lake = ctx.settings.lake
    return read_table(ctx.spark, lake, EVENTS, dts).unionByName(
        read_table(ctx.spark, lake, SUPPRESSED, dts)
    )


def _curate(
    ctx: JobContext, new: DataFrame, users: DataFrame, dts: list[str], existing: _Existing
) -> dict[str, Any]:
    """Recompute the affected users' events in dts and overwrite those partitions."""
    spark, settings = ctx.spark, ctx.settings
    window = settings.repeat_window_seconds
    untouched = None
    before = 0
    if existing.any_of(dts):
        events_before = read_table(spark, settings.lake, EVENTS, dts)
        before = events_before.count()  # Parquet footers only: no data is read
        suppressed_before = read_table(spark, settings.lake, SUPPRESSED, dts)
        untouched = events_before.join(users, "user_id", "left_anti")
        affected = (
            events_before.unionByName(suppressed_before)
            .join(users, "user_id", "left_semi")
            .select(*BASE_COLUMNS, PARTITION_COLUMN)
        )
        new = affected.unionByName(new)
    deduped = dedup_events(new)
    kept = deduped
    if window:
        deduped = deduped.persist()
        kept = dedup_events(deduped, repeat_window_seconds=window).persist()
    kept_obs, out_obs, written_obs = Observation("kept"), Observation("out"), Observation("written")
    titles = read_table(spark, settings.lake, TITLES)
    enriched = enrich_events(kept.observe(kept_obs, F.count(F.lit(1)).alias("rows")), titles)
    curated = sessionize(enriched, timeout_minutes=settings.session_timeout_minutes)
    curated = curated.observe(out_obs, F.count(F.lit(1)).alias("rows"))
    output = curated.select(*table_schema(EVENTS).names)
    if untouched is not None:
        output = untouched.unionByName(output)
    output = output.observe(written_obs, F.count(F.lit(1)).alias("rows"), dts_metric())
    write_table(output, settings.lake, EVENTS, target_file_mb=settings.target_file_mb)
    if observed(kept_obs)["rows"] != observed(out_obs)["rows"]:
        raise AssertionError(
            f"enrich/sessionize changed the row count: {observed(kept_obs)} -> {observed(out_obs)}"
        )
    written = observed_dts(written_obs)
    dropped = _drop_empty(ctx, EVENTS, dts, written)
    if window or set(dts) & existing.suppressed:
        _write_suppressed(ctx, deduped.join(kept, "event_id", "left_anti"), dts)
    if window:
        kept.unpersist()
        deduped.unpersist()
    return {
        "events_before": before,
        "events_written": int(observed(written_obs)["rows"]),
        "written": written,
        "dropped": dropped,
    }


def _write_suppressed(ctx: JobContext, suppressed: DataFrame, dts: list[str]) -> None:
    """Keep repeat-suppressed events of dts as state, so later runs can recompute exactly."""
    settings = ctx.settings
    rows = (
        suppressed.withColumn("title", F.lit(None).cast("string"))
        .withColumn("genre", F.lit(None).cast("string"))
        .withColumn("session_id", F.lit(""))
    )
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
