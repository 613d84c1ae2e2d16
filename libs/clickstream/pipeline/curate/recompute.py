"""Recompute the events inside the ranges: dedup, repeat suppression, enrichment, sessions."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, Observation
from pyspark.sql import functions as F

from clickstream.observe import observed
from clickstream.pipeline.context import JobContext
from clickstream.pipeline.curate.context_reads import STORED, StoredContext, batch_origin
from clickstream.pipeline.ranges import inside
from clickstream.tables import TITLES_HISTORY, events_table
from clickstream.transforms import dedup_events, enrich_events, sessionize
from clickstream.writer import read_table, table_schema


@dataclass
class Recomputed:
    """The events rows to write (untouched stored rows included), the rows recomputed inside the
    ranges with every column they carried (STORED and FILE on the only-what-changed path), the
    deduplicated rows before repeat suppression and those it kept (both cached when
    suppression is on).

    check() fails when enrichment or sessionization changed the row count; call it after the
    rows were written.
    """

    output: DataFrame
    recomputed: DataFrame
    deduped: DataFrame
    kept: DataFrame
    cached: bool
    _kept_obs: Observation
    _out_obs: Observation

    def check(self) -> None:
        """Fail when enrichment or sessionization changed the number of rows."""
        kept, out = observed(self._kept_obs), observed(self._out_obs)
        if kept["rows"] != out["rows"]:
            raise AssertionError(f"enrich/sessionize changed the row count: {kept} -> {out}")

    def release(self) -> None:
        """Drop the cached deduplicated rows."""
        if self.cached:
            self.kept.unpersist()
            self.deduped.unpersist()


def recompute(
    ctx: JobContext, new: DataFrame, ranges: DataFrame | None, stored: StoredContext
) -> Recomputed:
    """The new events with the stored context, deduplicated, suppressed, enriched, sessionized;
    only rows inside the ranges are recomputed (all rows when there are none)."""
    spark, settings = ctx.spark, ctx.settings
    window = settings.repeat_window_seconds
    if stored.context is not None:
        if STORED in stored.context.columns:
            new = batch_origin(new)
        new = stored.context.unionByName(new)
    deduped = dedup_events(new)
    kept = deduped
    if window:
        # Checkpointed, not only cached: the events write refreshes every cache that reads the
        # events table (Spark re-caches by path), and a deduped recomputed after it would miss the
        # stored rows that write turned into repeat-suppressed ones (write_suppressed needs them).
        deduped = deduped.localCheckpoint()
        kept = dedup_events(deduped, repeat_window_seconds=window).persist()
    recomputed = kept if ranges is None else inside(kept, ranges)
    kept_obs, out_obs = Observation("kept"), Observation("out")
    titles = read_table(spark, settings.lake, TITLES_HISTORY)  # titles as of each event
    enriched = enrich_events(recomputed.observe(kept_obs, F.count(F.lit(1)).alias("rows")), titles)
    curated = sessionize(
        enriched,
        timeout_minutes=settings.session_timeout_minutes,
        max_session_hours=settings.max_session_hours,
    )
    curated = curated.observe(out_obs, F.count(F.lit(1)).alias("rows"))
    output = curated.select(*table_schema(events_table(settings.promoted_fields)).names)
    if stored.untouched is not None:
        output = stored.untouched.unionByName(output)
    return Recomputed(output, curated, deduped, kept, bool(window), kept_obs, out_obs)
