"""Which raw objects a run curates: those the bookmark has not seen, listed hour by hour.

The raw zone is laid out by arrival hour (YYYY/MM/DD/HH). The bookmark keeps its high-water hour
and the objects of the bookmark_lookback_hours before it, and the run lists only the hour folders
from there on (clickstream.bookmarks.HourWindow): listing costs what is new, not the history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from clickstream.bookmarks import HourWindow
from clickstream.pipeline.context import JobContext
from clickstream.raw_objects import (
    RawObject,
    find_raw_objects,
    hour_of,
    ingested_at_ms,
    list_raw_objects,
    qualified_root,
)
from clickstream.transforms.dates import shift_dt

SOURCE = "raw_clickstream"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RawSelection:
    """The raw objects to curate now, the objects listed by path, and the bookmark commit."""

    chosen: list[RawObject]
    objects: dict[str, RawObject]
    commit: Callable[[], bool]
    find: Callable[[list[str]], dict[str, RawObject]]
    arrived_on: Callable[[list[str]], dict[str, RawObject]]

    @property
    def available(self) -> int:
        return len(self.objects)

    def newest_ingested_at(self) -> str | None:
        """The newest arrival time among the objects listed (each is curated by now, in this
        run or an earlier one), as UTC ISO-8601; None when none is listed."""
        newest = max(
            (ingested_at_ms(o.path, o.modified_ms) for o in self.objects.values()), default=None
        )
        if newest is None:
            return None
        return (EPOCH + timedelta(milliseconds=newest)).isoformat(timespec="seconds")


def select_raw_objects(ctx: JobContext, job: str) -> RawSelection:
    """The new or changed raw objects (fingerprint: size and modification time), by path."""
    spark, raw = ctx.spark, ctx.settings.path("raw/clickstream")
    root = qualified_root(spark, raw)
    listed: dict[str, RawObject] = {}

    def listing(from_hour: str | None) -> dict[str, str]:
        listed.update({o.path: o for o in list_raw_objects(spark, raw, from_hour=from_hour)})
        return {p: f"{o.size}:{o.modified_ms}" for p, o in listed.items()}

    def hour(path: str) -> str | None:
        return hour_of(path[len(root) + 1 :]) if path.startswith(f"{root}/") else None

    window = HourWindow(listing, hour, ctx.settings.bookmark_lookback_hours)
    selection = ctx.select(job, SOURCE, window)
    chosen = [listed[p] for p in selection.chosen if p in listed]

    def find(paths: list[str]) -> dict[str, RawObject]:
        """The objects among paths that exist, listed now when outside this run's window."""
        found = {p: listed[p] for p in paths if p in listed}
        rest = [p for p in paths if p not in listed]
        return {**found, **(find_raw_objects(spark, raw, rest) if rest else {})}

    def arrived_on(dts: list[str]) -> dict[str, RawObject]:
        """Every object that may have arrived on the dates (YYYY-MM-DD, UTC), window or not: the
        hour folders from the day before the first date on (an object's folder is the hour its
        first record arrived, at or before the time in its name)."""
        first = shift_dt(min(dts), -1).replace("-", "/")
        found = list_raw_objects(spark, raw, from_hour=f"{first}/00")
        return {**listed, **{o.path: o for o in found}}

    return RawSelection(chosen, listed, selection.commit, find, arrived_on)
