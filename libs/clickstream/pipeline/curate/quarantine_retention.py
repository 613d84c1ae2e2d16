"""quarantine_retention_days: arrival dates of quarantine_clickstream older than the window go.

The window ends at the newest arrival date the lake has seen (the stored quarantine dates and
the batch's objects), not at the clock: a backfill or a rebuild from old raw objects keeps its
last window, and a test lake of dates long past keeps its rows. curate_events drops the dates
under its lease, after its own quarantine write; the rows dropped are counted in the summary.
Parquet: the dt folders are deleted. Delta: one DELETE commit (the files leave at the next
`clickstream maintain` vacuum), and the Redshift manifests follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from clickstream import delta_lake, fs, iceberg
from clickstream.pipeline.context import JobContext
from clickstream.raw_objects import RawObject, ingested_at_of
from clickstream.tables import PARTITION_COLUMN, QUARANTINE
from clickstream.writer import dt_predicate, format_of, read_table, stored_dts


@dataclass(frozen=True)
class Expired:
    """The arrival dates dropped and the rows they held."""

    dts: tuple[str, ...] = ()
    rows: int = 0


NOTHING_EXPIRED = Expired()


def expired_dates(stored: set[str], arrivals: set[str], days: int | None) -> list[str]:
    """The stored dates older than days before the newest date of stored and arrivals."""
    if days is None or not stored:
        return []
    newest = max(date.fromisoformat(d) for d in stored | arrivals)
    cutoff = (newest - timedelta(days=days)).isoformat()
    return sorted(d for d in stored if d <= cutoff)


def expire_quarantine(ctx: JobContext, chosen: list[RawObject]) -> Expired:
    """Drop the quarantine dates past quarantine_retention_days (none when it is null)."""
    spark, settings = ctx.spark, ctx.settings
    days = settings.quarantine_retention_days
    if days is None:
        return NOTHING_EXPIRED
    arrivals = {ingested_at_of(o.path, o.modified_ms).date().isoformat() for o in chosen}
    gone = expired_dates(stored_dts(spark, settings.lake, QUARANTINE), arrivals, days)
    if not gone:
        return NOTHING_EXPIRED
    rows = read_table(spark, settings.lake, QUARANTINE, gone).count()
    path = settings.path(QUARANTINE.location)
    ctx.guard()
    table_format = format_of(QUARANTINE, settings.table_format)
    if table_format == "delta":
        spark.sql(f"DELETE FROM delta.`{path}` WHERE {dt_predicate(gone)}")
        delta_lake.refresh_manifests(spark, path, partitioned=True)
    elif table_format == "iceberg":
        iceberg.delete_dates(spark, settings.lake, QUARANTINE, gone)
    else:
        for dt in gone:
            fs.delete(spark, f"{path}/{PARTITION_COLUMN}={dt}")
    ctx.echo(
        f"  quarantine: {rows} row(s) of {len(gone)} arrival date(s) older than {days} days "
        f"dropped (quarantine_retention_days)"
    )
    return Expired(tuple(gone), rows)
