"""A curate run stopped at any step of its commit, then one more run: the lake is exact, in
both table formats (Delta: the steps whose outcome differs from Parquet's, and Delta's own)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from clickstream import delta_lake, file_ops
from clickstream.config import Settings
from clickstream.pipeline import changes, curate_events
from clickstream.pipeline.curate import event_index, quarantine
from clickstream.pipeline.runner import run_pipeline
from clickstream.tables import EVENTS, PARTITION_COLUMN, QUARANTINE, events_table
from clickstream.writer import conform
from tests.pipeline import incremental_helpers as ih
from tests.pipeline import lake_fixture as lf

pytestmark = pytest.mark.slow

# Repeat suppression on, so the repeat_suppressed table is part of every commit.
OVERRIDES = ["repeat_window_seconds=2"]
# Batch 2: object D (a day later), a re-delivery of e1 with a new event and a repeat, and a
# late-delivered object named before object A holding an earlier copy of e3 under another user.
OBJECT_E = (
    '{"event_id":"e1","user_id":"u1","event_type":"view","event_time":"2026-03-01T10:00:00Z","title_id":"t1"}\n'
    '{"event_id":"e20","user_id":"u2","event_type":"view","event_time":"2026-03-01T16:20:00Z"}\n'
    '{"event_id":"e21","user_id":"u2","event_type":"view","event_time":"2026-03-01T16:20:01Z"}\n'
)
OBJECT_G = "{not json at all\n"
OBJECT_F = '{"event_id":"e3","user_id":"u9","event_type":"view","event_time":"2026-03-01T09:00:00Z","title_id":"t2"}\n'


class SimulatedCrash(RuntimeError):
    """The process died here."""


def _first_batch(lake: Path) -> None:
    """Objects A, B and C of the fixture lake (not D)."""
    lf.build_lake(lake)
    lf.object_path(lake, "d", "2026/03/02/00", "2026-03-02-00-30-00").unlink()


def _second_batch(lake: Path) -> None:
    """Objects D, E, F and G (G arrived late on 2026-03-01, beside batch 1's A, B and C: its bad
    record goes to the quarantine date that already holds A's)."""
    d = lf.object_path(lake, "d", "2026/03/02/00", "2026-03-02-00-30-00")
    e = lf.object_path(lake, "a", "2026/03/02/09", "2026-03-02-09-00-00")
    f = lf.object_path(lake, "b", "2026/03/02/10", "2026-03-01-09-00-00")
    g = lf.object_path(lake, "c", "2026/03/01/23", "2026-03-01-23-55-00")
    for path, text in ((d, lf.OBJECT_D), (e, OBJECT_E), (f, OBJECT_F), (g, OBJECT_G)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _after(target: Any, attribute: str, crash: Callable[..., None]) -> Callable[..., Any]:
    return _after_call(getattr(target, attribute), crash)


def _after_call(original: Callable[..., Any], crash: Callable[..., None]) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        crash(*args, **kwargs)
        return result

    return wrapped


def _die(*_: Any, **__: Any) -> None:
    raise SimulatedCrash("stopped")


def _tear_a_partition(ctx: Any, *_: Any, **__: Any) -> None:
    """Parquet's dynamic overwrite deleted a date's old files, then died before moving in the new."""
    shutil.rmtree(Path(ctx.settings.path(EVENTS.location)) / f"{PARTITION_COLUMN}=2026-03-01")
    raise SimulatedCrash("partition torn")


def _tear_quarantine(spark: Any, settings: Settings, *_: Any) -> None:
    """Inside the quarantine write: 2026-03-01's old files (A's and B's bad records among them)
    were deleted, then the process died before the new ones were moved in."""
    shutil.rmtree(Path(settings.path(QUARANTINE.location)) / f"{PARTITION_COLUMN}=2026-03-01")
    raise SimulatedCrash("quarantine partition torn")


def _tear_the_index(spark: Any, settings: Settings, *_: Any) -> None:
    """The index lost a bucket while its buckets were replaced."""
    buckets = sorted((Path(settings.path(event_index.LOCATION))).glob("bucket=*"))
    shutil.rmtree(buckets[0])
    raise SimulatedCrash("index torn")


# The two ways curate_events writes events: whole dates, or only the rows that changed.
EVENT_WRITERS = ("write_events", "write_changed_events")


def _on_events_writes(patch: pytest.MonkeyPatch, wrap: Callable[..., Callable[..., Any]]) -> None:
    """Replace both events writers of curate_events with wrap(original)."""
    for name in EVENT_WRITERS:
        patch.setattr(curate_events, name, wrap(getattr(curate_events, name)))


def _rows_of(ctx: Any, written: Any) -> DataFrame:
    """The rows an events writer was given: a frame (whole dates) or the new rows of a change."""
    return written if isinstance(written, DataFrame) else written.new


def _write_uncommitted(patch: pytest.MonkeyPatch) -> None:
    """A Delta write died after writing its data files, before its commit: the files lie in the
    dt folders (new ones among them), in no version of the table."""

    def wrap(_: Callable[..., Any]) -> Callable[..., Any]:
        def write(ctx: Any, written: Any, *_: Any, **__: Any) -> None:
            settings = ctx.settings
            rows = conform(_rows_of(ctx, written), events_table(settings.promoted_fields))
            path = settings.path(EVENTS.location)
            rows.write.partitionBy(PARTITION_COLUMN).mode("append").parquet(path)
            raise SimulatedCrash("died before the Delta commit")

        return write

    _on_events_writes(patch, wrap)


def _events_committed_before_its_manifests(patch: pytest.MonkeyPatch) -> None:
    """The events write committed, then the process died before Delta's post-commit hook and
    the COPY manifests ran: the manifests (and their version record) are as before the commit."""

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        def write(ctx: Any, *args: Any, **kwargs: Any) -> Any:
            table = Path(ctx.settings.path(EVENTS.location))
            saved = table.parent / "manifests-before"
            for name in MANIFEST_DIRS:
                if (table / name).exists():
                    shutil.copytree(table / name, saved / name)
            original(ctx, *args, **kwargs)
            for name in MANIFEST_DIRS:
                shutil.rmtree(table / name, ignore_errors=True)
                if (saved / name).exists():
                    shutil.copytree(saved / name, table / name)
            shutil.rmtree(saved)
            raise SimulatedCrash("committed, manifests not written")

        return write

    _on_events_writes(patch, wrap)


def _torn_file_operation(patch: pytest.MonkeyPatch) -> None:
    """Parquet, only the changed rows written: the file operation moved half of its new files
    into the dt folders, then the process died (the replaced files still there, its intent kept)."""

    def finish(spark: Any, lake: str, op: str, intent: dict[str, Any]) -> None:
        for source, target in intent["moves"][: len(intent["moves"]) // 2 + 1]:
            Path(target.removeprefix("file:")).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(source.removeprefix("file:"), target.removeprefix("file:"))
        raise SimulatedCrash("file operation torn")

    patch.setattr(file_ops, "_finish", finish)


MANIFEST_DIRS = (delta_lake.SYMLINK_MANIFEST_DIR, delta_lake.COPY_MANIFEST_DIR)


def _when(name: str) -> Callable[..., None]:
    def crash(lake: str, change_id: str, mark: str = "ready") -> None:
        if mark == name:
            raise SimulatedCrash(f"stopped after the {name} mark")

    return crash


CRASHES: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "after_publish": lambda p: p.setattr(changes, "publish", _after(changes, "publish", _die)),
    "after_events_write": lambda p: _on_events_writes(p, lambda w: _after_call(w, _die)),
    # Whole dates (Parquet's dynamic overwrite) tear a date; changed rows tear a file operation.
    "torn_events_partition": lambda p: _on_events_writes(
        p, lambda w: _after_call(w, _tear_a_partition)
    ),
    "torn_file_operation": _torn_file_operation,
    "after_repeat_suppressed_write": lambda p: p.setattr(
        curate_events, "write_suppressed", _after(curate_events, "write_suppressed", _die)
    ),
    "after_events_written_mark": lambda p: p.setattr(
        changes, "mark", _after(changes, "mark", _when("events_written"))
    ),
    "torn_quarantine_partition": lambda p: p.setattr(quarantine, "drop_empty", _tear_quarantine),
    "torn_index": lambda p: p.setattr(
        event_index, "upsert", _after(event_index, "upsert", _tear_the_index)
    ),
    "after_index_update": lambda p: p.setattr(
        event_index, "upsert", _after(event_index, "upsert", _die)
    ),
    "after_ready_mark": lambda p: p.setattr(
        changes, "mark", _after(changes, "mark", _when("ready"))
    ),
    # Delta only: data files written, no commit; the quarantine committed, its intent not cleared.
    "uncommitted_events_files": _write_uncommitted,
    "after_quarantine_commit": lambda p: p.setattr(quarantine, "drop_empty", _die),
    "events_committed_before_its_manifests": _events_committed_before_its_manifests,
}
# Tearing a date (old files deleted, new ones not yet moved in) is what Parquet's dynamic
# overwrite risks; a Delta commit cannot tear. Delta runs the steps where its outcome could
# differ from Parquet's (the commit done, the index rebuilt from the Delta tables) and its own.
DELTA_ONLY = {
    "uncommitted_events_files",
    "after_quarantine_commit",
    "events_committed_before_its_manifests",
}
PARQUET_STEPS = sorted(set(CRASHES) - DELTA_ONLY)
# With Delta, "events_committed_before_its_manifests" is "after_events_write" (the events commit
# done, the run dead before its mark) with the manifests left behind too: it stands for both.
DELTA_STEPS = [
    "after_events_written_mark",
    "uncommitted_events_files",
    "after_quarantine_commit",
    "events_committed_before_its_manifests",
]


@pytest.fixture(scope="module")
def full_run(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One full Parquet run over both batches (the Delta tables must hold the same rows)."""
    full = tmp_path_factory.mktemp("full")
    _first_batch(full)
    _second_batch(full)
    settings = ih.lake_settings(full, OVERRIDES)
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    return settings


@pytest.fixture(scope="module")
def first_runs(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], tuple[Path, Path]]:
    """Per table format, a working lake path and its state after batch 1 (restored there before
    each crash: bookmarks and source_file hold absolute paths), made on first use."""
    made: dict[str, tuple[Path, Path]] = {}

    def get(table_format: str) -> tuple[Path, Path]:
        if table_format not in made:
            root = tmp_path_factory.mktemp(f"crash-{table_format}")
            work, pristine = root / "lake", root / "after-first"
            _first_batch(work)
            settings = ih.lake_settings(work, [*OVERRIDES, f"table_format={table_format}"])
            run_pipeline(settings, spark=spark, echo=ih.quiet)
            shutil.copytree(work, pristine)
            made[table_format] = work, pristine
        return made[table_format]

    return get


@pytest.mark.parametrize(
    ("table_format", "step"),
    [("parquet", s) for s in PARQUET_STEPS] + [("delta", s) for s in DELTA_STEPS],
)
def test_a_run_stopped_at_any_step_of_its_commit_is_completed_by_the_next(
    spark: SparkSession,
    first_runs: Callable[[str], tuple[Path, Path]],
    full_run: Settings,
    monkeypatch: pytest.MonkeyPatch,
    table_format: str,
    step: str,
    make_frame: Callable[..., DataFrame],
    assert_frames_equal: Callable[..., None],
) -> None:
    lake, pristine = first_runs(table_format)
    shutil.rmtree(lake)
    shutil.copytree(pristine, lake)
    _second_batch(lake)
    settings = ih.lake_settings(lake, [*OVERRIDES, f"table_format={table_format}"])
    # GIVEN the second batch's run stopped at this step (leases are released as a dead run's
    # would be taken over; the test is about the data)
    with monkeypatch.context() as patch:
        CRASHES[step](patch)
        with pytest.raises(SimulatedCrash):
            run_pipeline(settings, spark=spark, echo=ih.quiet)
    # WHEN the next run goes on normally
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN every table equals the full run's, each event once, and no change set is left unready
    ih.assert_same_tables(spark, full_run, settings, assert_frames_equal)
    events = ih.comparable(spark, settings, EVENTS)
    assert events.groupBy("event_id").count().where(F.col("count") > 1).count() == 0
    unready = changes.list_change_sets(spark, settings.lake, ready_only=False)
    assert all(cs.ready for cs in unready.values())
    # and delta-rs reads the same Delta tables, whose Spectrum and COPY manifests list exactly
    # their live files
    if table_format == "delta":
        ih.assert_delta_tables_as_delta_rs_reads_them(
            spark, full_run, settings, make_frame, assert_frames_equal
        )
        ih.assert_manifests_current(settings)


def test_a_first_delta_run_that_died_before_its_first_events_commit_is_completed_by_the_next(
    spark: SparkSession,
    full_run: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_frame: Callable[..., DataFrame],
    assert_frames_equal: Callable[..., None],
) -> None:
    lake = tmp_path / "lake"
    _first_batch(lake)
    settings = ih.lake_settings(lake, [*OVERRIDES, "table_format=delta"])
    # GIVEN the lake's first run died while writing events: data files in dt folders, no Delta
    # log yet (the table was never committed)
    with monkeypatch.context() as patch:
        CRASHES["uncommitted_events_files"](patch)
        with pytest.raises(SimulatedCrash):
            run_pipeline(settings, spark=spark, echo=ih.quiet)
    events_dir = Path(settings.path(EVENTS.location))
    assert list(events_dir.rglob("*.parquet")) and not (events_dir / "_delta_log").exists()
    # WHEN the next run goes on normally, and the second batch arrives and runs
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    _second_batch(lake)
    run_pipeline(settings, spark=spark, echo=ih.quiet)
    # THEN every table equals the full run's, as Spark and delta-rs read them
    ih.assert_same_tables(spark, full_run, settings, assert_frames_equal)
    ih.assert_delta_tables_as_delta_rs_reads_them(
        spark, full_run, settings, make_frame, assert_frames_equal
    )
