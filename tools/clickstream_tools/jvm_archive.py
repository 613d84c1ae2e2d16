"""Build the JVM class archive local sessions map (clickstream.jvm_archive): ``make install``.

The archive is dumped by a child JVM that runs a small pipeline on a generated sample lake, so it
holds the classes local runs and the tests load. Build or rebuild:
``python -m clickstream_tools.jvm_archive [--force]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from clickstream.jvm_archive import DUMP_ENV, archive_path


def _workload(lake: Path) -> None:
    """A small pipeline run with the catalog: loads what local runs and the tests load."""
    from clickstream.config import load_settings
    from clickstream.pipeline.runner import run_pipeline
    from clickstream.spark import get_spark
    from clickstream_tools.sample import generate_sample

    generate_sample(lake, events=3_000, users=50, days=2)
    settings = load_settings("local", [f"lake_root={lake}", "repeat_window_seconds=2"])
    spark = get_spark(settings, app_name="clickstream-jvm-archive")
    run_pipeline(settings, spark=spark, echo=lambda _: None)
    jvm = spark.sparkContext._gateway.proc  # type: ignore[union-attr]
    spark.stop()
    # The JVM writes the archive while it exits: close its stdin (it exits) and wait for it.
    jvm.stdin.close()
    jvm.wait(timeout=300)


def build(path: Path, *, force: bool = False) -> bool:
    """Dump the archive to path (in a child JVM that runs _workload); False if it already exists."""
    if path.is_file() and not force:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with tempfile.TemporaryDirectory(prefix="clickstream-jvm-archive-") as tmp:
        env = {**os.environ, DUMP_ENV: str(partial)}
        # The child JVM writes the archive when it exits, after the workload.
        child = subprocess.run(
            [sys.executable, "-m", "clickstream_tools.jvm_archive", "--workload", tmp],
            env=env,
            capture_output=True,
            text=True,
        )
    if child.returncode != 0:
        raise RuntimeError(f"the archive workload failed:\n{child.stderr[-3000:]}")
    if not partial.is_file():
        raise RuntimeError(f"the JVM did not write {partial}; is the JDK 13 or newer?")
    partial.replace(path)
    return True


def main(argv: list[str] | None = None) -> int:
    """Build the archive unless it exists (--force rebuilds it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--force", action="store_true", help="rebuild an existing archive")
    parser.add_argument("--workload", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.workload:
        _workload(Path(args.workload))
        return 0
    path = archive_path()
    t = time.perf_counter()
    if build(path, force=args.force):
        size = path.stat().st_size / 2**20
        print(f"JVM class archive: {path} ({size:.0f} MiB, {time.perf_counter() - t:.1f}s)")
    else:
        print(f"JVM class archive: {path} (exists; --force rebuilds it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
