"""Lakes with history for the bench: hourly Firehose deliveries, and the same events in few or
many objects.

An hourly lake holds ``objects`` raw objects delivered as Firehose does once the stream is busy:
``per_hour`` objects an hour (one every 2.5 minutes at 24), ``per_object`` newline-delimited
events each, every event inside its object's arrival hour, users drawn from a fixed pool so
sessions run across hours. ``next_hour`` writes the hour after the history: the hourly run's
input. Everything is deterministic per seed.
"""

from __future__ import annotations

import json
import random
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

STREAM = "clickstream"
RAW_PREFIX = "raw/clickstream"
TITLES = 50
EVENT_TYPES = ("view", "play", "pause", "search", "click")
# The hour after the history (the hourly run's hour) of every history lake.
NEXT_HOUR = datetime(2026, 6, 1, 0, tzinfo=UTC)


@dataclass(frozen=True)
class HourlyShape:
    """How a history lake is delivered: objects an hour, events an object, users in the pool."""

    per_hour: int = 24
    per_object: int = 5
    users: int = 400


def _write_titles(lake: Path) -> None:
    folder = lake / "ref" / "titles"
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["title_id,title,genre"] + [f"t{i},Title {i},genre{i % 7}" for i in range(TITLES)]
    (folder / "titles.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def _write_object(lake: Path, arrival: datetime, events: list[str], rng: random.Random) -> None:
    name = f"{STREAM}-1-{arrival:%Y-%m-%d-%H-%M-%S}-{uuid.UUID(int=rng.getrandbits(128))}"
    folder = lake / RAW_PREFIX / f"{arrival:%Y/%m/%d/%H}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join(events) + "\n", encoding="utf-8")


def _hour(
    lake: Path, hour: datetime, shape: HourlyShape, rng: random.Random, counter: list[int]
) -> int:
    """Write one hour's objects; the number of events written."""
    step = 3600 // shape.per_hour
    written = 0
    for i in range(shape.per_hour):
        arrival = hour + timedelta(seconds=i * step + step - 1)
        events = []
        for _ in range(shape.per_object):
            counter[0] += 1
            at = hour + timedelta(seconds=rng.randrange(0, i * step + step - 1))
            events.append(
                json.dumps(
                    {
                        "event_id": f"h{counter[0]:09d}",
                        "user_id": f"u{rng.randrange(shape.users):05d}",
                        "event_type": rng.choice(EVENT_TYPES),
                        "event_time": f"{at:%Y-%m-%dT%H:%M:%S}.{rng.randrange(1000):03d}Z",
                        "title_id": f"t{rng.randrange(TITLES)}",
                    },
                    separators=(",", ":"),
                )
            )
        _write_object(lake, arrival, events, rng)
        written += len(events)
    return written


def hourly_lake(lake: Path, objects: int, shape: HourlyShape, seed: int = 17) -> int:
    """A lake of about `objects` raw objects over the hours before NEXT_HOUR; events written."""
    shutil.rmtree(lake, ignore_errors=True)
    _write_titles(lake)
    hours = max(1, round(objects / shape.per_hour))
    rng, counter, written = random.Random(seed), [0], 0
    for h in range(hours, 0, -1):
        written += _hour(lake, NEXT_HOUR - timedelta(hours=h), shape, rng, counter)
    return written


def next_hour(lake: Path, shape: HourlyShape, seed: int = 18) -> int:
    """The hour after the history (NEXT_HOUR) delivered into lake; events written."""
    return _hour(lake, NEXT_HOUR, shape, random.Random(seed), [10**8])


def split_lake(lake: Path, events: int, objects: int, seed: int = 19) -> int:
    """`events` events delivered in `objects` objects (as evenly as possible) over one day."""
    shutil.rmtree(lake, ignore_errors=True)
    _write_titles(lake)
    rng = random.Random(seed)
    start = NEXT_HOUR - timedelta(days=1)
    counter = [0]
    base, extra = divmod(events, objects)
    for i in range(objects):
        arrival = start + timedelta(seconds=i * 86_400 // objects)
        lines = []
        for _ in range(base + (i < extra)):
            counter[0] += 1
            at = arrival - timedelta(seconds=rng.randrange(0, 600))
            lines.append(
                json.dumps(
                    {
                        "event_id": f"s{counter[0]:09d}",
                        "user_id": f"u{rng.randrange(max(1, events // 100)):06d}",
                        "event_type": rng.choice(EVENT_TYPES),
                        "event_time": f"{at:%Y-%m-%dT%H:%M:%S}.{rng.randrange(1000):03d}Z",
                        "title_id": f"t{rng.randrange(TITLES)}",
                    },
                    separators=(",", ":"),
                )
            )
        _write_object(lake, arrival, lines, rng)
    return counter[0]
