"""Raw objects that real producers and networks send, beside a clean lake: implausible times,
broken encodings, deep and huge values, a truncated gzip, a decompression bomb, strict-JSON
quirks and an object an operator set aside. Each object's records and what becomes of them."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

HOUR = "2026/03/01/13"
ARRIVED = "2026-03-01-13-{minute:02d}-00"
# max_object_mib for these tests: the bomb expands past it (the default, 1 GiB, would take
# seconds of decompression per run; the reader's own tests and reader_memory cover that size).
BOMB_LIMIT_MIB = 4
# Implausible instants: outside the default window around the object's arrival (2026-03-01).
FUTURE = {"h_y9999": "9999-12-31T23:59:59Z", "h_y2031": "2031-03-02T10:00:00Z"}
PAST = {"h_y0001": "0001-01-01T00:00:00Z", "h_y1500": "1500-06-15T00:00:00Z", "h_epoch0": 0}
# Their dates (UTC) when the bounds are off.
IMPLAUSIBLE_DTS = {"9999-12-31", "2031-03-02", "0001-01-01", "1500-06-15", "1970-01-01"}


def event(event_id: str, at: object = "2026-03-01T12:59:00Z", **fields: object) -> str:
    record = {"event_id": event_id, "user_id": "u9", "event_type": "view", "event_time": at}
    record.update(fields)
    return json.dumps(record)


@dataclass
class Hostile:
    """The hostile objects written, the valid event_ids they hold, the reasons they give (by
    object key), and the keys of objects to set aside."""

    paths: dict[str, Path] = field(default_factory=dict)
    valid: set[str] = field(default_factory=set)
    reasons: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def write_hostile(lake: Path) -> Hostile:
    """Write every hostile object under HOUR; what each must give."""
    out = Hostile()

    def put(key: str, minute: int, content: bytes, gz: bool = False) -> None:
        path = object_file(lake, HOUR, ARRIVED.format(minute=minute), minute, gz)
        path.write_bytes(content)
        out.paths[key] = path

    times = [event(i, at) for i, at in {**FUTURE, **PAST}.items()] + [event("h_ok1")]
    put("times", 1, "\n".join(times).encode())
    out.valid |= {"h_ok1"}
    out.reasons["times"] = {"event_time_in_future": 2, "event_time_too_old": 3}

    encodings = b"\n".join(
        [
            b'{"event_id":"x\xff\xfe","user_id":"u9","event_type":"view","event_time":"2026-03-01T12:00:00Z"}',
            b'{"event_id":"x\xfd\xfc","user_id":"u9","event_type":"view","event_time":"2026-03-01T12:00:01Z"}',
            b'{"event_id":"h_sur","user_id":"u\\ud800","event_type":"view","event_time":"2026-03-01T12:00:02Z"}',
            event("h_ok2", note="caf\xe9 \ufffd stays").encode(),
            b'{"event_id":"h_ok3","user_id":"u9","event_type":"view","event_time":"2026-03-01T12:00:03Z","ua":"bad \xc3\x28 byte"}',
        ]
    )
    put("encodings", 2, encodings)
    out.valid |= {"h_ok2", "h_ok3"}
    out.reasons["encodings"] = {"invalid_encoding": 3}

    deep = '{"event_id":"h_deep","user_id":"u9","event_type":"view","event_time":"2026-03-01T12:00:00Z","x":'
    deep += "[" * 5000 + "]" * 5000 + "}"
    put("deep", 3, f"{deep}\n{event('h_ok4')}\n".encode())
    out.valid |= {"h_ok4"}
    out.reasons["deep"] = {"not_json": 1}

    whole = gzip.compress("\n".join(event(f"h_tr{i}") for i in range(1, 4)).encode(), mtime=0)
    put("truncated", 4, whole[: len(whole) - 12], gz=True)  # the cut loses part of the last one
    out.valid |= {"h_tr1", "h_tr2"}
    out.reasons["truncated"] = {"truncated_object": 1}

    huge = event("h_huge", payload="x" * 2_000_000)
    put("huge", 5, f"{huge}\n{event('h_ok5')}\n".encode())
    out.valid |= {"h_ok5"}
    out.reasons["huge"] = {"record_too_large": 1}

    padding = b" \n" * (BOMB_LIMIT_MIB << 20)  # twice the limit, of whitespace
    bomb = event("h_bomb1").encode() + b"\n" + padding + event("h_bomb_lost").encode()
    put("bomb", 6, gzip.compress(bomb, mtime=0), gz=True)
    out.valid |= {"h_bomb1"}
    out.reasons["bomb"] = {"object_too_large": 1}

    quirks = "\n".join(
        [
            '{"event_id":"h_nan","user_id":"u9","event_type":"view","event_time":"2026-03-01T12:10:00Z","score":NaN,"big":1e400}',
            "\ufeff" + event("h_bom"),
            event("h_num", user_id=12345),
        ]
    )
    put("quirks", 7, quirks.encode())
    out.valid |= {"h_nan", "h_bom"}
    out.reasons["quirks"] = {"invalid_type": 1}

    put("skipped", 8, f"{event('h_skip1')}\n{event('h_skip2')}\n".encode())
    out.skipped.append("skipped")
    out.reasons["skipped"] = {"skipped_by_operator": 1}
    return out


def object_file(lake: Path, hour: str, stamp: str, n: int, gz: bool = False) -> Path:
    """raw/clickstream/<hour>/clickstream-1-<stamp>-<uuid n>[.gz], its folder made."""
    name = f"clickstream-1-{stamp}-{n:08x}-0000-4000-8000-{n:012x}" + (".gz" if gz else "")
    path = lake / "raw" / "clickstream" / hour / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def late_object(lake: Path) -> Path:
    """A second batch at the calendar's ends: events beside the stored year-9999 and year-0001
    ones (their sessions and dates are recomputed), and a re-delivered year-1500 event."""
    lines = [
        event("h_y9999b", "9999-12-31T23:59:59.500Z"),
        event("h_y0001b", "0001-01-01T00:00:00.500Z"),
        event("h_y1500", "1500-06-15T00:00:00Z"),
    ]
    path = object_file(lake, "2026/03/02/01", "2026-03-02-01-00-00", 99)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
