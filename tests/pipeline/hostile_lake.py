"""A raw zone with hostile copies: a copy of an event that names another user, or an event_time
days away (days back when named earlier, so every copy is a plausible time), delivered days
later; half of them in objects delivered late whose name timestamp is earlier than the
original's (so the hostile copy is the one a full run keeps)."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pyspark.sql import SparkSession

from clickstream.firehose_reader import read_firehose, split_valid
from clickstream.raw_objects import list_raw_objects
from clickstream.transforms import dedup_events
from tests.pipeline import incremental_helpers as ih

# Kinds of hostile copy: which field differs, and whether the copy's object is named earlier
# than the original's (a late-delivered object) or later (an ordinary re-delivery).
KINDS = (
    ("other_user", "later"),
    ("days_away", "later"),
    ("other_user", "earlier"),
    ("days_away", "earlier"),
)


@dataclass(frozen=True)
class HostileCopy:
    """One hostile copy: the event it copies, how it differs, and whether it is the earlier."""

    event_id: str
    field: str
    named: str
    user_id: str
    event_time: datetime


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _object(lake: Path, arrival: datetime, named: datetime, key: int, line: str) -> None:
    folder = lake / "raw" / "clickstream" / arrival.strftime("%Y/%m/%d/%H")
    folder.mkdir(parents=True, exist_ok=True)
    name = f"clickstream-1-{named:%Y-%m-%d-%H-%M-%S}-{key:08x}-0000-4000-8000-{key:012x}"
    (folder / name).write_text(line + "\n", encoding="utf-8")


def build_hostile_lake(
    spark: SparkSession, sample: Path, lake: Path, *, per_mille: int = 30
) -> list[HostileCopy]:
    """Copy the sample's raw zone and titles into lake, then add a hostile copy of about
    per_mille/1000 of its valid events, each in its own object delivered 1-3 days later."""
    ih.copy_reference(sample, lake)
    ih.copy_objects(ih.raw_objects(sample), sample, lake)
    objects = list_raw_objects(spark, str(lake / "raw" / "clickstream"))
    valid, _ = split_valid(read_firehose(spark, objects))
    rows = dedup_events(valid).orderBy("event_id").collect()  # the copy a full run keeps
    users = sorted({r["user_id"] for r in rows})
    copies = []
    for row in rows:
        digest = zlib.crc32(row["event_id"].encode())
        if digest % 1000 >= per_mille:
            continue
        field, named = KINDS[len(copies) % len(KINDS)]
        days = 1 + digest % 3
        user, at = row["user_id"], row["event_time"].replace(tzinfo=UTC)
        if field == "other_user":
            user = users[(users.index(user) + 1 + digest % 7) % len(users)]
        elif named == "earlier":
            # Days back: days ahead of an arrival named before the original's would be an
            # implausible time (event_time_in_future), not a hostile copy.
            at = at - timedelta(days=days)
        else:
            at = at + timedelta(days=days if digest % 2 else -days)
        ingested = row["ingested_at"].replace(tzinfo=UTC)
        arrival = ingested + timedelta(days=days, minutes=7)
        name_time = ingested + (timedelta(days=days) if named == "later" else -timedelta(hours=1))
        record = {
            "event_id": row["event_id"],
            "user_id": user,
            "event_type": row["event_type"],
            "event_time": _stamp(at),
            "title_id": row["title_id"],
        }
        _object(lake, arrival, name_time, digest, json.dumps(record))
        copies.append(HostileCopy(row["event_id"], field, named, user, at))
    return copies
