"""The Trino server of the query-engine test tier (tests/trino/): ``make trino``.

Trino is the engine Athena (engine v3) is built on. It is test-only weight: ``make trino``, which
``make test`` depends on and ``make install`` / ``make demo`` never run, resolves the server
pinned in jvm/trino/pom.xml from Maven Central with mvn, unpacks it into .trino/ (git-ignored)
and keeps only the plugins the tests use (PLUGINS). It needs a JDK >= 24 (Trino 476 refuses older
ones); the tests find the same JDK with `find_jdk`. Idempotent: a stamp records what was
installed, and a second call does nothing.

    python -m clickstream_tools.trino_server install   # what make trino runs
    python -m clickstream_tools.trino_server java      # the JDK the tests will start Trino with
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
POM = ROOT / "jvm" / "trino" / "pom.xml"
INSTALL_DIR = ROOT / ".trino"
STAMP = INSTALL_DIR / ".installed"
MIN_JAVA = 24
# The connectors the tests use: hive (Parquet tables, partition projection, symlink manifests)
# and delta-lake. Add iceberg here (and to the catalogs of tests/trino) once that format exists.
PLUGINS = ("hive", "delta-lake")
# Where JDKs live on Debian and Ubuntu (the polyglot machines carry Temurin 25 there).
JVM_DIRS = (Path("/usr/lib/jvm"),)
NO_JDK = (
    f"trino: no JDK >= {MIN_JAVA} found ($TRINO_JAVA_HOME, $JAVA_HOME, /usr/lib/jvm/*): install "
    f"one (e.g. Eclipse Temurin 25 into /usr/lib/jvm) or set TRINO_JAVA_HOME to it"
)


def trino_version(pom: Path = POM) -> str:
    """The Trino release pinned in jvm/trino/pom.xml (<trino.version>)."""
    match = re.search(r"<trino\.version>([^<]+)</trino\.version>", pom.read_text())
    if not match:
        raise ValueError(f"{pom}: no <trino.version>")
    return match.group(1).strip()


def server_home(install_dir: Path = INSTALL_DIR, version: str | None = None) -> Path:
    """The unpacked server: .trino/trino-server-<version>/ (lib/ and plugin/)."""
    return install_dir / f"trino-server-{version or trino_version()}"


def java_major(java_home: Path) -> int | None:
    """The feature release of the JDK at java_home (25 for 25.0.3), or None when it is no JDK."""
    release = java_home / "release"
    java = java_home / "bin" / "java"
    if not java.is_file():
        return None
    if release.is_file():
        match = re.search(r'^JAVA_VERSION="(\d+)', release.read_text(errors="replace"), re.M)
        if match:
            return int(match.group(1))
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30
        ).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)', out)
    return int(match.group(1)) if match else None


def find_jdk(
    environ: Mapping[str, str] | None = None, jvm_dirs: tuple[Path, ...] | None = None
) -> Path | None:
    """A JDK >= MIN_JAVA: $TRINO_JAVA_HOME, else $JAVA_HOME, else the newest under /usr/lib/jvm."""
    env = os.environ if environ is None else environ
    jvm_dirs = JVM_DIRS if jvm_dirs is None else jvm_dirs
    named = [Path(env[k]) for k in ("TRINO_JAVA_HOME", "JAVA_HOME") if env.get(k)]
    for home in named:
        if (java_major(home) or 0) >= MIN_JAVA:
            return home
    found: list[tuple[int, str, Path]] = []
    for folder in jvm_dirs:
        if not folder.is_dir():
            continue
        for home in folder.iterdir():
            if home.is_symlink():
                continue
            major = java_major(home)
            if major is not None and major >= MIN_JAVA:
                found.append((major, home.name, home))
    return max(found)[2] if found else None


def _prune(home: Path) -> None:
    """Keep lib/, plugin/{PLUGINS} and the notices; drop the other plugins and the launchers."""
    for plugin in (home / "plugin").iterdir():
        if plugin.name not in PLUGINS:
            shutil.rmtree(plugin)
    for extra in ("bin", "secrets-plugin"):
        shutil.rmtree(home / extra, ignore_errors=True)


def install(install_dir: Path = INSTALL_DIR, *, echo: bool = True) -> Path:
    """Resolve trino-server with mvn, unpack it into install_dir, prune it; returns its home.

    Does nothing when the stamp names the pinned version and plugins. The tarball links files
    across plugins (hard links), so it is unpacked whole with tar and pruned afterwards.
    """
    version = trino_version()
    home = server_home(install_dir, version)
    wanted = f"trino-server-{version} plugins={','.join(PLUGINS)}\n"
    stamp = install_dir / STAMP.name
    if stamp.is_file() and stamp.read_text() == wanted and (home / "lib").is_dir():
        return home
    if shutil.which("mvn") is None:
        raise SystemExit("trino: mvn not found: install Maven 3 (apt-get install maven)")
    download = install_dir / "download"  # the pom's outputDirectory
    shutil.rmtree(download, ignore_errors=True)
    subprocess.run(["mvn", "-q", "-B", "-f", str(POM), "dependency:copy"], check=True)
    tarball = download / f"trino-server-{version}.tar.gz"
    unpack = install_dir / "unpack"
    shutil.rmtree(unpack, ignore_errors=True)
    unpack.mkdir(parents=True)
    subprocess.run(["tar", "-xzf", str(tarball), "-C", str(unpack)], check=True)
    _prune(unpack / home.name)
    shutil.rmtree(home, ignore_errors=True)
    (unpack / home.name).rename(home)
    shutil.rmtree(unpack)
    shutil.rmtree(download)
    stamp.write_text(wanted)
    if echo:
        print(f"trino: {home} ({_size_mib(home)} MiB; plugins {', '.join(PLUGINS)})")
    return home


def _size_mib(path: Path) -> int:
    """Bytes on disk under path (hard links counted once), in MiB."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for file in path.rglob("*"):
        st = file.lstat()
        if file.is_file() and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total // 2**20


def main(argv: list[str] | None = None) -> int:
    """make trino: check the JDK, then install; `java` prints the JDK the tests use."""
    parser = argparse.ArgumentParser(prog="clickstream_tools.trino_server", allow_abbrev=False)
    parser.add_argument("command", choices=("install", "java"))
    args = parser.parse_args(argv)
    jdk = find_jdk()
    if jdk is None:
        print(NO_JDK, file=sys.stderr)
        return 1
    if args.command == "java":
        print(jdk)
        return 0
    install()
    return 0


if __name__ == "__main__":
    sys.exit(main())
