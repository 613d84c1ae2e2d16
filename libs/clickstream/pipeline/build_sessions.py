"""build_sessions: the sessions table from curated events, recomputed where events changed."""

from __future__ import annotations

from pyspark.sql import DataFrame, Observation
from pyspark.sql import functions as F

from clickstream.observe import observed
from clickstream.pipeline.context import JobContext, JobOutcome
from clickstream.pipeline.curate.partitions import drop_empty, partition_dts
from clickstream.pipeline.derived import Scope, scope_for
from clickstream.pipeline.ranges import inside, outside
from clickstream.tables import PARTITION_COLUMN, SESSIONS
from clickstream.transforms import summarize_sessions
from clickstream.writer import (
    dts_metric,
    format_of,
    observed_dts,
    read_table,
    stored_dts,
    write_table,
)

JOB = "build_sessions"


def run(ctx: JobContext) -> JobOutcome:
    """Summarize the sessions inside the change sets' ranges and full dates; other sessions stay."""
    spark, settings = ctx.spark, ctx.settings
    scope = scope_for(ctx, JOB)
    if scope.events is None:
        return JobOutcome(metrics={"sessions_written": 0, "session_dates": 0}, commit=scope.commit)
    if scope.ranges is None:  # everything
        sessions = summarize_sessions(scope.events, timezone=settings.timezone)
    else:
        stored = read_table(spark, settings.lake, SESSIONS, scope.dts)
        kept = _outside(stored, scope, "session_start")
        changed = summarize_sessions(_inside(scope.events, scope), timezone=settings.timezone)
        sessions = kept.unionByName(changed)
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
    """The dates a Delta write replaces: dts, or on a full rebuild every date stored or new."""
    if format_of(SESSIONS, ctx.settings.table_format) != "delta" or dts is not None:
        return dts
    new = {r[0] for r in rows.select(PARTITION_COLUMN).distinct().collect()}
    return sorted(new | stored_dts(ctx.spark, ctx.settings.lake, SESSIONS))
