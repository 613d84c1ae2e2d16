"""daily_active_users: distinct active users per date, recomputed for every changed date."""

from __future__ import annotations

from pyspark.sql import DataFrame, Observation

from clickstream.pipeline.context import JobContext, JobOutcome
from clickstream.pipeline.derived import scope_for
from clickstream.tables import DAILY_ACTIVE_USERS, PARTITION_COLUMN
from clickstream.transforms import daily_active_users
from clickstream.writer import dts_metric, format_of, observed_dts, stored_dts, write_table

JOB = "daily_active_users"


def run(ctx: JobContext) -> JobOutcome:
    """Recompute DAU for the changed dates (every date when the bookmark is disabled)."""
    settings = ctx.settings
    scope = scope_for(ctx, JOB)
    if scope.events is None:
        return JobOutcome(metrics={"days": 0}, commit=scope.selection.commit)
    dau = daily_active_users(scope.events, timezone=settings.timezone)
    obs = Observation("dau")
    dau = dau.observe(obs, dts_metric())
    write_table(
        dau,
        settings.lake,
        DAILY_ACTIVE_USERS,
        table_format=settings.table_format,
        dts=_replaced_dts(ctx, scope.dts, scope.events),
    )
    written = tuple(observed_dts(obs))
    return JobOutcome(
        metrics={"days": len(written)},
        tables=(DAILY_ACTIVE_USERS,),
        dts={DAILY_ACTIVE_USERS.name: written},
        commit=scope.selection.commit,
    )


def _replaced_dts(ctx: JobContext, dts: list[str] | None, rows: DataFrame) -> list[str] | None:
    """The dates a Delta write replaces: dts, or on a full rebuild every date stored or new."""
    if format_of(DAILY_ACTIVE_USERS, ctx.settings.table_format) != "delta" or dts is not None:
        return dts
    new = {r[0] for r in rows.select(PARTITION_COLUMN).distinct().collect()}
    return sorted(new | stored_dts(ctx.spark, ctx.settings.lake, DAILY_ACTIVE_USERS))
