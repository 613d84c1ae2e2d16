"""The query-engine tier's fixture: two lakes on moto servers of their own and one Trino server.

Trino's catalogs, one per way the lake is read on AWS:
- `athena`: the Hive connector with Athena's partition projection, over the Parquet lake;
- `spectrum`: the Hive connector with the registered Glue partitions only (as Redshift Spectrum
  and EMR read them), over the Parquet lake;
- `delta`: the Delta Lake connector (Athena engine v3 reads Delta natively), over the Delta lake;
- `delta_athena`: the Hive connector with projection over the Delta lake, redirecting its Delta
  tables to `delta`: one catalog reading both kinds of table, as Athena does;
- `delta_spectrum`: the Hive connector with registered partitions over the Delta lake: the
  `<table>_manifest` symlink tables Spectrum reads, and the Parquet `titles` tables.

Without Trino (`make trino`) or a JDK >= 24 the tier skips, naming what is missing; with CI=true
it fails instead, so CI never skips it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from tests.moto_server import running_moto_server
from tests.trino.lake import Lake, build_lake, make_sample
from tests.trino.server import (
    TrinoServer,
    delta_catalog,
    hive_catalog,
    missing_requirement,
)

FORMATS = ("parquet", "delta")


@dataclass
class Tier:
    """The running server, the two lakes, and what the set-up cost."""

    trino: TrinoServer
    lakes: dict[str, Lake]
    seconds: dict[str, float]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tier's module first: with `-n 2 --dist loadfile` one worker takes its minutes while
    the other works through the rest, instead of the suite waiting for it at the end."""
    tier = [
        i for i in items if i.path.parent == Path(__file__).parent and i.get_closest_marker("slow")
    ]
    items[:] = tier + [i for i in items if i not in tier]


def require_trino() -> None:
    """Skip (fail with CI=true) when Trino or its JDK is missing, naming what to install."""
    reason = missing_requirement()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def tier(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tier]:
    """Start Trino while the two lakes are written, then yield both; stop everything after."""
    require_trino()
    seconds: dict[str, float] = {}
    with ExitStack() as stack:
        logs = tmp_path_factory.mktemp("tier-logs")
        endpoints = {
            f: stack.enter_context(running_moto_server(logs / f"moto-{f}.log")) for f in FORMATS
        }
        trino = TrinoServer(
            tmp_path_factory.mktemp("trino"),
            {
                "athena": hive_catalog(endpoints["parquet"], projection=True),
                "spectrum": hive_catalog(endpoints["parquet"], projection=False),
                "delta": delta_catalog(endpoints["delta"]),
                # Athena's one view of a Delta lake: Hive tables (titles, raw) and, redirected
                # to the Delta Lake connector, the Delta tables.
                "delta_athena": hive_catalog(
                    endpoints["delta"], projection=True, **{"hive.delta-lake-catalog-name": "delta"}
                ),
                "delta_spectrum": hive_catalog(endpoints["delta"], projection=False),
            },
        )
        trino.start()
        stack.callback(trino.stop)
        # Timed on its own (it starts while the lakes are written): see Tier.seconds.
        threading.Thread(target=trino.wait_ready, daemon=True).start()
        started = time.monotonic()
        sample = make_sample(tmp_path_factory.mktemp("tier-sample"))
        lakes = {}
        for table_format in FORMATS:
            began = time.monotonic()
            lakes[table_format] = build_lake(
                spark,
                table_format,
                endpoints[table_format],
                sample,
                tmp_path_factory.mktemp(f"aws-{table_format}"),
            )
            seconds[f"lake_{table_format}"] = time.monotonic() - began
        seconds["trino_start"] = trino.wait_ready()  # from start() to accepting queries
        seconds["setup"] = time.monotonic() - started
        yield Tier(trino, lakes, seconds)
