"""Build the release under dist/: wheel, --py-files zip, job scripts and conf files.

The wheel is assembled here from the metadata and packages that setup.py declares (its setup()
call is captured in a subprocess, so nothing is installed or downloaded and no `wheel` package is
needed). Archives are reproducible: sorted entries with fixed timestamps, so the same sources give
byte-identical files and a re-deploy finds nothing to upload.

Layout (mirrored under <artifacts_uri>/<version>/ by deploy):

    dist/clickstream_etl-<version>-py3-none-any.whl   --additional-python-modules on Glue
    dist/clickstream-<version>.zip                    --py-files on EMR / --extra-py-files
    dist/jobs/<job>.py                                job entry scripts (jobs/*.py)
    dist/conf/<env>.yaml                              config (conf/*.yaml)

Run `python -m clickstream.aws.packaging [--dist-dir DIR]` or `make package`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import clickstream

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
WHEEL_TAG = "py3-none-any"

# Runs in a child interpreter in the project root: records setup()'s keyword arguments.
_CAPTURE_SETUP = """
import json, runpy, sys
import setuptools
captured = {}
setuptools.setup = lambda **kwargs: captured.update(kwargs)
sys.argv = ["setup.py"]
runpy.run_path("setup.py", run_name="__main__")
keys = ("name", "version", "description", "python_requires", "packages", "package_dir",
        "package_data", "install_requires", "extras_require", "entry_points")
print(json.dumps({key: captured.get(key) for key in keys}))
"""


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

    def files(self) -> list[Path]:
        """Every built file, wheel and zip first."""
        return [self.wheel, self.zip_file, *self.job_scripts, *self.conf_files]

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


def read_setup(root: Path) -> dict[str, Any]:
    """The keyword arguments setup.py passes to setup(), read in a child interpreter."""
    proc = subprocess.run(
        [sys.executable, "-c", _CAPTURE_SETUP],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise PackagingError(f"could not read {root / 'setup.py'}:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _package_dir(package: str, package_dir: dict[str, str], root: Path) -> Path:
    """The source folder of a package under setup()'s package_dir mapping."""
    parts = package.split(".")
    for i in range(len(parts), -1, -1):
        prefix = ".".join(parts[:i])
        if prefix in package_dir:
            return root / package_dir[prefix] / Path(*parts[i:])
    return root / Path(*parts)


def package_files(meta: dict[str, Any], root: Path) -> list[tuple[str, Path]]:
    """(archive name, source file) of every module and package-data file, sorted."""
    package_dir = meta.get("package_dir") or {}
    package_data = meta.get("package_data") or {}
    files: dict[str, Path] = {}
    for package in meta.get("packages") or []:
        src = _package_dir(package, package_dir, root)
        arc_dir = package.replace(".", "/")
        patterns = ["*.py", *package_data.get(package, []), *package_data.get("", [])]
        for pattern in patterns:
            for path in src.glob(pattern):
                if path.is_file() and "__pycache__" not in path.parts:
                    files[f"{arc_dir}/{path.relative_to(src).as_posix()}"] = path
    if not files:
        raise PackagingError("setup.py declares no packages with files; nothing to package")
    return sorted(files.items())


def _zip_entry(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    """Add one file with a fixed timestamp and mode (reproducible archives)."""
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data, compresslevel=9)


