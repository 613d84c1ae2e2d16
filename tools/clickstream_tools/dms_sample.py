"""Sample AWS DMS target files for the titles table: a full load, then CDC files (some gzip).

Written by the sample generator next to ref/titles/titles.csv, so the demo and the tests can run
with titles_source=dms. Every CDC file is dated inside the sample's event days: the renames and
deletes it carries land between events, and the pipeline must give each event the title of its
time.
"""

from __future__ import annotations

import csv
import gzip
import io
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

DMS_FOLDER = "ref/dms/public/titles"
HEADER = ("Op", "dms_commit_ts", "title_id", "title", "genre")


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")


def _render(rows: Sequence[Sequence[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def write_dms_sample(
    lake: Path, titles: Sequence[tuple[str, str, str]], *, start: date, days: int, seed: int
) -> int:
    """Write LOAD00000001.csv (one row per title_id, the day before start) and one CDC file per
    day (renames, a genre change, a delete, a U of a new key; every other file gzip). Returns the
    number of files."""
    rng = random.Random(seed)
    folder = lake / DMS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    unique: dict[str, tuple[str, str]] = {}
    for title_id, title, genre in titles:
        unique.setdefault(title_id, (title, genre))
    midnight = datetime(start.year, start.month, start.day, tzinfo=UTC)
    loaded = midnight - timedelta(days=1)
    load = [("I", _stamp(loaded), t, n, g) for t, (n, g) in unique.items()]
    (folder / "LOAD00000001.csv").write_bytes(_render(load))
    ids = sorted(unique)
    for day in range(days):
        at = midnight + timedelta(days=day, hours=12, seconds=rng.randrange(3600))
        rows: list[tuple[str, str, str, str, str]] = []
        for n, title_id in enumerate(rng.sample(ids, min(len(ids), 3))):
            title, genre = unique[title_id]
            tick = _stamp(at + timedelta(microseconds=n))
            if n == 0:
                rows.append(("U", tick, title_id, f"{title} (Director's Cut)", genre))
            elif n == 1:
                rows.append(("U", tick, title_id, title, "documentary"))
            else:
                rows.append(("D", tick, title_id, "", ""))
        new_id = f"t9{day:03d}"
        rows.append(("U", _stamp(at + timedelta(seconds=1)), new_id, f'New, "{day}"', "kids"))
        name = at.strftime("%Y%m%d-%H%M%S") + "0000.csv"
        data = _render(rows)
        if day % 2 == 1:
            name, data = f"{name}.gz", gzip.compress(data, mtime=0)
        (folder / name).write_bytes(data)
    return 1 + days
