"""A Python worker's memory stays bounded whatever the raw object (README: Limits)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clickstream_tools.bench.reader_memory import measure

# The bound the README states for a worker at the default limits: the interpreter with NumPy,
# PyArrow and PySpark (~120 MiB), the raw bytes of its input batch, and ~150 MiB for parsing.
PARSING_MIB = 150
HEADROOM_MIB = 60


@pytest.mark.slow
def test_peak_memory_of_parsing_hostile_objects_stays_under_the_documented_bound(
    tmp_path: Path,
) -> None:
    # GIVEN the worker's own footprint, measured on a tiny object in a fresh process
    baseline = measure("baseline", tmp_path)["peak_mib"]
    # WHEN each hostile object is parsed in a fresh process, as a Spark worker would
    kinds = ("object_128mib", "gzip_bomb_1gib", "value_30mb", "line_200mb", "deep_5000")
    results = {kind: measure(kind, tmp_path) for kind in (*kinds, "dense_records")}
    # THEN every record is accounted for, with the reason the object's case calls for ...
    records = {kind: result["records"] for kind, result in results.items()}
    assert records == {
        "object_128mib": {"None": 1427840},
        "gzip_bomb_1gib": {"record_too_large": 1},
        "value_30mb": {"record_too_large": 1, "None": 10},
        "line_200mb": {"record_too_large": 1},
        "deep_5000": {"not_json": 1, "None": 10},
        "dense_records": {"not_an_object": 64},
    }
    # ... and the peak stays under the bound: its input's bytes (inline objects come whole in
    # the batch, here twice: read, then in Arrow) plus what parsing may take
    for kind, result in results.items():
        held = 2 * result["object_bytes"] / 2**20 if result["inline"] else 0
        bound = baseline + held + PARSING_MIB + HEADROOM_MIB
        assert result["peak_mib"] < bound, (kind, result, bound)