def _write_zip(path: Path, entries: Iterable[tuple[str, bytes]]) -> None:
    """Write a zip of (name, bytes) entries atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        for name, data in entries:
            _zip_entry(archive, name, data)
    tmp.replace(path)


def _requirement_with_extra(requirement: str, extra: str) -> str:
    """A Requires-Dist value restricted to an extra."""
    spec, _, marker = requirement.partition(";")
    condition = f'extra == "{extra}"'
    if marker.strip():
        condition = f"({marker.strip()}) and {condition}"
    return f"{spec.strip()}; {condition}"


def wheel_metadata(meta: dict[str, Any]) -> str:
    """METADATA (core metadata 2.1) from setup()'s arguments."""
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {meta['name']}",
        f"Version: {meta['version']}",
    ]
    if meta.get("description"):
        lines.append(f"Summary: {meta['description']}")
    if meta.get("python_requires"):
        lines.append(f"Requires-Python: {meta['python_requires']}")
    lines += [f"Requires-Dist: {req}" for req in meta.get("install_requires") or []]
    for extra, reqs in (meta.get("extras_require") or {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f"Requires-Dist: {_requirement_with_extra(req, extra)}" for req in reqs]
    return "\n".join(lines) + "\n"


def _entry_points(meta: dict[str, Any]) -> str:
    """entry_points.txt from setup()'s entry_points."""
    sections = []
    for group, items in (meta.get("entry_points") or {}).items():
        entries = [items] if isinstance(items, str) else items
        body = []
        for item in entries:
            name, _, target = item.partition("=")
            body.append(f"{name.strip()} = {target.strip()}")
        sections.append(f"[{group}]\n" + "\n".join(body) + "\n")
    return "\n".join(sections)


def _record_line(name: str, data: bytes) -> str:
    """One RECORD row: name, sha256 digest, size."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(meta: dict[str, Any], files: Sequence[tuple[str, Path]], out_dir: Path) -> Path:
    """A pure-Python wheel (PEP 427) of the files, with metadata from setup.py."""
    dist_name = re.sub(r"[-_.]+", "_", meta["name"]).lower()
    version = meta["version"]
    dist_info = f"{dist_name}-{version}.dist-info"
    entries = [(name, path.read_bytes()) for name, path in files]
    top_level = sorted({name.split("/")[0] for name, _ in files})
    wheel_file = (
        f"Wheel-Version: 1.0\nGenerator: clickstream.aws.packaging\n"
        f"Root-Is-Purelib: true\nTag: {WHEEL_TAG}\n"
    )
    entries.append((f"{dist_info}/METADATA", wheel_metadata(meta).encode()))
    entries.append((f"{dist_info}/WHEEL", wheel_file.encode()))
    entries.append((f"{dist_info}/top_level.txt", ("\n".join(top_level) + "\n").encode()))
    if meta.get("entry_points"):
        entries.append((f"{dist_info}/entry_points.txt", _entry_points(meta).encode()))
    record_name = f"{dist_info}/RECORD"
    record = [_record_line(name, data) for name, data in entries] + [f"{record_name},,"]
    entries.append((record_name, ("\n".join(record) + "\n").encode()))
    path = out_dir / f"{dist_name}-{version}-{WHEEL_TAG}.whl"
    _write_zip(path, entries)
    return path


def build_py_files_zip(files: Sequence[tuple[str, Path]], path: Path) -> Path:
    """A zip of the packages for spark-submit --py-files / Glue --extra-py-files."""
    _write_zip(path, ((name, src.read_bytes()) for name, src in files))
    return path


def _copy_folder(pattern: str, src_dir: Path, out_dir: Path) -> tuple[Path, ...]:
    """Copy src_dir/<pattern> to out_dir; drop files matching pattern left from older builds."""
    sources = sorted(p for p in src_dir.glob(pattern) if p.is_file())
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


def build_package(dist_dir: str | Path = "dist", *, root: Path | None = None) -> Artifacts:
    """Build wheel, --py-files zip, jobs/*.py and conf/*.yaml under dist_dir (relative: to root)."""
    root = root or project_root()
    meta = read_setup(root)
    version = str(meta["version"])
    if version != clickstream.__version__:
        raise PackagingError(
            f"setup.py version {version} differs from clickstream.__version__ "
            f"{clickstream.__version__} (libs/clickstream/__init__.py); make them equal"
        )
    out = Path(dist_dir)
    if not out.is_absolute():
        out = root / out
    out = out.resolve()
    if root.resolve().is_relative_to(out):
        raise PackagingError(f"dist_dir {out} holds the sources; use a folder such as dist/")
    out.mkdir(parents=True, exist_ok=True)
    files = package_files(meta, root)
    wheel = build_wheel(meta, files, out)
    zip_file = build_py_files_zip(files, out / f"clickstream-{version}.zip")
    return Artifacts(
        version=version,
        dist_dir=out,
        wheel=wheel,
        zip_file=zip_file,
        job_scripts=_copy_folder("*.py", root / "jobs", out / "jobs"),
        conf_files=_copy_folder("*.yaml", root / "conf", out / "conf"),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: build the package and print what was built."""
    parser = argparse.ArgumentParser(
        prog="python -m clickstream.aws.packaging", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--dist-dir", default="dist", help="output folder (default: dist/)")
    args = parser.parse_args(argv)
    try:
        artifacts = build_package(args.dist_dir)
    except PackagingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"clickstream-etl {artifacts.version} -> {artifacts.dist_dir}")
    for path in artifacts.files():
        print(f"  {artifacts.relative(path):<48} {path.stat().st_size:>9,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
