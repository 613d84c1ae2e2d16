"""The Python environment archive EMR steps run with: `--archives <uri>#environment`.

A relocatable virtual environment, packed as a reproducible .tar.gz:

    pyvenv.cfg                          home = /usr/bin (the node's CPython 3.11)
    bin/python -> /usr/bin/python3.11   EMR 7.1+ ships it beside the default python3 (3.9)
    bin/python3, bin/python3.11 -> python
    lib/python3.11/site-packages/       the project's wheel and every runtime requirement but
                                        pyspark (EMR's Spark puts its own pyspark.zip and py4j
                                        on the path), installed from manylinux wheels

Spark unpacks it as ./environment in each YARN container; `spark.pyspark.python` and
`spark.yarn.appMasterEnv.PYSPARK_PYTHON` set to ./environment/bin/python make the driver and
the executors use it. Python finds pyvenv.cfg beside bin/ and puts only the archive's
site-packages on the path: nothing installed on the nodes is used, nothing is downloaded.

The same wheels give the same bytes: sorted entries, one fixed mtime (SOURCE_DATE_EPOCH, else
1980-01-01), root ownership, normalised modes, no .pyc, no console scripts, gzip without name
or time. So a re-deploy finds the archive on S3 unchanged and uploads nothing.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

from clickstream.aws.glue_runtime import PYTHON_VERSION
from clickstream.aws.wheelhouse import target_options, wheel_name

NODE_PYTHON = f"/usr/bin/python{PYTHON_VERSION}"
SITE_PACKAGES = f"lib/python{PYTHON_VERSION}/site-packages"
DEFAULT_EPOCH = 315532800  # 1980-01-01, the earliest time a zip entry can carry


class ArchiveError(RuntimeError):
    """The archive cannot be built; the message says why and what to run."""


def archive_name(version: str, arch: str) -> str:
    """clickstream-environment-<version>-<arch>.tar.gz."""
    return f"clickstream-environment-{version}-{arch}.tar.gz"


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH when set (reproducible-builds.org), else 1980-01-01."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return max(int(value), DEFAULT_EPOCH) if value.isdigit() else DEFAULT_EPOCH


def _pip_install_target(wheels: Sequence[Path], target: Path, arch: str) -> None:
    """pip install the wheels (by name and version, from their folders) into target."""
    requirements = []
    for wheel in wheels:
        version = wheel.name.split("-")[1]
        requirements.append(f"{wheel_name(wheel)}=={version}")
    folders = sorted({str(wheel.parent) for wheel in wheels})
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-index",
        "--no-deps",
        "--no-compile",
        "--disable-pip-version-check",
        *target_options(arch),
        "--target",
        str(target),
        *(arg for folder in folders for arg in ("--find-links", folder)),
        *requirements,
    ]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ArchiveError(f"pip could not install the EMR environment:\n{proc.stderr}")
    # Console scripts carry this machine's interpreter path and are never run on EMR.
    shutil.rmtree(target / "bin", ignore_errors=True)


def _layout(root: Path, wheels: Sequence[Path], arch: str) -> None:
    """The environment folder: pyvenv.cfg, bin/python links, site-packages."""
    (root / "bin").mkdir(parents=True)
    (root / "pyvenv.cfg").write_text(
        "home = /usr/bin\ninclude-system-site-packages = false\n"
        f"version = {PYTHON_VERSION}\nexecutable = {NODE_PYTHON}\n"
    )
    (root / "bin" / "python").symlink_to(NODE_PYTHON)
    for alias in ("python3", f"python{PYTHON_VERSION}"):
        (root / "bin" / alias).symlink_to("python")
    _pip_install_target(wheels, root / SITE_PACKAGES, arch)


def _normalised(info: tarfile.TarInfo, mtime: int) -> tarfile.TarInfo:
    """Root-owned, fixed time, 755 for folders and executables, 644 for other files."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = mtime
    if info.isdir() or (info.isfile() and info.mode & 0o111):
        info.mode = 0o755
    elif info.isfile():
        info.mode = 0o644
    return info


def pack(root: Path, path: Path) -> Path:
    """A reproducible .tar.gz of the folder's contents (entries relative to it, sorted)."""
    mtime = source_date_epoch()
    entries = sorted(
        p for p in root.rglob("*") if "__pycache__" not in p.parts and not p.name.endswith(".pyc")
    )
    tmp = path.with_name(path.name + ".tmp")
    with (
        tmp.open("wb") as out,
        gzip.GzipFile(filename="", fileobj=out, mode="wb", mtime=0, compresslevel=6) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for entry in entries:
            name = entry.relative_to(root).as_posix()
            info = _normalised(tar.gettarinfo(str(entry), name), mtime)
            if info.isfile():
                with entry.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    tmp.replace(path)
    return path


def build_environment(
    project_wheel: Path, requirement_wheels: Sequence[Path], path: Path, arch: str = "x86_64"
) -> Path:
    """Build the archive at path from the project's wheel and its requirements' wheels."""
    if not requirement_wheels:
        raise ArchiveError(f"no wheels for EMR {arch}; run make install EMR_ARCHS={arch}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="emr-environment-") as tmp:
        root = Path(tmp) / "environment"
        _layout(root, [project_wheel, *requirement_wheels], arch)
        return pack(root, path)
