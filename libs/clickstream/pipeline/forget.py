"""`clickstream forget`: erase users from the lake, as if their events had never arrived.

Under the lease of every job that writes a table (taken before Spark starts, like maintain):
1. the users go on the suppression list first (forgotten_users; keyed hashes only), so from then
   on no parse curates them, whatever happens to this run (a rerun finishes the erasure);
2. their rows leave events, repeat_suppressed and the event_id index, sessions (per user: no
   other user's session changes), quarantine (records whose user_id, parsed or found in the text,
   is theirs) and the ranges of change sets not pruned yet;
3. user_activity, users and daily_active_users are recomputed for the dates they had events on
   (and the 7/28-day windows and first days those reach) by daily_active_users' own
   recompute_dates, from the events now stored;
4. raw objects holding their records are listed, or rewritten without them (--purge-raw:
   raw_purge);
5. an erasure record (hashed ids, time, rows removed per table, raw objects) goes under
   _state/forgotten/erasures.
Parquet: the replaced files are deleted by the write itself. Delta: each delete is a commit; the
files of older versions still hold the rows until `clickstream maintain` vacuums them, once
delta_retention_days have passed (the output says when).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from clickstream import file_ops, fs
from clickstream.bookmarks import record_rewrites
from clickstream.catalog import register_tables
from clickstream.config import ConfigError, Settings
from clickstream.firehose_reader import ReaderLimits
from clickstream.forgotten_users import (
    FORGOTTEN,
    add_forgotten,
    forgotten_users,
    record_erasure,
    suppression_key,
)
from clickstream.lake_rules import check_rules
from clickstream.leases import acquire_all
from clickstream.local_modes import protect_local_lake
from clickstream.pipeline import WRITES, writers_of
from clickstream.pipeline import daily_active_users as dau
from clickstream.pipeline.changes import CHANGES, RANGES_SCHEMA
from clickstream.pipeline.context import JobContext
from clickstream.pipeline.curate import event_index
from clickstream.pipeline.curate.partitions import drop_empty
from clickstream.pipeline.curate.quarantine import INTENT
from clickstream.pipeline.curate.repeat_suppression import suppressed_table
from clickstream.privacy_key import field_controls
from clickstream.raw_purge import (
    Rewrite,
    fingerprints,
    names_user,
    objects_holding,
    rewrite_without,
)
from clickstream.row_writes import write_changed_rows
from clickstream.skipped_objects import RAW
from clickstream.state_store import store_for, write_pointer
from clickstream.tables import (
    DAILY_ACTIVE_USERS,
    PARTITION_COLUMN,
    QUARANTINE,
    SESSIONS,
    USER_ACTIVITY,
    USERS,
    Table,
    events_table,
)
from clickstream.writer import (
    dts_metric,
    format_of,
    observed_dts,
    read_table,
    table_schema,
    with_file_path,
    write_table,
)

# The file a stored row lives in (Parquet).
FILE = "_file"
CURATE = "curate_events"


def user_ids_of(ids: Sequence[str], files: Sequence[str]) -> list[str]:
    """The user ids of --user-id and of --user-ids-file (one a line; blank lines and lines
    starting with # skipped), distinct, sorted; ConfigError naming the flag when there are none
    or a file cannot be read."""
    found = [i.strip() for i in ids]
    if any(not i for i in found):
        raise ConfigError("forget --user-id: an empty user id; give the id as the tracker sends it")
    for name in files:
        try:
            text = Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"forget --user-ids-file {name}: cannot read it ({type(exc).__name__}); give a "
                "UTF-8 file with one user id a line"
            ) from None
        found += [line.strip() for line in text.splitlines()]
    wanted = sorted({i for i in found if i and not i.startswith("#")})
    if not wanted:
        raise ConfigError(
            "forget: no user id given; pass --user-id ID (repeatable) or --user-ids-file FILE"
        )
    return wanted


@dataclass
class Erased:
    """What the erasure removed and rewrote."""

    rows: dict[str, int] = field(default_factory=dict)
    dts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    dropped: dict[str, tuple[str, ...]] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    # daily_active_users dates recomputed (written or removed).
    metric_dates: int = 0

    def wrote(self, table: Table, written: Iterable[str], emptied: Iterable[str]) -> None:
        """Record the dates a write of table wrote and emptied (for the catalog)."""
        if table not in self.tables:
            self.tables.append(table)
        self.dts[table.name] = tuple(sorted({*self.dts.get(table.name, ()), *written}))
        self.dropped[table.name] = tuple(sorted({*self.dropped.get(table.name, ()), *emptied}))


def forget(
    settings: Settings,
    user_ids: Sequence[str],
    *,
    purge_raw: bool = False,
    spark: SparkSession | None = None,
    echo: Callable[[str], None] = print,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Erase the users (raw ids) from the lake (module docstring); the erasure record."""
    at = now or datetime.now(UTC)
    protect_local_lake(settings.lake)
    check_rules(settings)  # a key other than the lake's would compute other pseudonyms
    forgotten_users(settings)  # the keys of earlier entries are at hand (else ConfigError)
    key = suppression_key(settings)
    hashes = sorted({key.hash(u) for u in user_ids})
    controls = field_controls(settings)
    if controls is not None and controls.pseudonymize_user_id:  # the tables hold pseudonyms
        stored_ids = sorted({controls.pseudonym(u) for u in user_ids})
    else:
        stored_ids = sorted(user_ids)
    writers = writers_of({t for tables in WRITES.values() for t in tables})
    leases = acquire_all(
        settings.lake, writers, stale_minutes=settings.lease_stale_minutes, warn=echo
    )
    try:
        leases.keep_renewed(settings.lease_stale_minutes * 60 / 4)
        from clickstream.spark import get_spark

        spark = spark or get_spark(settings, "clickstream-forget")
        ctx = JobContext(spark, settings, echo)
        ctx.leases = leases
        paths = [settings.path(t.location) for t in _written_tables(settings)]
        for op in file_ops.complete_pending(spark, settings.lake, paths):
            echo(f"completed the file operation {op} a dead run left unfinished")
        added = add_forgotten(settings, key, hashes)
        echo(
            f"forget: {len(hashes)} user(s) on the suppression list ({added} new), keyed hashes "
            f"under {key.source}: later runs and rebuilds drop their records (forgotten_user)"
        )
        erased = _erase(ctx, stored_ids, sorted({*user_ids, *stored_ids}))
        register_tables(
            spark, settings, erased.tables, erased.dts, erased.dropped, sync=ctx.catalog_sync
        )
        raw = _raw(ctx, sorted(user_ids), purge_raw)
        leases.verify()
        record = _record(settings, at, hashes, key.fingerprint, erased, raw)
        record_erasure(settings, record)
    finally:
        leases.release()
    _report(settings, record, echo)
    return record


def _written_tables(settings: Settings) -> list[Table]:
    """The tables forget may write."""
    return [
        events_table(settings.promoted_fields),
        SESSIONS,
        QUARANTINE,
        USER_ACTIVITY,
        USERS,
        DAILY_ACTIVE_USERS,
    ]


def _erase(ctx: JobContext, stored_ids: list[str], text_ids: list[str]) -> Erased:
    """Remove the users' rows from every table and state; recompute their dates' metrics."""
    spark, settings = ctx.spark, ctx.settings
    users = F.broadcast(spark.createDataFrame([(u,) for u in stored_ids], "user_id string"))
    erased = Erased()
    table = events_table(settings.promoted_fields)
    events = _stored_rows(ctx, table, users, "event_id")
    suppressed = _stored_rows(ctx, suppressed_table(settings.promoted_fields), users, "event_id")
    # The index first: a rerun after a crash finds the rows left in the tables, never an index
    # entry whose event is gone from them.
    ids = events.select("event_id").unionByName(suppressed.select("event_id"))
    erased.rows["event_index"] = (
        event_index.remove(spark, settings, ids) if event_index.is_built(settings) else 0
    )
    event_dts = _delete_rows(ctx, table, events, "event_id", erased)
    _repeat_suppressed(ctx, suppressed, users, erased)
    events.unpersist()
    suppressed.unpersist()
    _sessions(ctx, users, erased)
    _quarantine(ctx, text_ids, erased)
    erased.rows["change_set_ranges"] = _change_set_ranges(ctx, users)
    _user_metrics(ctx, users, event_dts, erased)
    return erased


def _stored_rows(ctx: JobContext, table: Table, users: DataFrame, key: str) -> DataFrame:
    """The key, date and file (Parquet) of the users' rows of a table, cached now (memory and
    disk, recomputed from the files if lost: every use comes before the write replacing them)."""
    rows = with_file_path(read_table(ctx.spark, ctx.settings.lake, table), FILE)
    found = rows.join(users, "user_id", "left_semi").select(key, PARTITION_COLUMN, FILE)
    found = found.persist(StorageLevel.MEMORY_AND_DISK)
    found.count()
    return found


def _delete_rows(
    ctx: JobContext, table: Table, found: DataFrame, key: str, erased: Erased
) -> list[str]:
    """Delete the rows in found (key, dt, file) from a table written by changed rows (events,
    sessions) with row_writes; the dates they were on."""
    spark, settings = ctx.spark, ctx.settings
    places = found.select(PARTITION_COLUMN, FILE).distinct().collect()
    dts = sorted({r[PARTITION_COLUMN] for r in places})
    erased.rows[table.name] = found.count()
    if not dts:
        return []
    empty = spark.createDataFrame([], table_schema(table))
    ctx.guard()
    written, _ = write_changed_rows(
        table,
        settings.path(table.location),
        settings.lake,
        new=empty,
        updated=empty,
        deleted=found.select(key).distinct(),
        key=key,
        set_columns=(),
        files=sorted({r[FILE] for r in places if r[FILE] is not None}),
        touched_dts=dts,
        table_format=format_of(table, settings.table_format),
    )
    erased.wrote(table, written.written, written.emptied)
    return dts


def _sessions(ctx: JobContext, users: DataFrame, erased: Erased) -> None:
    """Delete the users' sessions (a session is one user's: no other session changes)."""
    found = _stored_rows(ctx, SESSIONS, users, "session_id")
    _delete_rows(ctx, SESSIONS, found, "session_id", erased)
    found.unpersist()


def _rewrite_dates(
    ctx: JobContext, table: Table, dts: list[str], kept: DataFrame, erased: Erased
) -> None:
    """Replace the table's dates dts with kept (their rows minus the erased ones); dates left
    without rows are removed (Parquet folders deleted; Delta: in the same commit)."""
    spark, settings = ctx.spark, ctx.settings
    obs = Observation(f"forget_{table.name}")
    ctx.guard()
    write_table(
        kept.observe(obs, dts_metric()),
        settings.lake,
        table,
        table_format=settings.table_format,
        dts=dts,
    )
    written = observed_dts(obs)
    erased.wrote(table, written, drop_empty(spark, settings, table, dts, written))


def _repeat_suppressed(ctx: JobContext, found: DataFrame, users: DataFrame, erased: Erased) -> None:
    """Delete the users' repeat-suppressed events (state; found: their rows' key and date)."""
    spark, settings = ctx.spark, ctx.settings
    table = suppressed_table(settings.promoted_fields)
    dts = sorted({r[0] for r in found.select(PARTITION_COLUMN).distinct().collect()})
    erased.rows[table.name] = found.count()
    if dts:
        kept = read_table(spark, settings.lake, table, dts).join(users, "user_id", "left_anti")
        obs = Observation("forget_suppressed")
        ctx.guard()
        write_table(kept.observe(obs, dts_metric()), settings.lake, table)
        drop_empty(spark, settings, table, dts, observed_dts(obs))


def _quarantine(ctx: JobContext, ids: list[str], erased: Erased) -> None:
    """Delete the quarantine records naming the users (raw ids and stored pseudonyms), under
    the quarantine write's intent record (a crash is repaired by the next curate run)."""
    spark, settings = ctx.spark, ctx.settings
    naming = names_user(F.col("record"), ids)
    stored = read_table(spark, settings.lake, QUARANTINE)
    counts = stored.where(naming).groupBy(PARTITION_COLUMN).count().collect()
    dts = sorted(r[PARTITION_COLUMN] for r in counts)
    erased.rows[QUARANTINE.name] = sum(int(r["count"]) for r in counts)
    if not dts:
        return
    store = store_for(settings.lake)
    ctx.guard()
    write_pointer(store, INTENT, json.dumps({"dts": dts}))
    kept = read_table(spark, settings.lake, QUARANTINE, dts).where(~naming)
    _rewrite_dates(ctx, QUARANTINE, dts, kept, erased)
    store.delete(INTENT)


def _change_set_ranges(ctx: JobContext, users: DataFrame) -> int:
    """Remove the users' ranges from the change sets still stored (consumed or not): rows
    removed. A set's ranges are small: read whole, written back without them."""
    spark, settings = ctx.spark, ctx.settings
    keys = store_for(settings.lake).list(CHANGES)
    folders = sorted(
        {k.rsplit("/", 1)[0] for k in keys if k.split("/")[-2] in ("ranges", "absorbed_ranges")}
    )
    removed = 0
    for folder in folders:
        path = settings.path(folder)
        ranges = spark.read.schema(RANGES_SCHEMA).parquet(path)
        theirs = ranges.join(users, "user_id", "left_semi").count()
        if not theirs:
            continue
        rest = ranges.join(users, "user_id", "left_anti").collect()
        ctx.guard()
        spark.createDataFrame(rest, RANGES_SCHEMA).coalesce(1).write.mode("overwrite").parquet(path)
        removed += theirs
    return removed


def _user_metrics(ctx: JobContext, users: DataFrame, dts: list[str], erased: Erased) -> None:
    """user_activity, users and daily_active_users recomputed for the users' dates (when the
    daily_active_users job has built them; else its next run builds them from events)."""
    spark, settings = ctx.spark, ctx.settings
    if fs.read_text(spark, settings.path(dau.BUILT_MARKER)) is None:
        return
    for table in (USER_ACTIVITY, USERS):
        erased.rows[table.name] = (
            read_table(spark, settings.lake, table).join(users, "user_id", "left_semi").count()
        )
    activity = read_table(spark, settings.lake, USER_ACTIVITY).join(users, "user_id", "left_semi")
    dates = sorted({*dts, *(r[0] for r in activity.select(PARTITION_COLUMN).distinct().collect())})
    if not dates:
        return
    written = dau.recompute_dates(ctx, dates)
    for table in (USER_ACTIVITY, DAILY_ACTIVE_USERS, USERS):
        erased.wrote(table, written.dts[table.name], written.dropped[table.name])
    erased.metric_dates = len(written.dts[DAILY_ACTIVE_USERS.name]) + len(
        written.dropped[DAILY_ACTIVE_USERS.name]
    )


@dataclass
class RawReport:
    """The raw objects that held the users' records, and what was done to them."""

    holding: dict[str, int]
    rewrites: list[Rewrite]


def _raw(ctx: JobContext, raw_ids: list[str], purge: bool) -> RawReport:
    """The raw objects holding the users' records; rewritten without them with purge."""
    spark, settings = ctx.spark, ctx.settings
    limits = ReaderLimits.of(settings.values)
    root = settings.path(RAW)
    holding = objects_holding(spark, root, settings.lake, raw_ids, limits)
    if not purge or not holding:
        return RawReport(holding, [])
    rewrites = []
    for path in sorted(holding):
        ctx.guard()
        rewrites.append(rewrite_without(path, set(raw_ids), limits))
    done = [r.path for r in rewrites if r.removed]
    if done:
        record_rewrites(settings.lake, CURATE, fingerprints(spark, root, done))
    return RawReport(holding, rewrites)


def _relative(settings: Settings, path: str) -> str:
    """A raw object's path below the raw zone."""
    return path.split(f"/{RAW}/", 1)[-1]


def _record(
    settings: Settings,
    at: datetime,
    hashes: list[str],
    fingerprint: str,
    erased: Erased,
    raw: RawReport,
) -> dict[str, Any]:
    """The erasure record: hashed ids only, when, rows removed per table, raw objects."""
    record: dict[str, Any] = {
        "erasure_id": f"{at:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}",
        "at": at.isoformat(timespec="seconds"),
        "users": hashes,
        "key_fingerprint": fingerprint,
        "rows_removed": dict(sorted(erased.rows.items())),
        "daily_active_users_dates_recomputed": erased.metric_dates,
        "table_format": settings.table_format,
    }
    if raw.rewrites:
        record["raw_objects_rewritten"] = [
            {
                "object": _relative(settings, r.path),
                "records_removed": r.removed,
                "bytes_before": r.bytes_before,
                "bytes_after": r.bytes_after,
                **({"problem": r.problem} if r.problem else {}),
            }
            for r in raw.rewrites
        ]
    else:
        record["raw_objects_holding"] = {
            _relative(settings, p): n for p, n in sorted(raw.holding.items())
        }
    if settings.table_format == "delta":
        until = at + timedelta(days=settings.delta_retention_days)
        record["delta_old_files_until"] = until.isoformat(timespec="seconds")
    return record


def _report(settings: Settings, record: dict[str, Any], echo: Callable[[str], None]) -> None:
    """What forget did, a few lines."""
    for name, n in record["rows_removed"].items():
        echo(f"  {name:<24}{n:>10,} row(s) removed")
    echo(
        f"  {'daily_active_users':<24}{record['daily_active_users_dates_recomputed']:>10,} "
        "date(s) recomputed (with user_activity and users)"
    )
    if "raw_objects_rewritten" in record:
        for r in record["raw_objects_rewritten"]:
            what = r.get("problem") or (
                f"{r['records_removed']} record(s) removed, {r['bytes_before']:,} -> "
                f"{r['bytes_after']:,} bytes"
            )
            echo(f"  raw {r['object']}: {what}")
    elif record["raw_objects_holding"]:
        echo(
            f"  {len(record['raw_objects_holding'])} raw object(s) still hold their records "
            "(never curated again; --purge-raw rewrites them without):"
        )
        for name, n in record["raw_objects_holding"].items():
            echo(f"    {name}: {n} record(s)")
    else:
        echo("  no raw object holds their records")
    if "delta_old_files_until" in record:
        echo(
            "  Delta: the deletes are commits; files of older table versions still hold the rows "
            f"until the first `clickstream maintain` after {record['delta_old_files_until']} "
            f"(delta_retention_days={settings.delta_retention_days}) vacuums them"
        )
    echo(
        f"  erasure record: {settings.path(FORGOTTEN, 'erasures', record['erasure_id'] + '.json')}"
    )
