"""Build the release under dist/: wheel, --py-files zip, Glue's extra wheels, EMR archives, the
JDBC driver jar, jobs, conf.

The project's wheel comes from PyPA's `build` (`python -m build --wheel --no-isolation`) with the
pinned setuptools that `make install` put in the venv, so packaging works offline. It builds from
a copy of setup.py, pyproject.toml and libs/ in a temporary folder: no stale build/ output gets
in, nothing is written to the checkout. Archives are reproducible: SOURCE_DATE_EPOCH (default
1980-01-01) for every timestamp, sorted entries, so the same sources give byte-identical files
and a re-deploy finds nothing to upload.

Layout (mirrored under <artifacts_uri>/<version>/ by deploy):

    dist/clickstream_etl-<version>-py3-none-any.whl   --additional-python-modules on Glue
    dist/python-modules/<name>-<ver>-cp311-...whl     what Glue 5.0 lacks (aws.glue_runtime),
                                                      also in --additional-python-modules
    dist/clickstream-<version>.zip                    the packages alone (--py-files)
    dist/emr/clickstream-environment-<version>-<arch>.tar.gz   EMR steps' --archives
    dist/jars/postgresql-<ver>.jar                    EMR steps' --jars with titles_source jdbc
                                                      (the one jar shipped; Glue has its own)
    dist/jobs/<job>.py                                job entry scripts (jobs/*.py)
    dist/conf/<env>.yaml                              config (conf/*.yaml)

Glue's and EMR's wheels come from .wheelhouse/, which `make install` fills
(clickstream.aws.wheelhouse); the driver jar from .jars/ (pinned in jvm/pom.xml, clickstream.jars). Run `python -m clickstream.aws.packaging [--dist-dir DIR]` or
`make package`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import clickstream
from clickstream import jars
from clickstream.aws.emr_environment import (
    ArchiveError,
    archive_name,
    build_environment,
    source_date_epoch,
)
from clickstream.aws.glue_runtime import requirement_name, shipped_requirements
from clickstream.aws.wheelhouse import EMR_ARCHS, wheel_name

WHEEL_TAG = "py3-none-any"
# What the build copies: the files setuptools reads, and the package sources.
BUILD_INPUTS = ("setup.py", "pyproject.toml", "setup.cfg", "MANIFEST.in", "README.md", "libs")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")


class PackagingError(RuntimeError):
    """The project cannot be packaged; the message says why and what to fix."""


@dataclass(frozen=True)
class Artifacts:
    """What build_package wrote: paths under dist_dir, laid out as they are uploaded."""

    version: str
    dist_dir: Path
    wheel: Path
    zip_file: Path
    job_scripts: tuple[Path, ...]
    conf_files: tuple[Path, ...]
    # Wheels of the runtime requirements Glue 5.0 does not provide.
    glue_modules: tuple[Path, ...] = ()
    # EMR environment archives by architecture (x86_64, aarch64).
    emr_archives: Mapping[str, Path] = field(default_factory=dict)
    # The PostgreSQL JDBC driver EMR steps load with titles_source jdbc.
    jdbc_driver: Path | None = None

    def files(self) -> list[Path]:
        """Every built file, wheel and zip first."""
        archives = [self.emr_archives[arch] for arch in sorted(self.emr_archives)]
        return [
            self.wheel,
            self.zip_file,
            *self.glue_modules,
            *archives,
            *([self.jdbc_driver] if self.jdbc_driver else []),
            *self.job_scripts,
            *self.conf_files,
        ]

    def relative(self, path: Path) -> str:
        """The path of a built file relative to dist_dir, with forward slashes."""
        return path.relative_to(self.dist_dir).as_posix()


def project_root() -> Path:
    """The checkout that holds setup.py (the clickstream package lives in <root>/libs)."""
    root = Path(clickstream.__file__).resolve().parents[2]
    if not (root / "setup.py").is_file():
        raise PackagingError(
            f"no setup.py in {root}: packaging needs a source checkout "
            "(pip install -e . from the repo), not an installed wheel"
        )
    return root


def _write_zip(path: Path, entries: Iterable[tuple[str, bytes]]) -> None:
    """Write a zip of (name, bytes) entries atomically, fixed timestamps and modes."""
    stamp = zipfile.ZipInfo("x", date_time=_zip_time()).date_time
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=9)
    tmp.replace(path)


def _zip_time() -> tuple[int, int, int, int, int, int]:
    """SOURCE_DATE_EPOCH as a zip date (UTC, even seconds)."""
    import time

    t = time.gmtime(source_date_epoch())
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec - t.tm_sec % 2)


def build_wheel(root: Path, out_dir: Path) -> Path:
    """The project's wheel: `python -m build --wheel --no-isolation` on a copy of the sources."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(source_date_epoch())}
    with tempfile.TemporaryDirectory(prefix="clickstream-build-") as tmp:
        src, outdir = Path(tmp) / "src", Path(tmp) / "out"
        src.mkdir()
        for name in BUILD_INPUTS:
            path = root / name
            if path.is_dir():
                shutil.copytree(path, src / name, ignore=IGNORED)
            elif path.is_file():
                shutil.copy2(path, src / name)
        proc = subprocess.run(
            [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(outdir)],
            cwd=src,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise PackagingError(
                f"python -m build failed (run make install for its pinned build dependencies):\n"
                f"{(proc.stderr or proc.stdout).strip()[-3000:]}"
            )
        (built,) = outdir.glob("*.whl")
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / built.name
        shutil.copyfile(built, target)
    return target


def build_py_files_zip(wheel: Path, path: Path) -> Path:
    """The wheel's packages without its .dist-info: spark-submit --py-files / --extra-py-files."""
    with zipfile.ZipFile(wheel) as source:
        names = sorted(n for n in source.namelist() if ".dist-info/" not in n)
        _write_zip(path, ((name, source.read(name)) for name in names))
    return path


def wheel_requirements(wheel: Path) -> list[str]:
    """The wheel's Requires-Dist without extras: the runtime requirements."""
    with zipfile.ZipFile(wheel) as archive:
        (meta,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        lines = archive.read(meta).decode().splitlines()
    return [
        line.split(":", 1)[1].strip()
        for line in lines
        if line.startswith("Requires-Dist:") and ";" not in line
    ]


def _pinned_wheels(requirements: Sequence[str], folder: Path, what: str) -> list[Path]:
    """The wheels in folder of the pinned requirements; fail when one is missing or stale."""
    wheels = sorted(folder.glob("*.whl"))
    have = {(wheel_name(w), w.name.split("-")[1]) for w in wheels}
    for req in requirements:
        name, _, version = req.partition("==")
        if (requirement_name(name), version.strip()) not in have:
            raise PackagingError(
                f"{what}: no wheel of {req} in {folder}; run make install (it downloads them)"
            )
    return wheels


def copy_glue_modules(
    requirements: Sequence[str], wheelhouse: Path, out_dir: Path
) -> tuple[Path, ...]:
    """Copy the wheels of what Glue 5.0 lacks to out_dir/python-modules (stale ones removed)."""
    shipped = shipped_requirements(requirements)
    wheels = _pinned_wheels(shipped, wheelhouse / "glue", "Glue 5.0") if shipped else []
    return _sync_files(wheels, out_dir / "python-modules", "*.whl")


def build_emr_archives(
    wheel: Path, version: str, wheelhouse: Path, out_dir: Path, archs: Iterable[str] | None
) -> dict[str, Path]:
    """One environment archive per architecture (default: each emr-<arch> folder fetched)."""
    if archs is None:
        archs = [a for a in EMR_ARCHS if (wheelhouse / f"emr-{a}").is_dir()]
    built = {}
    for arch in archs:
        folder = wheelhouse / f"emr-{arch}"
        wheels = sorted(folder.glob("*.whl"))
        if not wheels:
            raise PackagingError(
                f"no EMR wheels for {arch} in {folder}; run make install EMR_ARCHS={arch}"
            )
        path = out_dir / "emr" / archive_name(version, arch)
        try:
            built[arch] = build_environment(wheel, wheels, path, arch)
        except ArchiveError as exc:
            raise PackagingError(str(exc)) from exc
    return built


def copy_jdbc_driver(jar_dir: Path, out_dir: Path) -> Path:
    """Copy the PostgreSQL driver jar pinned in jvm/pom.xml to out_dir/jars (stale ones removed)."""
    found = {jars.artifact_id(jar): jar for jar in sorted(jar_dir.glob("*.jar"))}
    (artifact,) = jars.POSTGRESQL
    if artifact not in found:
        raise PackagingError(f"no {artifact} jar in {jar_dir}: {jars.INSTALL_HINT}")
    (copied,) = _sync_files([found[artifact]], out_dir / "jars", "*.jar")
    return copied


def _copy_folder(pattern: str, src_dir: Path, out_dir: Path) -> tuple[Path, ...]:
    """Copy src_dir/<pattern> to out_dir; drop files matching pattern left from older builds."""
    return _sync_files(sorted(p for p in src_dir.glob(pattern) if p.is_file()), out_dir, pattern)


def _sync_files(sources: Sequence[Path], out_dir: Path, pattern: str) -> tuple[Path, ...]:
    """Copy sources into out_dir; files there matching pattern that are not among them (left
    from older builds) are removed."""
    names = {src.name for src in sources}
    for stale in out_dir.glob(pattern):
        if stale.is_file() and stale.name not in names:
            stale.unlink()
    copied = []
    for src in sources:
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out_dir / src.name)
        copied.append(out_dir / src.name)
    return tuple(copied)


def build_package(
    dist_dir: str | Path = "dist",
    *,
    root: Path | None = None,
    wheelhouse: Path | None = None,
    emr_archs: Iterable[str] | None = None,
    jar_dir: Path | None = None,
) -> Artifacts:
    """Build the release under dist_dir (relative: to root).

    wheelhouse: where make install put the wheels (default <root>/.wheelhouse). emr_archs: the
    EMR archives to build (default: every architecture fetched; () builds none). jar_dir: where
    make install put the jars (default clickstream.jars.jars_dir()).
    """
    root = root or project_root()
    wheelhouse = wheelhouse or root / ".wheelhouse"
    jar_dir = jar_dir or jars.jars_dir()
    out = Path(dist_dir)
    if not out.is_absolute():
        out = root / out
    out = out.resolve()
    if root.resolve().is_relative_to(out):
        raise PackagingError(f"dist_dir {out} holds the sources; use a folder such as dist/")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.whl"):
        old.unlink()
    wheel = build_wheel(root, out)
    version = wheel.name.split("-")[1]
    if version != clickstream.__version__:
        raise PackagingError(
            f"setup.py version {version} differs from clickstream.__version__ "
            f"{clickstream.__version__} (libs/clickstream/__init__.py); make them equal"
        )
    requirements = wheel_requirements(wheel)
    return Artifacts(
        version=version,
        dist_dir=out,
        wheel=wheel,
        zip_file=build_py_files_zip(wheel, out / f"clickstream-{version}.zip"),
        job_scripts=_copy_folder("*.py", root / "jobs", out / "jobs"),
        conf_files=_copy_folder("*.yaml", root / "conf", out / "conf"),
        glue_modules=copy_glue_modules(requirements, wheelhouse, out),
        emr_archives=build_emr_archives(wheel, version, wheelhouse, out, emr_archs),
        jdbc_driver=copy_jdbc_driver(jar_dir, out),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: build the package and print what was built."""
    parser = argparse.ArgumentParser(
        prog="python -m clickstream.aws.packaging", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--dist-dir", default="dist", help="output folder (default: dist/)")
    parser.add_argument(
        "--emr-archs",
        default=None,
        help='EMR archives to build, e.g. "x86_64 aarch64" (default: '
        "every architecture make install fetched)",
    )
    args = parser.parse_args(argv)
    archs = args.emr_archs.split() if args.emr_archs is not None else None
    try:
        artifacts = build_package(args.dist_dir, emr_archs=archs)
    except PackagingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"clickstream-etl {artifacts.version} -> {artifacts.dist_dir}")
    for path in artifacts.files():
        print(f"  {artifacts.relative(path):<64} {path.stat().st_size:>11,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
