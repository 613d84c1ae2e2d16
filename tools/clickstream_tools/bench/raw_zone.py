"""The bench's raw zone: generated once per size with the sample generator, reused, copied fresh.

``<out>/lake-<events>/`` holds raw/ and ref/ and is reused while its parameters and the
generator's source are unchanged; each measurement gets a fresh copy (hard links).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from clickstream_tools import sample
from clickstream_tools.bench import MIB

DAYS = 4
EVENTS_PER_USER = 200
SEED = 7
START = date(2026, 3, 1)


def lake_params(events: int) -> dict[str, Any]:
    """Generator arguments for a bench of `events` unique events, plus the generator's hash."""
    source = Path(sample.__file__).read_bytes()
    return {
        "events": events,
        "users": max(1, events // EVENTS_PER_USER),
        "days": DAYS,
        "start": START.isoformat(),
        "seed": SEED,
        "generator_sha256": hashlib.sha256(source).hexdigest()[:16],
    }


@dataclass
class Lake:
    """A generated raw zone: where, with which parameters, what the generator reported."""

    root: Path
    params: dict[str, Any]
    report: dict[str, Any]
    generation_seconds: float
    reused: bool


def ensure_lake(out: Path, events: int, echo: Callable[[str], None] = print) -> Lake:
    """<out>/lake-<events>/ with raw/ and ref/: reused when params.json matches, else generated."""
    params = lake_params(events)
    root = out / f"lake-{events}"
    meta = root / "params.json"
    if meta.is_file():
        stored = json.loads(meta.read_text(encoding="utf-8"))
        if stored.get("params") == params:
            echo(f"reusing {root} (generated in {stored['generation_seconds']:.1f}s)")
            return Lake(root, params, stored["report"], stored["generation_seconds"], True)
    echo(f"generating {root}: {events:,} events, {params['users']:,} users, {DAYS} days")
    staging = out / f"lake-{events}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    t0 = time.perf_counter()
    report = sample.generate_sample(
        staging,
        events=events,
        users=params["users"],
        days=DAYS,
        start=START,
        seed=SEED,
    )
    seconds = round(time.perf_counter() - t0, 2)
    report_dict = {**asdict(report), "lake_root": str(root), "records": report.records}
    report_dict["valid_records"] = report.valid_records
    (staging / "params.json").write_text(
        json.dumps(
            {"params": params, "report": report_dict, "generation_seconds": seconds}, indent=2
        ),
        encoding="utf-8",
    )
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    echo(f"  {report.records:,} records in {report.objects:,} objects, {seconds:.1f}s")
    return Lake(root, params, report_dict, seconds, False)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def fresh_lake(source: Path, target: Path) -> None:
    """target/ = source's raw/ and ref/ only (hard links where possible); nothing else."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for part in ("raw", "ref"):
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, copy_function=_link_or_copy)


def warm_cache(root: Path) -> int:
    """Read every raw object once, so all measurements start from the same (warm) page cache."""
    total = 0
    for path in sorted((root / "raw").rglob("*")):
        if path.is_file():
            with path.open("rb") as f:
                while chunk := f.read(8 * MIB):
                    total += len(chunk)
    return total
