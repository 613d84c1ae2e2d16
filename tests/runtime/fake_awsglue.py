"""A test double of the awsglue package: arguments, GlueContext, catalog and JDBC reads,
bookmarks, Job.

`GlueDouble.install(monkeypatch)` puts modules named awsglue, awsglue.context, awsglue.job and
awsglue.utils into sys.modules. The catalog reader returns DataFrames the test registered per
(database, table); each registered frame has a FILE column naming the object a row came from.
The JDBC reader (from_options) returns the rows registered per (Glue connection, dbtable).
Like Glue, the double keeps a bookmark per (job name, transformation_ctx): with
job-bookmark-enable or -pause a catalog read returns only rows of objects not yet committed, a
JDBC read with jobBookmarkKeys only rows whose key is past the committed one (above it, sort
order asc; below it, desc), and job.commit() (enable only) records what was read since job.init.
Every call is logged.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pyspark import SparkContext
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

if TYPE_CHECKING:  # the double also runs in the Glue stand-in, which has no pytest
    import pytest

FILE = "_object"  # column of a registered frame: the object (URI) each row came from
BOOKMARK_OPTIONS = ("job-bookmark-enable", "job-bookmark-pause", "job-bookmark-disable")
MODULE_NAMES = ("awsglue", "awsglue.context", "awsglue.job", "awsglue.utils")


class GlueArgumentError(Exception):
    """A required argument is missing or a value is not allowed (Glue raises, never exits)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise GlueArgumentError(message)


def get_resolved_options(args: Sequence[str], options: Sequence[str]) -> dict[str, Any]:
    """Like awsglue.utils.getResolvedOptions: skips args[0], requires every --<option>.

    job_bookmark_option is reserved (asking for it fails) and always in the result, defaulting
    to job-bookmark-disable as on Glue; unknown arguments are ignored.
    """
    reserved = {"job-bookmark-option", "JOB_ID", "JOB_RUN_ID", "SECURITY_CONFIGURATION"}
    for option in options:
        if option in reserved:
            raise RuntimeError(f"Using reserved arguments {option}")
    parser = _Parser(allow_abbrev=False)
    parser.add_argument("--job-bookmark-option", choices=BOOKMARK_OPTIONS)
    for option in ("JOB_ID", "JOB_RUN_ID", "SECURITY_CONFIGURATION", "TempDir"):
        parser.add_argument(f"--{option}")
    for option in options:
        if option != "TempDir":
            parser.add_argument(f"--{option}", required=True)
    parsed, _extra = parser.parse_known_args(list(args[1:]))
    resolved = vars(parsed)
    resolved["job_bookmark_option"] = resolved["job_bookmark_option"] or "job-bookmark-disable"
    return resolved


@dataclass(frozen=True)
class Call:
    """One call on the Glue API: what, during which job run, and its details."""

    kind: str
    job: str | None
    detail: dict[str, Any] = field(default_factory=dict)


class FakeDynamicFrame:
    """A DynamicFrame over a DataFrame."""

    def __init__(self, df: DataFrame) -> None:
        self._df = df

    def toDF(self) -> DataFrame:
        """The rows as a Spark DataFrame."""
        return self._df

    def count(self) -> int:
        """Number of rows."""
        return self._df.count()


