"""The bench's "hourly on a full day" scenario: the same small hourly batch on days of different
sizes, to show that an hourly run costs what arrived, not what the day holds.

Per day size (events): a day of ``events`` events over USERS users in 96 objects (one every 15
minutes, each event in the 15 minutes before its object's arrival), a full run over it (setup),
then one object of HOURLY_EVENTS events of existing users late on that day (23:50-23:59),
arriving two minutes after midnight, and the hourly run on it; each run in a fresh process.
Reported per size: the hourly run's seconds, the event rows it wrote (new rows, and stored rows
written again), the stored rows it changed, the files it replaced and the files it wrote.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from clickstream_tools.bench.history import (
    EVENT_TYPES,
    NEXT_HOUR,
    TITLES,
    _write_object,
    _write_titles,
)
from clickstream_tools.bench.raw_zone import fresh_lake
from clickstream_tools.bench.scenarios import _cached, _row, _status, pipeline_child, ratio

USERS = 20_000
OBJECTS = 96
HOURLY_EVENTS = 120
DAY = NEXT_HOUR - timedelta(days=1)
EVENTS_FOLDER = Path("curated") / "events"


def _line(event_id: str, user: int, at: Any, rng: random.Random) -> str:
    return json.dumps(
        {
            "event_id": event_id,
            "user_id": f"u{user:06d}",
            "event_type": rng.choice(EVENT_TYPES),
            "event_time": f"{at:%Y-%m-%dT%H:%M:%S}.{rng.randrange(1000):03d}Z",
            "title_id": f"t{rng.randrange(TITLES)}",
        },
        separators=(",", ":"),
    )


def day_lake(lake: Path, events: int, seed: int = 23) -> int:
    """A day of `events` events of USERS users in OBJECTS objects; events written."""
    shutil.rmtree(lake, ignore_errors=True)
    _write_titles(lake)
    rng = random.Random(seed)
    step = 86_400 // OBJECTS
    base, extra = divmod(events, OBJECTS)
    n = 0
    for i in range(OBJECTS):
        arrival = DAY + timedelta(seconds=(i + 1) * step - 1)
        lines = []
        for _ in range(base + (i < extra)):
            n += 1
            at = arrival - timedelta(seconds=rng.randrange(0, step))
            lines.append(_line(f"d{n:09d}", rng.randrange(USERS), at, rng))
        _write_object(lake, arrival, lines, rng)
    return n


def hourly_object(lake: Path, seed: int = 29) -> int:
    """HOURLY_EVENTS events of existing users at 23:50-23:59 of the day, in one object arriving
    at 00:02 the next day; events written."""
    rng = random.Random(seed)
    late = NEXT_HOUR - timedelta(minutes=10)
    lines = [
        _line(
            f"late{i:06d}", rng.randrange(USERS), late + timedelta(seconds=rng.randrange(600)), rng
        )
        for i in range(HOURLY_EVENTS)
    ]
    _write_object(lake, NEXT_HOUR + timedelta(minutes=2), lines, rng)
    return len(lines)


def _event_files(lake: Path) -> set[str]:
    """The events table's data files (Parquet folders: every file is live)."""
    return {str(p.relative_to(lake)) for p in (lake / EVENTS_FOLDER).glob("dt=*/*.parquet")}


def run_full_day(
    out: Path,
    sizes: Sequence[int],
    overrides: Sequence[str],
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Per day size: the full run, then the hourly run and what it wrote."""
    found: dict[str, Any] = {"users": USERS, "hourly_events": HOURLY_EVENTS, "sizes": {}}
    for events in sizes:
        source = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
        base = _cached(
            out / f"full-day-{events}",
            {"events": events, "users": USERS, "objects": OBJECTS, "source": source},
            lambda root, n=events: day_lake(root, n),
        )
        work = out / "work" / f"full-day-{events}"
        lake = work / "lake"
        fresh_lake(base, lake)
        runs: dict[str, Any] = {}
        echo(f"[a day of {events:,} events: full run] running ...")
        m = pipeline_child(f"full-day-{events}-full", lake, work, overrides)
        runs["full"] = _row(m)
        echo(f"  {_status(m)}")
        before = _event_files(lake)
        hourly_object(lake)
        echo(f"[a day of {events:,} events: hourly run of {HOURLY_EVENTS} events] running ...")
        m = pipeline_child(f"full-day-{events}-hourly", lake, work, overrides)
        curate = (m.result.get("job_metrics") or {}).get("curate_events", {}) if m.ok else {}
        after = _event_files(lake)
        runs["hourly"] = {
            **_row(m),
            "curated": curate.get("curated"),
            "event_rows_written": curate.get("event_rows_written"),
            "event_rows_changed": curate.get("event_rows_changed"),
            "event_files_replaced": curate.get("event_files_replaced"),
            "event_files_written": len(after - before) if m.ok else None,
        }
        echo(f"  {_status(m)}")
        found["sizes"][str(events)] = runs
    return found


def full_day_targets(found: dict[str, Any] | None) -> list[tuple[str, float | None, str]]:
    """Issue 26's targets: the hourly run on the largest day against the smallest, and the rows
    it wrote against the new and changed rows and against the day."""
    if not found or not found["sizes"]:
        return []
    sizes = sorted(found["sizes"], key=int)
    small, big = found["sizes"][sizes[0]]["hourly"], found["sizes"][sizes[-1]]["hourly"]
    rows: list[tuple[str, float | None, str]] = []
    if len(sizes) >= 2:
        rows.append(
            (
                f"hourly run, day of {int(sizes[-1]):,} / {int(sizes[0]):,} events",
                ratio(big["seconds"], small["seconds"]),
                "<= 1.15",
            )
        )
    written, changed = big.get("event_rows_written"), big.get("event_rows_changed")
    if written is not None and changed is not None:
        rows.append(
            (
                f"  rows written / (new + changed), {int(sizes[-1]):,}",
                ratio(written, HOURLY_EVENTS + changed),
                "<= 2",
            )
        )
        rows.append(
            (
                f"  rows written / the day's rows, {int(sizes[-1]):,}",
                ratio(written * 100, int(sizes[-1])),
                "<= 1 (%)",
            )
        )
    return rows


def render_full_day(found: dict[str, Any] | None) -> str:
    """The scenario's runs: seconds, and what the hourly run wrote."""
    if not found or not found["sizes"]:
        return ""
    header = (
        f"{'hourly on a full day':<34}{'seconds':>9}{'curated':>9}{'rows written':>14}"
        f"{'changed':>9}{'files replaced':>16}{'files written':>15}"
    )
    lines = [header, "-" * len(header)]
    for size, runs in sorted(found["sizes"].items(), key=lambda kv: int(kv[0])):
        full, hourly = runs["full"], runs["hourly"]
        shown = f"{full['seconds']:.1f}" if full["ok"] else "FAILED"
        lines.append(f"{f'day of {int(size):,}: full run':<34}{shown:>9}")
        if not hourly["ok"]:
            lines.append(f"{f'day of {int(size):,}: hourly run':<34}  FAILED: {hourly['error']}")
            continue
        cells = [
            hourly.get(k)
            for k in (
                "curated",
                "event_rows_written",
                "event_rows_changed",
                "event_files_replaced",
                "event_files_written",
            )
        ]
        widths = (9, 14, 9, 16, 15)
        lines.append(
            f"{f'day of {int(size):,}: hourly run':<34}{hourly['seconds']:>9.1f}"
            + "".join(
                f"{'-' if v is None else f'{v:,}':>{w}}" for v, w in zip(cells, widths, strict=True)
            )
        )
    return "\n".join(lines)
