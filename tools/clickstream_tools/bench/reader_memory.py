"""Peak memory of the Firehose reader's Python worker on hostile objects, each in a fresh process.

Each kind of object is written to a folder, then a child process parses it with
``parse_objects`` as a Spark Python worker would (inline content for objects up to a read task,
a row without content, read from storage, for larger ones) and reports its peak resident set
(``VmHWM``, the high-water mark of its own address space: ``ru_maxrss`` would also count the
parent's, which Linux carries over exec), the records out by reason, and the seconds taken. ``baseline`` parses a tiny
object: the worker's own footprint (Python, NumPy, PyArrow, PySpark imported).

    python -m clickstream_tools.bench.reader_memory --dir /tmp/hostile [--kind deep_5000 ...]
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

NAME = "clickstream-1-2026-03-01-10-00-05-0f8fad5b-d9cb-469f-a165-70867728950e"
EVENT = '{"event_id": "e%08d", "user_id": "u1", "event_type": "view", "event_time": 1772359205000}'
MIB = 1 << 20


def _events(size: int) -> bytes:
    """Newline-delimited events filling size bytes."""
    line = (EVENT % 0 + "\n").encode()
    count = size // len(line)
    return b"".join((EVENT % i + "\n").encode() for i in range(count))


def _object_128mib(path: Path) -> bool:
    """128 MiB of newline-delimited events, on disk (read by path)."""
    with path.open("wb") as out:
        for _ in range(128):
            out.write(_events(MIB))
    return False  # larger than a read task: read by path


def _gzip_bomb_1gib(path: Path) -> bool:
    """1 GiB of zeros gzipped into ~1 MB (inline)."""
    bomb = zlib.compressobj(9, zlib.DEFLATED, 31)
    with path.open("wb") as out:
        zeros = bytes(64 * MIB)
        for _ in range(16):
            out.write(bomb.compress(zeros))
        out.write(bomb.flush())
    return True  # ~1 MB: inline


def _value_30mb(path: Path) -> bool:
    """One record holding a 30 MB string, then 10 events (inline)."""
    record = '{"event_id": "big", "user_id": "u1", "event_type": "view", "pad": "%s"}'
    path.write_bytes((record % ("x" * (30 * 1000 * 1000))).encode() + b"\n" + _events(1000))
    return True


def _line_200mb(path: Path) -> bool:
    """One 200 MB line: a record holding a 200 MB string (read by path)."""
    with path.open("wb") as out:
        out.write(b'{"event_id": "big", "user_id": "u1", "event_type": "view", "pad": "')
        for _ in range(200):
            out.write(b"x" * 1000 * 1000)
        out.write(b'"}')
    return False


def _deep_5000(path: Path) -> bool:
    """A record nested 5,000 deep, then 10 events (inline)."""
    deep = '{"event_id": "e", "user_id": "u", "event_type": "v", "d": ' + "[" * 5000
    path.write_bytes((deep + "]" * 5000 + "}\n").encode() + _events(1000))
    return True


def _dense_records(path: Path) -> bool:
    """Records just under the record limit made of empty objects: the most Python objects per
    byte of JSON (the worst case of a batch's parsed values)."""
    record = b"[" + b"{}," * (999 * 1024 // 3 - 1) + b"{}]\n"
    path.write_bytes(gzip.compress(record * 64, compresslevel=1))
    return True


def _baseline(path: Path) -> bool:
    """10 events: the worker's own footprint (inline)."""
    path.write_bytes(_events(1000))
    return True


KINDS: dict[str, Callable[[Path], bool]] = {
    "baseline": _baseline,
    "object_128mib": _object_128mib,
    "gzip_bomb_1gib": _gzip_bomb_1gib,
    "value_30mb": _value_30mb,
    "line_200mb": _line_200mb,
    "deep_5000": _deep_5000,
    "dense_records": _dense_records,
}


def write(kind: str, folder: Path) -> tuple[Path, bool]:
    """Write the kind's object (once) into folder: its path and whether it is read inline."""
    path = folder / kind / NAME
    marker = path.with_suffix(".inline")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(KINDS[kind](path)))
    return path, json.loads(marker.read_text())


def parse_in_this_process(path: Path, inline: bool) -> dict[str, Any]:
    """Parse one object as a Spark worker would; records by reason, seconds, peak RSS in MiB."""
    import pyarrow as pa

    from clickstream.firehose_reader import parse_objects

    start = time.perf_counter()
    content = path.read_bytes() if inline else None
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array([f"file:{path}"]),
            pa.array([0], pa.timestamp("us")),
            pa.array([content], pa.binary()),
        ],
        names=["path", "modificationTime", "content"],
    )
    del content
    reasons: Counter[str] = Counter()
    for out in parse_objects(iter([batch])):
        reasons.update(str(r) for r in out.column("reason").to_pylist())
    return {
        "records": dict(reasons),
        "seconds": round(time.perf_counter() - start, 2),
        "peak_mib": round(peak_rss_kib() / 1024, 1),
    }


def peak_rss_kib() -> int:
    """This process's peak resident set in KiB: VmHWM where Linux has it, else ru_maxrss."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))


def measure(kind: str, folder: Path) -> dict[str, Any]:
    """Parse the kind's object in a fresh child process: its result, with the object's size."""
    path, inline = write(kind, folder)
    child = subprocess.run(
        [sys.executable, "-m", __spec__.name if __spec__ else __name__, "--child", str(path)]
        + (["--inline"] if inline else []),
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(child.stdout)
    return {"kind": kind, "object_bytes": path.stat().st_size, "inline": inline, **result}


def main(argv: list[str] | None = None) -> int:
    """Measure the kinds asked for (all by default) and print one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="folder for the objects (kept between runs)")
    parser.add_argument("--kind", action="append", choices=sorted(KINDS))
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--inline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(parse_in_this_process(args.child, args.inline)))
        return 0
    if args.dir is None:
        parser.error("--dir is required")
    for kind in args.kind or list(KINDS):
        print(json.dumps(measure(kind, args.dir)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
