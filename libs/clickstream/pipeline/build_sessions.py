"""build_sessions: the sessions table from curated events, recomputed where events changed."""

from __future__ import annotations

from pyspark.sql import DataFrame, Observation
from pyspark.sql import functions as F

from clickstream.compaction import compact_crowded
from clickstream.observe import observed
from clickstream.pipeline.context import JobContext, JobOutcome
from clickstream.pipeline.curate.partitions import drop_empty, partition_dts
from clickstream.pipeline.derived import Scope, scope_for
from clickstream.pipeline.ranges import inside, outside
from clickstream.row_writes import write_changed_rows
from clickstream.tables import PARTITION_COLUMN, SESSIONS
from clickstream.transforms import summarize_sessions
from clickstream.writer import (
    dts_metric,
    format_of,
    observed_dts,
    read_table,
    stored_dts,
    table_schema,
    with_file_path,
    write_table,
)

JOB = "build_sessions"
# A user's sessions sit together in a date's files: a change rewrites few of them.
# The file a stored session lives in (Parquet).
FILE = "_file"


def run(ctx: JobContext) -> JobOutcome:
    """Summarize the sessions inside the change sets' ranges and full dates; other sessions stay.

    With ranges, only the sessions that changed are written (new ones added, the files holding a
    changed or vanished one rewritten: clickstream.row_writes); without (a rebuild), every date.
    """
    spark, settings = ctx.spark, ctx.settings
    scope = scope_for(ctx, JOB)
    if scope.events is None:
        return JobOutcome(metrics={"sessions_written": 0, "session_dates": 0}, commit=scope.commit)
    if scope.ranges is not None:
        return _write_changed(ctx, scope)
    sessions = summarize_sessions(scope.events, timezone=settings.timezone)
    obs = Observation("sessions")
    sessions = sessions.observe(obs, F.count(F.lit(1)).alias("rows"), dts_metric())
    ctx.guard()
    write_table(
        sessions,
        settings.lake,
        SESSIONS,
        table_format=settings.table_format,
        dts=_replaced_dts(ctx, scope.dts, sessions),
    )
    written = observed_dts(obs)
    # Rewritten dates left without sessions (every stored date on a full rebuild) are removed
    # (Parquet; a Delta commit already removed their rows).
    stored = partition_dts(spark, settings, SESSIONS)
    rewritten = stored if scope.dts is None else stored & set(scope.dts)
    stale = drop_empty(spark, settings, SESSIONS, sorted(rewritten), written)
    return JobOutcome(
        metrics={"sessions_written": int(observed(obs)["rows"]), "session_dates": len(written)},
        tables=(SESSIONS,),
        dts={SESSIONS.name: tuple(sorted(written))},
        dropped={SESSIONS.name: tuple(stale)},
        commit=scope.commit,
    )


def _write_changed(ctx: JobContext, scope: Scope) -> JobOutcome:
    """Only the sessions that changed: the summaries of the events inside the ranges (and on
    full dates) against the stored sessions there, by session_id."""
    spark, settings = ctx.spark, ctx.settings
    stored = with_file_path(read_table(spark, settings.lake, SESSIONS, scope.dts), FILE)
    before = _inside_sessions(stored, scope, "session_start").persist()
    changed = summarize_sessions(_inside(scope.events, scope), timezone=settings.timezone)
    changed = changed.persist()
    try:
        columns = table_schema(SESSIONS).names
        values = [c for c in columns if c not in ("session_id", PARTITION_COLUMN)]
        same = F.lit(True)
        for c in values:
            same = same & F.col(f"n.{c}").eqNullSafe(F.col(f"o.{c}"))
        # A session is the same row when its id and date are: one whose first event moved to
        # another date (an earlier copy of that event) is deleted there and new on its date.
        same_row = ["session_id", PARTITION_COLUMN]
        pairs = changed.alias("n").join(before.alias("o"), same_row)
        updated = pairs.where(~same).select(
            "session_id",
            *(F.col(f"n.{c}").alias(c) for c in values),
            PARTITION_COLUMN,
            F.col(f"o.{FILE}").alias(FILE),
        )
        new = changed.join(before.select(*same_row), same_row, "left_anti")
        deleted = before.join(changed.select(*same_row), same_row, "left_anti")
        touched = updated.select(PARTITION_COLUMN, FILE).unionByName(
            deleted.select(PARTITION_COLUMN, FILE)
        )
        found = touched.distinct().collect()
        ctx.guard()
        written, _ = write_changed_rows(
            SESSIONS,
            settings.path(SESSIONS.location),
            settings.lake,
            new=new,
            updated=updated,
            deleted=deleted,
            key="session_id",
            set_columns=values,
            files=sorted({r[FILE] for r in found if r[FILE] is not None}),
            touched_dts=sorted({r[PARTITION_COLUMN] for r in found}),
            table_format=format_of(SESSIONS, settings.table_format),
        )
    finally:
        changed.unpersist()
        before.unpersist()
    compacted = compact_crowded(
        spark,
        settings.lake,
        SESSIONS,
        settings.path(SESSIONS.location),
        written.written,
        limit=settings.compact_after_files,
        table_format=format_of(SESSIONS, settings.table_format),
    )
    if compacted:
        ctx.echo(f"  compacted {len(compacted)} date(s) past {settings.compact_after_files} files")
    return JobOutcome(
        metrics={"sessions_written": written.rows, "session_dates": len(written.written)},
        tables=(SESSIONS,),
        dts={SESSIONS.name: tuple(written.written)},
        dropped={SESSIONS.name: tuple(written.emptied)},
        commit=scope.commit,
    )


def _inside_sessions(sessions: DataFrame, scope: Scope, time: str) -> DataFrame:
    """Stored sessions that start on a full date or inside a range of their user (those
    _outside leaves out): the ones recomputed."""
    assert scope.ranges is not None
    on_full = F.col(PARTITION_COLUMN).isin(scope.full_dts)
    return sessions.where(on_full).unionByName(
        inside(sessions.where(~on_full), scope.ranges, time=time)
    )


def _inside(events: DataFrame, scope: Scope) -> DataFrame:
    """Events on a full date or inside a range of their user: whole sessions, every one changed."""
    assert scope.ranges is not None
    on_full = F.col(PARTITION_COLUMN).isin(scope.full_dts)
    return events.where(on_full).unionByName(inside(events.where(~on_full), scope.ranges))


def _outside(sessions: DataFrame, scope: Scope, time: str) -> DataFrame:
    """Stored sessions that start neither on a full date nor inside a range of their user."""
    assert scope.ranges is not None
    rest = sessions.where(~F.col(PARTITION_COLUMN).isin(scope.full_dts))
    return outside(rest, scope.ranges, time=time)


def _replaced_dts(ctx: JobContext, dts: list[str] | None, rows: DataFrame) -> list[str] | None:
    """The dates a Delta or Iceberg write replaces: dts, or on a full rebuild every date stored
    or new."""
    if format_of(SESSIONS, ctx.settings.table_format) == "parquet" or dts is not None:
        return dts
    new = {r[0] for r in rows.select(PARTITION_COLUMN).distinct().collect()}
    return sorted(new | stored_dts(ctx.spark, ctx.settings.lake, SESSIONS))
