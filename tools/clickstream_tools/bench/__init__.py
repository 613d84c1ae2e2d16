"""Benchmarks: the local pipeline against a Spark scan baseline and a DuckDB reference."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


def emit_result(result: dict[str, Any], path: str | None) -> int:
    """Write a measurement child's result as JSON to path (stdout when none); exit code 0."""
    text = json.dumps(result, indent=2)
    if path:
        Path(path).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
    return 0