class GlueDouble:
    """The fake Glue service: registered catalog tables, bookmarks, failures and the call log."""

    def __init__(self, spark: SparkSession, watch: Path | None = None) -> None:
        self.spark = spark
        self.watch = watch  # folder whose Parquet files init and commit record
        self.tables: dict[tuple[str, str], DataFrame] = {}
        self.log: list[Call] = []
        self.committed: dict[tuple[str, str], set[str]] = {}
        self.pending: dict[tuple[str, str], set[str]] = {}
        # Glue connections (name -> connection type) and their tables' rows (JDBC reads).
        self.connections: dict[str, str] = {}
        self.jdbc_tables: dict[tuple[str, str], DataFrame] = {}
        # JDBC bookmarks: the last key value read per (job name, transformation_ctx).
        self.jdbc_committed: dict[tuple[str, str], Any] = {}
        self.jdbc_pending: dict[tuple[str, str], Any] = {}
        self.read_error: Exception | None = None
        self.job_name: str | None = None
        self.bookmark_option = "job-bookmark-disable"

    def register(self, database: str, table: str, frame: DataFrame) -> None:
        """Make from_catalog(database, table) return the frame (which has a FILE column)."""
        if FILE not in frame.columns:
            raise ValueError(f"a registered frame needs a {FILE!r} column")
        self.tables[(database, table)] = frame

    def register_jdbc(
        self, connection: str, dbtable: str, frame: DataFrame, connection_type: str = "postgresql"
    ) -> None:
        """A Glue connection (it holds the URL and the credentials) and a table's rows behind it."""
        self.connections[connection] = connection_type
        self.jdbc_tables[(connection, dbtable)] = frame

    def calls(self, kind: str, job: str | None = None) -> list[Call]:
        """Logged calls of a kind, optionally of one job run."""
        return [c for c in self.log if c.kind == kind and (job is None or c.job == job)]

    def parquet_files(self) -> list[str]:
        """Parquet files under the watched folder, relative to it (empty without one)."""
        if self.watch is None:
            return []
        return sorted(str(p.relative_to(self.watch)) for p in self.watch.rglob("*.parquet"))

    def record(self, kind: str, **detail: Any) -> None:
        """Append a call to the log."""
        self.log.append(Call(kind, self.job_name, detail))

    def read_catalog(
        self,
        database: str,
        table_name: str,
        transformation_ctx: str = "",
        additional_options: Mapping[str, Any] | None = None,
    ) -> FakeDynamicFrame:
        """The registered rows of objects Glue's bookmark has not seen, as Glue would return them."""
        options = dict(additional_options or {})
        self.record(
            "from_catalog",
            database=database,
            table_name=table_name,
            transformation_ctx=transformation_ctx,
            additional_options=options,
        )
        if self.read_error is not None:
            raise self.read_error
        if (database, table_name) not in self.tables:
            raise RuntimeError(f"EntityNotFoundException: table {database}.{table_name} not found")
        frame = self.tables[(database, table_name)]
        objects = {r[0] for r in frame.select(FILE).distinct().collect()}
        key = (self.job_name or "", transformation_ctx)
        tracked = bool(transformation_ctx) and self.bookmark_option != "job-bookmark-disable"
        new = objects - self.committed.get(key, set()) if tracked else objects
        if tracked:
            self.pending.setdefault(key, set()).update(new)
        rows = frame.where(F.col(FILE).isin(sorted(new))) if new else None
        self.log[-1].detail["objects_returned"] = sorted(new)
        if rows is None:  # Glue's frame of nothing new has no columns at all
            return FakeDynamicFrame(self.spark.createDataFrame([], StructType([])))
        name = options.get("attachFilename")
        rows = rows.withColumnRenamed(FILE, name) if name else rows.drop(FILE)
        return FakeDynamicFrame(rows)

    def read_jdbc(
        self,
        connection_type: str,
        connection_options: Mapping[str, Any],
        transformation_ctx: str = "",
    ) -> FakeDynamicFrame:
        """A table through a Glue connection: the rows past Glue's bookmark on jobBookmarkKeys."""
        options = dict(connection_options)
        self.record(
            "from_options",
            connection_type=connection_type,
            connection_options=options,
            transformation_ctx=transformation_ctx,
        )
        name, dbtable = options.get("connectionName"), options.get("dbtable")
        if name not in self.connections:
            raise RuntimeError(f"EntityNotFoundException: connection {name} not found")
        if self.connections[name] != connection_type:
            raise RuntimeError(
                f"connection {name} is a {self.connections[name]} connection, not {connection_type}"
            )
        if (name, dbtable) not in self.jdbc_tables:
            raise RuntimeError(f'ERROR: relation "{dbtable}" does not exist')
        rows = self.jdbc_tables[(name, dbtable)]
        keys = list(options.get("jobBookmarkKeys") or [])
        bookmark = (self.job_name or "", transformation_ctx)
        tracked = bool(transformation_ctx) and self.bookmark_option != "job-bookmark-disable"
        if tracked and keys:
            if len(keys) != 1:
                raise NotImplementedError("the double keeps single-column JDBC bookmarks only")
            key, order = keys[0], options.get("jobBookmarkKeysSortOrder", "asc")
            last = self.jdbc_committed.get(bookmark)
            if last is not None:
                rows = rows.where(F.col(key) > last if order == "asc" else F.col(key) < last)
            edge = F.max(key) if order == "asc" else F.min(key)
            top = rows.agg(edge).collect()[0][0]
            self.jdbc_pending[bookmark] = last if top is None else top
        self.log[-1].detail["rows_returned"] = rows.count()
        if rows.isEmpty():  # like the catalog reader's: a frame of nothing has no columns
            return FakeDynamicFrame(self.spark.createDataFrame([], StructType([])))
        return FakeDynamicFrame(rows)

    def modules(self) -> dict[str, ModuleType]:
        """The fake awsglue package and its modules, bound to this double."""
        double = self

        class _Reader:
            def from_catalog(
                self,
                database: str,
                table_name: str,
                redshift_tmp_dir: str = "",
                transformation_ctx: str = "",
                push_down_predicate: str = "",
                additional_options: Mapping[str, Any] | None = None,
                catalog_id: str | None = None,
                **kwargs: Any,
            ) -> FakeDynamicFrame:
                return double.read_catalog(
                    database, table_name, transformation_ctx, additional_options
                )

            def from_options(
                self,
                connection_type: str,
                connection_options: Mapping[str, Any] | None = None,
                format: str | None = None,
                format_options: Mapping[str, Any] | None = None,
                transformation_ctx: str = "",
                **kwargs: Any,
            ) -> FakeDynamicFrame:
                return double.read_jdbc(
                    connection_type, connection_options or {}, transformation_ctx
                )

        class GlueContext:
            """GlueContext(sc): the test session and a catalog reader."""

            def __init__(self, sc: SparkContext, **options: Any) -> None:
                double.record("GlueContext")
                self._sc = sc
                self.spark_session = double.spark
                self.create_dynamic_frame = _Reader()

        class Job:
            """Job(glue_context): init and commit, recorded with the Parquet files at the time."""

            def __init__(self, glue_context: GlueContext) -> None:
                self._glue_context = glue_context

            def init(self, job_name: str, args: Mapping[str, Any] | None = None) -> None:
                double.job_name = job_name
                double.bookmark_option = (args or {}).get(
                    "job_bookmark_option", "job-bookmark-disable"
                )
                double.pending = {}
                double.jdbc_pending = {}
                double.record("job.init", args=dict(args or {}), files=double.parquet_files())

            def commit(self) -> None:
                double.record("job.commit", files=double.parquet_files())
                if double.bookmark_option == "job-bookmark-enable":
                    for key, objects in double.pending.items():
                        double.committed.setdefault(key, set()).update(objects)
                    double.jdbc_committed.update(double.jdbc_pending)
                double.pending = {}
                double.jdbc_pending = {}

        def get_resolved(args: Sequence[str], options: Sequence[str]) -> dict[str, Any]:
            double.record("getResolvedOptions", options=list(options))
            return get_resolved_options(args, options)

        package = ModuleType("awsglue")
        package.__path__ = []  # a package, so `import awsglue.context` resolves
        context = ModuleType("awsglue.context")
        context.GlueContext = GlueContext  # type: ignore[attr-defined]
        job = ModuleType("awsglue.job")
        job.Job = Job  # type: ignore[attr-defined]
        utils = ModuleType("awsglue.utils")
        utils.getResolvedOptions = get_resolved  # type: ignore[attr-defined]
        utils.GlueArgumentError = GlueArgumentError  # type: ignore[attr-defined]
        for name, module in (("context", context), ("job", job), ("utils", utils)):
            setattr(package, name, module)
        return dict(zip(MODULE_NAMES, (package, context, job, utils), strict=True))

    def install(self, monkeypatch: pytest.MonkeyPatch) -> GlueDouble:
        """Put the fake awsglue modules into sys.modules (undone with the monkeypatch)."""
        for name, module in self.modules().items():
            monkeypatch.setitem(sys.modules, name, module)
        return self
