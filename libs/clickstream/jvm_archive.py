"""The class-data-sharing (AppCDS) archive local Spark JVMs map: where it lives, which options.

A local JVM spends seconds loading and verifying Spark's classes from ~250 jars before it does
any work. JDK 13+ can dump the classes one run loaded into an archive (``-XX:ArchiveClassesAtExit``)
and map it into later JVMs (``-XX:SharedArchiveFile``), which then start and warm up about twice
as fast (measured: a session start plus a tiny query and write, 11.5 s -> 6.0 s on 2 cores).

``make install`` builds the archive once per virtualenv with the tools package
(``python -m clickstream_tools.jvm_archive [--force]``). Local sessions use it when it exists; a
JVM that cannot use it (another JDK, another Spark) ignores it silently and loads classes as
usual. Glue and EMR never see it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ARCHIVE_ENV = "CLICKSTREAM_JVM_ARCHIVE"
DUMP_ENV = "_CLICKSTREAM_JVM_ARCHIVE_DUMP"  # set only in the child that builds the archive
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
    dump = os.environ.get(DUMP_ENV)
    extra = dump_options(Path(dump)) if dump else archive_options()
    return f"{java_options} {extra}".strip() if extra else java_options


def dump_options(path: Path) -> str:
    """JVM options that write the archive of this run's classes to path at exit."""
    return f"-XX:ArchiveClassesAtExit={path} {_QUIET}"
