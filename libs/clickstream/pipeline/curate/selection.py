"""Which raw objects a run curates: those the bookmark (Glue's or the project's) has not seen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clickstream.pipeline.context import JobContext
from clickstream.raw_objects import RawObject, list_raw_objects

SOURCE = "raw_clickstream"


@dataclass(frozen=True)
class RawSelection:
    """The raw objects to curate now, every raw object by path, and the bookmark commit."""

    chosen: list[RawObject]
    objects: dict[str, RawObject]
    commit: Callable[[], bool]

    @property
    def available(self) -> int:
        return len(self.objects)


def select_raw_objects(ctx: JobContext, job: str) -> RawSelection:
    """The new or changed raw objects (fingerprint: size and modification time), by path."""
    objects = {o.path: o for o in list_raw_objects(ctx.spark, ctx.settings.path("raw/clickstream"))}
    selection = ctx.select(
        job, SOURCE, {p: f"{o.size}:{o.modified_ms}" for p, o in objects.items()}
    )
    chosen = [objects[p] for p in selection.chosen if p in objects]
    return RawSelection(chosen, objects, selection.commit)
