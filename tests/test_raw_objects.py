"""Raw zone listing: exact size and mtime, sorted, hidden names skipped; arrival time of a name."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import SparkSession

from clickstream.raw_objects import (
    LocalLister,
    RawObject,
    find_raw_objects,
    hour_of,
    ingested_at_of,
    list_raw_objects,
    walk,
)

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


class CountingLister(LocalLister):
    """The local lister, recording the folders it lists (one folder listing is one call)."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.listed: list[str] = []

    def folder(self, relative: str) -> tuple[list[str], list[tuple[str, int, int]]]:
        self.listed.append(relative)
        return super().folder(relative)


def test_listing_from_an_hour_lists_only_the_hour_folders_from_that_hour_on(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN a year of history in hour folders, and objects outside the hour layout
    root = tmp_path / "raw"
    for hour in ("2025/01/01/00", "2025/12/31/23", "2026/02/28/23", "2026/03/01/09"):
        _write(root / hour / "old", b"x", 1_000)
    for hour in ("2026/03/01/10", "2026/03/01/23", "2026/03/02/00", "2027/01/01/00"):
        _write(root / hour / "new", b"x", 2_000)
    _write(root / "2026/03/01/10/late/nested", b"x", 3_000)
    _write(root / "manual-upload", b"x", 4_000)
    _write(root / "2026/backfill/obj", b"x", 5_000)

    # WHEN it is listed from 2026/03/01/10
    objects = list_raw_objects(spark, str(root), from_hour="2026/03/01/10")
    lister = CountingLister(str(root))
    walked = sorted(path for path, _, _ in walk(lister, "2026/03/01/10"))

    # THEN only the objects from that hour on and those outside the layout are there
    expected = [
        "2026/03/01/10/late/nested",
        "2026/03/01/10/new",
        "2026/03/01/23/new",
        "2026/03/02/00/new",
        "2026/backfill/obj",
        "2027/01/01/00/new",
        "manual-upload",
    ]
    assert [o.path.removeprefix(f"file:{root}/") for o in objects] == expected
    assert walked == expected
    # AND no folder of an earlier year, month, day or hour was listed
    assert not [f for f in lister.listed if f and f < "2026/03/01/10"[: len(f)]]
    assert "2025" not in lister.listed and "2026/02" not in lister.listed


def test_an_hour_of_a_path_follows_the_firehose_layout() -> None:
    # GIVEN / WHEN / THEN a path under an hour folder has that hour; others have none
    assert hour_of(f"2026/03/01/10/{NAME}") == "2026/03/01/10"
    assert hour_of("2026/03/01/10/sub/obj") == "2026/03/01/10"
    assert hour_of("2026/03/01/obj") is None
    assert hour_of("2026/backfill/01/02/obj") is None
    assert hour_of("manual-upload") is None


def test_finding_objects_lists_only_their_folders_and_skips_the_missing(
    spark: SparkSession, tmp_path: Path
) -> None:
    # GIVEN two objects in different hours
    root = tmp_path / "raw"
    _write(root / "2025/01/01/00" / "a", b"abc", 1_000)
    _write(root / "2026/03/01/10" / "b", b"x", 2_000)

    # WHEN they and a missing one are looked up by path
    found = find_raw_objects(
        spark,
        str(root),
        [f"file:{root}/2025/01/01/00/a", f"file:{root}/2026/03/01/10/gone"],
    )

    # THEN the existing one comes back with its size and mtime, the missing one does not
    assert found == {
        f"file:{root}/2025/01/01/00/a": RawObject(f"file:{root}/2025/01/01/00/a", 3, 1_000)
    }
