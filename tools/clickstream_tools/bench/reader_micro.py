"""Micro-benchmark of the Firehose reader's Python side: parse_objects over a raw zone, no Spark.

The objects are packed into Arrow batches (path, modificationTime, content) of at most
``--batch-mib`` each, as the binaryFile source hands them to ``mapInArrow``, and parsed in this
process; the best and median of ``--repeat`` passes are reported. This machine is noisy: compare
variants measured in one run, passes interleaved (``--baseline REV`` adds the reader of a git
revision, ``--variants`` the reader with one of its tricks undone).

    python -m clickstream_tools.bench.reader_micro --raw /tmp/s/raw/clickstream --baseline main
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa

from clickstream import firehose_reader

Parse = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]
_SCHEMA = pa.schema(
    [("path", pa.string()), ("modificationTime", pa.timestamp("us")), ("content", pa.binary())]
)


def load_batches(raw: Path, batch_mib: int, pattern: str = "*") -> list[pa.RecordBatch]:
    """The files under raw matching pattern as binaryFile rows, in batches of at most batch_mib."""
    batches, rows, size = [], [], 0
    for path in sorted(p for p in raw.rglob(pattern) if p.is_file()):
        data = path.read_bytes()
        if rows and size + len(data) > batch_mib << 20:
            batches.append(_batch(rows))
            rows, size = [], 0
        rows.append((f"file:{path}", int(path.stat().st_mtime * 1e6), data))
        size += len(data)
    if rows:
        batches.append(_batch(rows))
    return batches


def _batch(rows: list[tuple[str, int, bytes]]) -> pa.RecordBatch:
    """One binaryFile-shaped Arrow batch of (path, mtime µs, content) rows."""
    columns = [pa.array([r[i] for r in rows], _SCHEMA.field(i).type) for i in range(3)]
    return pa.RecordBatch.from_arrays(columns, schema=_SCHEMA)


def module_at(revision: str) -> ModuleType:
    """clickstream.firehose_reader as it is at a git revision, imported under another name."""
    source = subprocess.run(
        ["git", "show", f"{revision}:libs/clickstream/firehose_reader.py"],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(firehose_reader.__file__).parents[2],
    ).stdout
    path = Path(tempfile.mkdtemp()) / f"firehose_reader_{revision.replace('/', '_')}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_once(parse: Parse, batches: list[pa.RecordBatch]) -> tuple[float, int]:
    """(seconds, records) of one pass of parse over the batches."""
    gc.collect()
    start = time.perf_counter()
    records = sum(out.num_rows for out in parse(iter(batches)))
    return time.perf_counter() - start, records


def variants(names: list[str], baseline: str | None) -> dict[str, Parse]:
    """The parse functions to compare, by label."""
    found: dict[str, Parse] = {"current": firehose_reader.parse_objects}
    if baseline:
        found[f"at {baseline}"] = module_at(baseline).parse_objects
    for name in names:
        found[name] = _VARIANTS[name]()
    return found


def _with_gc() -> Parse:
    """The reader with the cyclic garbage collector left on while parsing."""

    def parse(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """parse_objects with the trick undone for its duration."""
        original = gc.disable
        gc.disable = lambda: None  # type: ignore[assignment]
        try:
            yield from firehose_reader.parse_objects(batches)
        finally:
            gc.disable = original  # type: ignore[assignment]

    return parse


def _public_encoder() -> Parse:
    """The reader with properties written by json.JSONEncoder.encode (public API)."""

    def parse(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """parse_objects with the trick undone for its duration."""
        original = firehose_reader._ENCODE_FAST
        firehose_reader._ENCODE_FAST = firehose_reader._ENCODE
        try:
            yield from firehose_reader.parse_objects(batches)
        finally:
            firehose_reader._ENCODE_FAST = original

    return parse


def _scalar_event_time() -> Parse:
    """The reader with event_time parsed per value by datetime (no vectorised calendar)."""
    from datetime import UTC, datetime, timedelta, timezone

    import numpy as np

    epoch, one_us = datetime(1970, 1, 1, tzinfo=UTC), timedelta(microseconds=1)
    pattern = re.compile(firehose_reader._EVENT_TIME_PATTERN[1:-1])
    low, high = firehose_reader.MIN_EVENT_TIME_US, firehose_reader.MAX_EVENT_TIME_US

    def micros(value: object) -> int | None:
        """event_time as epoch µs by datetime, one value at a time."""
        if type(value) is int:
            return value * 1000 if low <= value * 1000 <= high else None
        match = pattern.fullmatch(value) if type(value) is str else None
        if match is None:
            return None
        y, mo, d, h, mi, s, frac, zulu, sign, oh, om = match.groups()
        try:
            if int(om or 0) > 59:
                return None
            offset = timedelta(hours=int(oh or 0), minutes=int(om or 0))
            tz = UTC if zulu else timezone(-offset if sign == "-" else offset)
            ms = int((frac or "").ljust(3, "0")) * 1000
            at = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), ms, tzinfo=tz)
        except ValueError:
            return None
        us = (at - epoch) // one_us
        return us if low <= us <= high else None

    def vector(values: list[Any]) -> tuple[Any, Any]:
        """The vector rule's shape, computed value by value."""
        found = [micros(v) for v in values]
        ok = np.array([m is not None for m in found], dtype=bool)
        return np.array([m or 0 for m in found], dtype=np.int64), ok

    def parse(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """parse_objects with the trick undone for its duration."""
        original = firehose_reader._vector_event_time
        firehose_reader._vector_event_time = vector  # type: ignore[assignment]
        try:
            yield from firehose_reader.parse_objects(batches)
        finally:
            firehose_reader._vector_event_time = original

    return parse


_VARIANTS: dict[str, Callable[[], Parse]] = {
    "gc_on": _with_gc,
    "public_encoder": _public_encoder,
    "scalar_event_time": _scalar_event_time,
}


def main(argv: list[str] | None = None) -> int:
    """Time each variant over the same batches, passes interleaved; print a table and JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", required=True, type=Path, help="raw zone folder")
    parser.add_argument("--batch-mib", type=int, default=32)
    parser.add_argument("--pattern", default="*", help="only the objects matching (e.g. *.gz)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline", help="a git revision whose reader runs beside")
    parser.add_argument("--variants", nargs="*", default=[], choices=sorted(_VARIANTS))
    args = parser.parse_args(argv)
    batches = load_batches(args.raw, args.batch_mib, args.pattern)
    size = sum(b.column("content").nbytes for b in batches)
    parsers = variants(args.variants, args.baseline)
    times: dict[str, list[float]] = {name: [] for name in parsers}
    records: dict[str, int] = {}
    for _ in range(args.repeat):
        for name, parse in parsers.items():
            seconds, records[name] = run_once(parse, batches)
            times[name].append(seconds)
    first = min(times["current"])
    print(f"{len(batches)} batches, {size / 2**20:.1f} MiB of objects, {args.repeat} passes")
    print(f"{'variant':<22} {'records':>9} {'best s':>8} {'median s':>9} {'best/current':>13}")
    for name, found in times.items():
        best = min(found)
        print(
            f"{name:<22} {records[name]:>9} {best:>8.3f} {statistics.median(found):>9.3f} "
            f"{best / first:>13.3f}"
        )
    summary = {n: {"best": min(t), "median": statistics.median(t)} for n, t in times.items()}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
