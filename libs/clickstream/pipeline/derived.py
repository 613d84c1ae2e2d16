"""What the jobs that derive tables from curated events recompute: change sets or everything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pyspark.sql import DataFrame

from clickstream import bookmarks
from clickstream.bookmarks import DISABLE, Listed
from clickstream.pipeline import changes
from clickstream.pipeline.context import JobContext, Selection
from clickstream.tables import EVENTS
from clickstream.writer import read_table

# The jobs that consume curate_events' change sets: a set all of them processed may be pruned.
CONSUMERS = ("build_sessions", "daily_active_users")


@dataclass
class Scope:
    """Dates to rewrite and the events of those dates (None dates: the whole table).

    Within dts, the sessions to recompute are all of those on full_dts and, elsewhere, those of
    a user inside one of that user's ranges (user_id, range_start, range_end).
    """

    selection: Selection
    dts: list[str] | None
    events: DataFrame | None
    ranges: DataFrame | None = None
    full_dts: list[str] = field(default_factory=list)
    commit: Callable[[], bool] = lambda: False


def scope_for(ctx: JobContext, job: str) -> Scope:
    """Unconsumed change sets (bookmark enable/pause), or all events (disable)."""
    spark, settings = ctx.spark, ctx.settings
    # Manifests are read for the chosen sets only: a run costs what it consumes. The sets are
    # listed whole (Listed): the bookmark forgets those pruned since (changes.prune).
    available = changes.ready_change_ids(settings.lake)
    selection = ctx.select(job, "change_sets", Listed({cid: "1" for cid in available}))
    chosen = selection.chosen
    commit = _commit_then_prune(ctx, selection)
    if settings.bookmark_option == DISABLE:
        ctx.echo("  bookmark disabled: recomputing from all curated events")
        return Scope(selection, None, read_table(spark, settings.lake, EVENTS), commit=commit)
    if not chosen:
        ctx.echo("  no new change sets")
        return Scope(selection, [], None, commit=commit)
    found = changes.list_change_sets(spark, settings.lake, ids=set(chosen))
    sets = [found[cid] for cid in chosen]
    dts = sorted({dt for cs in sets for dt in cs.dts})
    ctx.echo(f"  {len(sets)} change set(s) over {len(dts)} date(s)")
    return Scope(
        selection,
        dts,
        read_table(spark, settings.lake, EVENTS, dts),
        changes.read_ranges(spark, settings.lake, sets),
        sorted({dt for cs in sets if cs.full for dt in cs.dts}),
        commit,
    )


def _commit_then_prune(ctx: JobContext, selection: Selection) -> Callable[[], bool]:
    """The job's commit: its bookmark, then (when it consumed sets) the change sets every
    consumer has processed and state_retention_days has passed since are pruned."""
    spark, lake = ctx.spark, ctx.settings.lake

    def commit() -> bool:
        committed = selection.commit()
        if committed and selection.chosen:
            consumed = [bookmarks.show(spark, lake, job)["processed"] for job in CONSUMERS]
            changes.prune(spark, lake, consumed, retention_days=ctx.settings.state_retention_days)
        return committed

    return commit
