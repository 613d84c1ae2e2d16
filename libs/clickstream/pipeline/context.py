"""What a job gets (spark, settings, an input selector) and what it gives back."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pyspark.sql import SparkSession

from clickstream.bookmarks import Bookmark, HourWindow
from clickstream.catalog import CatalogSync
from clickstream.config import Settings
from clickstream.leases import Leases
from clickstream.tables import Table


@dataclass
class Selection:
    """The inputs a run must process, and how to record them as processed after success."""

    chosen: list[str]
    commit: Callable[[], bool] = lambda: False


class Inputs(Protocol):
    """Decides which inputs of a job's source are new: bookmarks, Glue's or the project's."""

    def select(
        self, job: str, source: str, candidates: Mapping[str, str] | HourWindow
    ) -> Selection:
        """The candidates (id -> fingerprint, or an hour window to list) to process now."""
        ...


@dataclass
class BookmarkInputs:
    """The project's bookmark store under the lake (local runs and EMR)."""

    spark: SparkSession
    settings: Settings

    def select(
        self, job: str, source: str, candidates: Mapping[str, str] | HourWindow
    ) -> Selection:
        """New or changed candidates per the job's bookmark and the bookmark_option setting."""
        bookmark = Bookmark.load(self.spark, self.settings.lake, job, self.settings.bookmark_option)
        return Selection(bookmark.select(candidates), bookmark.commit)


@dataclass
class JobContext:
    """A job's inputs: the session, the settings, the input selector and a progress printer.

    One context serves a whole run; catalog_sync records the tables the run has registered;
    leases are those of the job running now (set by the runner).
    """

    spark: SparkSession
    settings: Settings
    echo: Callable[[str], None] = print
    inputs: Inputs | None = None
    catalog_sync: CatalogSync = field(default_factory=CatalogSync)
    leases: Leases | None = None
    # The run's id (run_records): data-quality results carry it.
    run_id: str = ""

    def __post_init__(self) -> None:
        if self.inputs is None:
            self.inputs = BookmarkInputs(self.spark, self.settings)

    def guard(self) -> None:
        """Right before a destructive write (a table's dates, quarantine, the index, state):
        LeaseLost when another run took over one of this job's leases."""
        if self.leases is not None:
            self.leases.verify()

    def select(
        self, job: str, source: str, candidates: Mapping[str, str] | HourWindow
    ) -> Selection:
        """Which candidates of job's source to process now."""
        assert self.inputs is not None
        return self.inputs.select(job, source, candidates)


@dataclass
class JobOutcome:
    """A job's result: metrics for the run summary, tables written, and its input commit."""

    metrics: dict[str, Any] = field(default_factory=dict)
    tables: tuple[Table, ...] = ()
    # Partitions written and emptied, by table name (for catalogs that track partitions).
    dts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    dropped: dict[str, tuple[str, ...]] = field(default_factory=dict)
    commit: Callable[[], bool] = lambda: False
