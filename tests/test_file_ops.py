"""Parquet files added and replaced through an intent record: exact after a crash at any step."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from clickstream import file_ops
from clickstream.file_ops import FILE_OPS, complete_pending, files_of, replace_files

SCHEMA = "event_id string, dt string"


def table(spark: SparkSession, path: Path) -> DataFrame:
    return spark.read.schema(SCHEMA).option("basePath", str(path)).parquet(str(path))


def seed(spark: SparkSession, path: Path) -> list[str]:
    """A table of two dates, one file each; its files."""
    rows = spark.createDataFrame([("a", "d1"), ("b", "d1"), ("c", "d2")], SCHEMA)
    rows.coalesce(1).write.partitionBy("dt").parquet(str(path))
    return files_of(rows.sparkSession, str(path), ["dt=d1", "dt=d2"])


def test_added_rows_land_in_their_dates_and_replaced_files_go(
    spark: SparkSession, tmp_path: Path, assert_frames_equal: Callable[..., None]
) -> None:
    lake, path = tmp_path, tmp_path / "t"
    old = seed(spark, path)
    d1 = [f for f in old if "dt=d1" in f]
    # GIVEN the file of d1 (a, b) replaced by (a, b2), and a new row on d3
    new = spark.createDataFrame([("a", "d1"), ("b2", "d1"), ("e", "d3")], SCHEMA)
    # WHEN the operation runs
    done = replace_files(spark, str(lake), str(path), new, "dt", remove=d1, op_id="op1")
    # THEN the table holds d2's old row and the new rows; new files start with the op id
    expected = spark.createDataFrame([("a", "d1"), ("b2", "d1"), ("c", "d2"), ("e", "d3")], SCHEMA)
    assert_frames_equal(table(spark, path), expected)
    assert all(f.rsplit("/", 1)[1].startswith("op1-") for f in done.added)
    assert not any((lake / "_state" / "file_ops").glob("*.json"))
    assert not (path / "_staging").exists() or not any((path / "_staging").iterdir())


@pytest.mark.parametrize("moved", [0, 1, 2])
@pytest.mark.parametrize("removed", [False, True])
def test_an_operation_a_crash_interrupted_is_rolled_forward_exactly_once(
    spark: SparkSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    moved: int,
    removed: bool,
    assert_frames_equal: Callable[..., None],
) -> None:
    lake, path = tmp_path, tmp_path / "t"
    old = seed(spark, path)
    d1 = [f for f in old if "dt=d1" in f]
    new = spark.createDataFrame([("a", "d1"), ("b2", "d1"), ("e", "d3")], SCHEMA)

    def crash(*_: object) -> None:
        raise SystemExit("killed")

    monkeypatch.setattr(file_ops, "_finish", crash)
    # GIVEN an operation killed right after its intent was written
    with pytest.raises(SystemExit):
        replace_files(spark, str(lake), str(path), new, "dt", remove=d1, op_id="op1")
    monkeypatch.undo()
    intent = json.loads((lake / FILE_OPS / "op1.json").read_text())
    # AND it had moved some of its files, and perhaps deleted the replaced ones, before dying
    for source, target in intent["moves"][:moved]:
        Path(target.removeprefix("file:")).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source.removeprefix("file:"), target.removeprefix("file:"))
    if removed:
        for gone in intent["remove"]:
            Path(gone.removeprefix("file:")).unlink()
    # WHEN the next writer completes pending operations (twice: idempotent)
    assert complete_pending(spark, str(lake)) == ["op1"]
    assert complete_pending(spark, str(lake)) == []
    # THEN every new row is there once and every replaced row is gone
    expected = spark.createDataFrame([("a", "d1"), ("b2", "d1"), ("c", "d2"), ("e", "d3")], SCHEMA)
    assert_frames_equal(table(spark, path), expected)


def test_a_staging_folder_without_intent_is_cleaned_and_never_read(
    spark: SparkSession, tmp_path: Path, assert_frames_equal: Callable[..., None]
) -> None:
    lake, path = tmp_path, tmp_path / "t"
    seed(spark, path)
    # GIVEN an operation that died while Spark wrote its staging folder (no intent yet)
    dead = spark.createDataFrame([("zombie", "d1")], SCHEMA)
    dead.write.partitionBy("dt").parquet(str(path / "_staging" / "op0"))
    # THEN readers do not see it
    before = spark.createDataFrame([("a", "d1"), ("b", "d1"), ("c", "d2")], SCHEMA)
    assert_frames_equal(table(spark, path), before)
    # WHEN the next operation on the table runs THEN the dead staging folder is gone
    replace_files(spark, str(lake), str(path), spark.createDataFrame([], SCHEMA), "dt")
    assert not (path / "_staging" / "op0").exists()
    assert_frames_equal(table(spark, path), before)
