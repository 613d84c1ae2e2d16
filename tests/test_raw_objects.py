"""Raw zone listing: exact size and mtime, sorted, hidden names skipped; arrival time of a name."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import SparkSession

from clickstream.raw_objects import RawObject, ingested_at_of, list_raw_objects

NAME = "clickstream-1-2026-03-01-10-00-05-0f8fad5b-d9cb-469f-a165-70867728950e"


def _write(path: Path, content: bytes, modified_ms: int) -> None:
    """Write a file with an exact modification time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, ns=(modified_ms * 1_000_000, modified_ms * 1_000_000))


def test_lists_every_object_recursively_with_exact_size_and_mtime_sorted_by_path(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN objects in hour folders, written out of path order, with known mtimes
    root = tmp_path / "raw" / "clickstream"
    _write(root / "2026/03/02/00" / "b", b"12345", 1_772_409_600_123)
    _write(root / "2026/03/01/23" / "a.gz", b"", 1_772_406_000_999)
    _write(root / "2026/03/01/23" / NAME, b"{}", 1_772_406_001_000)

    # WHEN the raw zone is listed
    objects = list_raw_objects(spark, str(root))

    # THEN every object is there, by fully-qualified path, with its exact size and mtime
    assert objects == [
        RawObject(f"file:{root}/2026/03/01/23/a.gz", 0, 1_772_406_000_999),
        RawObject(f"file:{root}/2026/03/01/23/{NAME}", 2, 1_772_406_001_000),
        RawObject(f"file:{root}/2026/03/02/00/b", 5, 1_772_409_600_123),
    ]


def test_names_starting_with_underscore_or_dot_are_skipped_files_and_folders(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN hidden files and hidden folders beside a visible object
    root = tmp_path / "raw"
    for hidden in ("_SUCCESS", ".part.crc", "_temporary/0/x", ".staging/y", "2026/_tmp/z"):
        _write(root / hidden, b"x", 1_000)
    _write(root / "2026" / "visible", b"x", 2_000)

    # WHEN the raw zone is listed
    objects = list_raw_objects(spark, str(root))

    # THEN only the visible object is listed
    assert [o.path for o in objects] == [f"file:{root}/2026/visible"]


def test_a_root_under_a_hidden_folder_is_still_listed(spark: SparkSession, tmp_path: Path) -> None:
    # GIVEN a lake that itself lives under a folder named with a dot
    root = tmp_path / ".lake" / "raw"
    _write(root / "2026" / "obj", b"x", 1_000)

    # WHEN it is listed by a file: URI with a trailing slash
    objects = list_raw_objects(spark, f"file://{root}/")

    # THEN only names below the root count as hidden
    assert [o.path for o in objects] == [f"file:{root}/2026/obj"]


def test_a_missing_root_lists_nothing(spark: SparkSession, tmp_path: Path) -> None:
    # GIVEN / WHEN a root that does not exist is listed / THEN the listing is empty
    assert list_raw_objects(spark, str(tmp_path / "nothing-here")) == []


def test_ingested_at_is_the_utc_timestamp_in_a_firehose_name() -> None:
    # GIVEN Firehose names, plain and gzip, whose mtime says something else
    mtime = 1_900_000_000_000
    arrived = datetime(2026, 3, 1, 10, 0, 5, tzinfo=UTC)

    # WHEN / THEN the name wins over the modification time
    assert ingested_at_of(f"s3://lake/raw/{NAME}", mtime) == arrived
    assert ingested_at_of(f"file:/lake/raw/{NAME}.gz", mtime) == arrived
    assert ingested_at_of(f"my-stream-name-12-{NAME[14:]}", mtime) == arrived


def test_ingested_at_falls_back_to_mtime_when_the_name_has_no_valid_timestamp() -> None:
    # GIVEN names without a Firehose timestamp, or with an impossible one
    mtime = 1_772_359_200_123
    names = ("file:/lake/raw/part-0000.json", NAME.replace("03-01-10", "02-30-10"), "x-1-2026")

    # WHEN / THEN the modification time (to the millisecond) is the arrival time
    for name in names:
        assert ingested_at_of(name, mtime) == datetime(2026, 3, 1, 10, 0, 0, 123000, tzinfo=UTC)
