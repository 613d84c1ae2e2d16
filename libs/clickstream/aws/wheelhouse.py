"""`make install`'s downloads for the release: pinned wheels for Glue 5.0, EMR 7.x and the tests.

Everything the release ships besides the project is fetched here, once, with pip's ordinary
client, into the git-ignored folder `.wheelhouse/` (packaging and tests never download):

    .wheelhouse/glue/            the runtime requirements Glue 5.0 lacks (glue_runtime), with
                                 their dependencies Glue lacks: shipped beside the project's wheel
    .wheelhouse/emr-<arch>/      every runtime requirement but pyspark, with dependencies, for
                                 the EMR environment archive (x86_64; aarch64 for Graviton)
    .wheelhouse/glue-stand-in/   the listed Glue 5.0 modules the tests' Glue stand-in holds

All wheels are CPython 3.11 manylinux (glibc <= 2.34, Amazon Linux 2023), binary only.
Run `python -m clickstream.aws.wheelhouse [--dir .wheelhouse] [--emr-archs "x86_64 aarch64"]`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

from clickstream.aws.glue_runtime import (
    PYTHON_VERSION,
    WHEEL_PLATFORMS,
    provided,
    requirement_name,
    shipped_requirements,
    stand_in_requirements,
)
from clickstream.config import EMR_ARCHITECTURES

DISTRIBUTION = "clickstream-etl"
EMR_ARCHS = EMR_ARCHITECTURES
# The EMR archive leaves out what EMR's Spark puts on the path itself.
SPARK_PROVIDED = ("pyspark", "py4j")


class WheelhouseError(RuntimeError):
    """A download failed or the wheelhouse is incomplete; the message says what to run."""


def platforms(arch: str) -> tuple[str, ...]:
    """pip --platform tags of CPython 3.11 wheels for Amazon Linux 2023 on an architecture."""
    if arch not in EMR_ARCHS:
        raise WheelhouseError(f"architecture {arch!r}: use one of {', '.join(EMR_ARCHS)}")
    return tuple(tag.replace("x86_64", arch) for tag in WHEEL_PLATFORMS)


def target_options(arch: str) -> list[str]:
    """pip options that pick binary CPython 3.11 wheels for Amazon Linux 2023 on arch."""
    return [
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--abi",
        f"cp{PYTHON_VERSION.replace('.', '')}",
        *(arg for tag in platforms(arch) for arg in ("--platform", tag)),
    ]


def runtime_requirements() -> list[str]:
    """The project's install_requires (no extras), from the installed distribution's metadata."""
    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        raise WheelhouseError(f"{DISTRIBUTION} is not installed; run make install") from None
    return [req.strip() for req in requires if ";" not in req]


def runtime_lock() -> list[str]:
    """The pinned dependencies of the runtime requirements (setup.py's "lock" extra)."""
    requires = metadata.requires(DISTRIBUTION) or []
    return [
        req.split(";")[0].strip()
        for req in requires
        if ";" in req and req.split(";", 1)[1].replace("'", '"').strip() == 'extra == "lock"'
    ]


def emr_requirements(requirements: Iterable[str]) -> list[str]:
    """The runtime requirements an EMR environment archive holds (all but Spark's own)."""
    return [req for req in requirements if requirement_name(req) not in SPARK_PROVIDED]


def wheel_name(path: Path) -> str:
    """The canonical distribution name of a wheel file (PyYAML-6.0.3-cp311-... -> pyyaml)."""
    return requirement_name(path.name.split("-")[0])


def download(
    requirements: Sequence[str],
    folder: Path,
    arch: str = "x86_64",
    *,
    deps: bool = True,
    constraints: Sequence[str] = (),
) -> list[Path]:
    """pip download the requirements as binary wheels for the platform into a fresh folder."""
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        staging = Path(tmp) / "wheels"
        staging.mkdir()
        constraint_file = Path(tmp) / "constraints.txt"
        constraint_file.write_text("".join(f"{c}\n" for c in constraints))
        if requirements:
            command = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                *target_options(arch),
                "--dest",
                str(staging),
                *([] if deps else ["--no-deps"]),
                "--constraint",
                str(constraint_file),
                *requirements,
            ]
            proc = subprocess.run(command, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise WheelhouseError(
                    f"pip download {' '.join(requirements)} failed:\n{proc.stderr.strip()}"
                )
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    return sorted(folder.glob("*.whl"))


def fetch(root: Path, emr_archs: Iterable[str] = ("x86_64",)) -> dict[str, list[Path]]:
    """Fill root/ (.wheelhouse) with the three wheel sets; returns the wheels of each folder."""
    root.mkdir(parents=True, exist_ok=True)
    runtime = runtime_requirements()
    fetched = {}
    lock = runtime_lock()
    glue = download(shipped_requirements(runtime), root / "glue", constraints=lock)
    for wheel in glue:
        if provided(wheel_name(wheel)):  # a dependency Glue already has: not shipped
            wheel.unlink()
    fetched["glue"] = sorted((root / "glue").glob("*.whl"))
    for arch in emr_archs:
        fetched[f"emr-{arch}"] = download(
            emr_requirements(runtime), root / f"emr-{arch}", arch, constraints=lock
        )
    fetched["glue-stand-in"] = download(stand_in_requirements(), root / "glue-stand-in", deps=False)
    return fetched


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: download the wheels and list them."""
    parser = argparse.ArgumentParser(
        prog="python -m clickstream.aws.wheelhouse", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--dir", default=".wheelhouse", help="folder (default: .wheelhouse/)")
    parser.add_argument(
        "--emr-archs", default="x86_64", help='EMR archive architectures, e.g. "x86_64 aarch64"'
    )
    args = parser.parse_args(argv)
    try:
        fetched = fetch(Path(args.dir), args.emr_archs.split())
    except WheelhouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for folder, wheels in fetched.items():
        print(f"{args.dir}/{folder}: {len(wheels)} wheels")
        for wheel in wheels:
            print(f"  {wheel.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
