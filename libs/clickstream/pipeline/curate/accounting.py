"""Accounting that measures: the rows a run adds must be the event_ids it brings that were new.

Every event_id stored is either in events or in repeat_suppressed, exactly once. So on the dates a
run writes, (rows after - rows before) over both tables must equal the batch's event_ids that
the event_id index did not hold. Rows before come from the partitions' Parquet footers, rows
after are counted while the rows are written. A run whose numbers differ fails before it marks
its change set ready or commits its bookmark.
"""

from __future__ import annotations

from dataclasses import dataclass

from clickstream.pipeline.context import JobContext
from clickstream.pipeline.curate.planning import Existing
from clickstream.pipeline.curate.repeat_suppression import SUPPRESSED
from clickstream.tables import EVENTS, Table
from clickstream.writer import read_table


class AccountingError(AssertionError):
    """A run's measured row counts disagree with what it set out to add."""


@dataclass(frozen=True)
class StoredRows:
    """Rows stored on a set of dates: curated events and repeat-suppressed events."""

    events: int
    suppressed: int


def _count(ctx: JobContext, table: Table, dts: list[str], stored: set[str]) -> int:
    on_disk = sorted(set(dts) & stored)
    if not on_disk:
        return 0
    return read_table(ctx.spark, ctx.settings.lake, table, on_disk).count()  # footers only


def stored_rows(ctx: JobContext, dts: list[str], existing: Existing) -> StoredRows:
    """The rows events and repeat_suppressed hold on dts now."""
    return StoredRows(
        _count(ctx, EVENTS, dts, existing.events),
        _count(ctx, SUPPRESSED, dts, existing.suppressed),
    )


@dataclass(frozen=True)
class Added:
    """Rows added to events (curated) and to repeat_suppressed by one run."""

    events: int
    suppressed: int


def check_added(new_ids: int, before: StoredRows, after: StoredRows) -> Added:
    """The rows added; AccountingError unless they sum to the new event_ids."""
    added = Added(after.events - before.events, after.suppressed - before.suppressed)
    if added.events + added.suppressed != new_ids:
        raise AccountingError(
            f"accounting does not balance: {new_ids} new event_id(s), but events gained "
            f"{added.events} row(s) ({before.events} -> {after.events}) and repeat_suppressed "
            f"{added.suppressed} ({before.suppressed} -> {after.suppressed}) on the dates written"
        )
    return added
