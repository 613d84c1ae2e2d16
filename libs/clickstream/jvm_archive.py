"""A class-data-sharing (AppCDS) archive of the classes a local Spark run loads.

A local JVM spends seconds loading and verifying Spark's classes from ~250 jars before it does
any work. JDK 13+ can dump the classes one run loaded into an archive (``-XX:ArchiveClassesAtExit``)
and map it into later JVMs (``-XX:SharedArchiveFile``), which then start and warm up about twice
as fast (measured: a session start plus a tiny query and write, 11.5 s -> 6.0 s on 2 cores).

``make install`` builds the archive once per virtualenv by running a small pipeline on a sample
lake. Local sessions use it when it exists; a JVM that cannot use it (another JDK, another Spark)
ignores it silently and loads classes as usual. Glue and EMR never see it.

Build or rebuild: ``python -m clickstream.jvm_archive [--force]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ARCHIVE_ENV = "CLICKSTREAM_JVM_ARCHIVE"
_DUMP_ENV = "_CLICKSTREAM_JVM_ARCHIVE_DUMP"  # set only in the child that builds the archive
# A JVM that cannot map the archive says so on stderr; it then runs as if it had none.
_QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"


def archive_path() -> Path:
    """Where the archive lives: $CLICKSTREAM_JVM_ARCHIVE, else inside the active virtualenv."""
    override = os.environ.get(ARCHIVE_ENV)
    return Path(override) if override else Path(sys.prefix) / "clickstream-spark-classes.jsa"


def archive_options() -> str:
    """JVM options that map the archive, or '' when it has not been built."""
    path = archive_path()
    return f"-XX:SharedArchiveFile={path} {_QUIET}" if path.is_file() else ""


def with_archive(java_options: str) -> str:
    """java_options plus the archive options (dump options in the build's child JVM)."""
    if "SharedArchiveFile" in java_options or "ArchiveClassesAtExit" in java_options:
        return java_options
    dump = os.environ.get(_DUMP_ENV)
    extra = dump_options(Path(dump)) if dump else archive_options()
    return f"{java_options} {extra}".strip() if extra else java_options


def _workload(lake: Path) -> None:
    """A small pipeline run with the catalog: loads what local runs and the tests load."""
    from clickstream.config import load_settings
    from clickstream.pipeline.runner import run_pipeline
    from clickstream.sample import generate_sample
    from clickstream.spark import get_spark

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
        env = {**os.environ, _DUMP_ENV: str(partial)}
        # The child JVM writes the archive when it exits, after the workload.
        child = subprocess.run(
            [sys.executable, "-m", "clickstream.jvm_archive", "--workload", tmp],
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


def dump_options(path: Path) -> str:
    """JVM options that write the archive of this run's classes to path at exit."""
    return f"-XX:ArchiveClassesAtExit={path} {_QUIET}"


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
