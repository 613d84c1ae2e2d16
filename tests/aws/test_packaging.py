"""make package: a versioned wheel, an importable --py-files zip, job scripts and conf."""

from __future__ import annotations

import ast
import base64
import hashlib
import subprocess
import sys
import zipfile
import zipimport
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

import clickstream
from clickstream.aws.glue_runtime import provided, requirement_name, shipped_requirements
from clickstream.aws.packaging import Artifacts, build_package, project_root, wheel_requirements

VERSION = clickstream.__version__
WHEELHOUSE = project_root() / ".wheelhouse"


def test_wheel_name_carries_the_version_and_holds_the_library(artifacts: Artifacts) -> None:
    assert artifacts.version == VERSION
    assert artifacts.wheel.name == f"clickstream_etl-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(artifacts.wheel) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"clickstream_etl-{VERSION}.dist-info/METADATA").decode()
        entry_points = wheel.read(f"clickstream_etl-{VERSION}.dist-info/entry_points.txt")
    assert {"clickstream/__init__.py", "clickstream/config.py", "clickstream/tables.py"} <= names
    assert "clickstream/py.typed" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert f"Version: {VERSION}" in metadata.splitlines()
    assert "Name: clickstream-etl" in metadata.splitlines()
    assert "Requires-Dist: pyspark==3.5.4" in metadata.splitlines()
    assert b"clickstream = clickstream.cli:main" in entry_points


def test_wheel_record_hashes_every_file(artifacts: Artifacts) -> None:
    with zipfile.ZipFile(artifacts.wheel) as wheel:
        record = wheel.read(f"clickstream_etl-{VERSION}.dist-info/RECORD").decode().splitlines()
        rows = dict(line.split(",", 1) for line in record)
        assert set(rows) == set(wheel.namelist())
        for name, value in rows.items():
            if not value.strip(","):
                continue
            hash_part, size = value.split(",")
            data = wheel.read(name)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert hash_part == f"sha256={digest.decode()}"
            assert int(size) == len(data)


@pytest.mark.slow
def test_wheel_installs_with_pip(artifacts: Artifacts, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(artifacts.wheel),
        ],
        check=True,
        capture_output=True,
    )
    assert (target / "clickstream" / "tables.py").is_file()
    assert (target / f"clickstream_etl-{VERSION}.dist-info" / "METADATA").is_file()


def test_py_files_zip_is_importable_with_zipimport(artifacts: Artifacts) -> None:
    assert artifacts.zip_file.name == f"clickstream-{VERSION}.zip"
    importer = zipimport.zipimporter(str(artifacts.zip_file))
    assert importer.is_package("clickstream")
    assert importer.find_spec("clickstream") is not None
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import clickstream.config as c; "
        "import clickstream; assert '.zip' in c.__file__, c.__file__; print(clickstream.__version__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(artifacts.zip_file)],
        check=True,
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == VERSION


def test_job_scripts_and_conf_are_copied(artifacts: Artifacts) -> None:
    root = project_root()
    assert sorted(p.name for p in artifacts.conf_files) == sorted(
        p.name for p in (root / "conf").glob("*.yaml")
    )
    assert sorted(p.name for p in artifacts.job_scripts) == sorted(
        p.name for p in (root / "jobs").glob("*.py")
    )
    for path in (*artifacts.conf_files, *artifacts.job_scripts):
        assert path.read_bytes() == (root / path.parent.name / path.name).read_bytes()
        assert artifacts.relative(path) == f"{path.parent.name}/{path.name}"


def _mini_project(root: Path) -> Path:
    """A small checkout of the same layout: setup.py, libs/clickstream, jobs/, conf/."""
    files = {
        "setup.py": (
            "from setuptools import find_packages, setup\n"
            f"setup(name='clickstream-etl', version='{VERSION}', description='mini',\n"
            "      package_dir={'': 'libs'}, packages=find_packages('libs'),\n"
            "      package_data={'clickstream': ['py.typed']},\n"
            "      install_requires=['PyYAML==6.0.3'],\n"
            "      extras_require={'test': ['pytest==9.2.0; python_version < \"4\"']},\n"
            "      entry_points={'console_scripts': ['clickstream=clickstream.cli:main']})\n"
        ),
        "libs/clickstream/__init__.py": f"__version__ = '{VERSION}'\n",
        "libs/clickstream/py.typed": "",
        "libs/clickstream/sub/__init__.py": "",
        "libs/clickstream/sub/mod.py": "VALUE = 1\n",
        "libs/clickstream/__pycache__/junk.cpython-311.pyc": "junk",
        "libs/clickstream/notes.txt": "not package data",
        "jobs/load_titles.py": "print('load_titles')\n",
        "jobs/curate_events.py": "print('curate_events')\n",
        "conf/base.yaml": "lake_root: .lake\n",
        "conf/dev.yaml": "lake_root: s3://x\n",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _build_mini(root: Path, dist: Path) -> Artifacts:
    """build_package of a mini project, with the wheels make install fetched for this one."""
    return build_package(dist, root=root, wheelhouse=WHEELHOUSE, emr_archs=())


def test_build_is_reproducible_and_selects_setup_py_files(tmp_path: Path) -> None:
    root = _mini_project(tmp_path / "project")
    first = _build_mini(root, tmp_path / "one")
    second = _build_mini(root, tmp_path / "two")
    assert first.wheel.read_bytes() == second.wheel.read_bytes()
    assert first.zip_file.read_bytes() == second.zip_file.read_bytes()
    with zipfile.ZipFile(first.zip_file) as archive:
        assert archive.namelist() == [
            "clickstream/__init__.py",
            "clickstream/py.typed",
            "clickstream/sub/__init__.py",
            "clickstream/sub/mod.py",
        ]
    with zipfile.ZipFile(first.wheel) as wheel:
        metadata = wheel.read(f"clickstream_etl-{VERSION}.dist-info/METADATA").decode()
    assert 'Requires-Dist: pytest==9.2.0; python_version < "4" and extra == "test"' in metadata
    assert [p.name for p in first.job_scripts] == ["curate_events.py", "load_titles.py"]
    assert [first.relative(p) for p in first.conf_files] == ["conf/base.yaml", "conf/dev.yaml"]


def test_rebuild_drops_stale_job_scripts(tmp_path: Path) -> None:
    root = _mini_project(tmp_path / "project")
    _build_mini(root, tmp_path / "dist")
    (root / "jobs" / "curate_events.py").unlink()
    again = _build_mini(root, tmp_path / "dist")
    assert [p.name for p in again.job_scripts] == ["load_titles.py"]
    assert sorted(p.name for p in (tmp_path / "dist" / "jobs").iterdir()) == ["load_titles.py"]


def test_version_mismatch_fails(tmp_path: Path) -> None:
    from clickstream.aws.packaging import PackagingError

    root = _mini_project(tmp_path / "project")
    setup_py = root / "setup.py"
    setup_py.write_text(setup_py.read_text().replace(f"'{VERSION}'", "'9.9.9'"))
    with pytest.raises(PackagingError, match=r"9\.9\.9"):
        _build_mini(root, tmp_path / "dist")


def test_refuses_to_build_over_the_sources() -> None:
    from clickstream.aws.packaging import PackagingError

    with pytest.raises(PackagingError, match="holds the sources"):
        build_package(project_root())


@pytest.mark.slow
def test_module_entry_point_prints_what_it_built(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "clickstream.aws.packaging", "--dist-dir", str(tmp_path)],
        check=True,
        capture_output=True,
        text=True,
    )
    assert f"clickstream_etl-{VERSION}-py3-none-any.whl" in out.stdout
    assert f"clickstream-{VERSION}.zip" in out.stdout
    assert "conf/dev.yaml" in out.stdout
    assert (tmp_path / f"clickstream-{VERSION}.zip").is_file()


def test_glue_modules_are_the_runtime_requirements_glue_5_0_lacks(artifacts: Artifacts) -> None:
    # GIVEN setup.py's runtime requirements and Glue 5.0's provided modules (glue_runtime)
    requirements = wheel_requirements(artifacts.wheel)
    # THEN only PyYAML is missing on Glue, and it ships as a pinned cp311 manylinux x86_64 wheel
    assert shipped_requirements(requirements) == ["PyYAML==6.0.3"]
    (wheel,) = artifacts.glue_modules
    assert wheel.name.startswith("pyyaml-6.0.3-cp311-cp311-manylinux")
    assert "x86_64" in wheel.name and artifacts.relative(wheel).startswith("python-modules/")


def test_a_missing_glue_wheel_fails_naming_make_install(tmp_path: Path) -> None:
    from clickstream.aws.packaging import PackagingError

    root = _mini_project(tmp_path / "project")
    with pytest.raises(PackagingError, match=r"PyYAML==6\.0\.3.*make install"):
        build_package(tmp_path / "dist", root=root, wheelhouse=tmp_path / "empty", emr_archs=())


def test_every_module_the_jobs_import_is_on_glue_or_shipped() -> None:
    # GIVEN every import in the product's modules, lazy ones too
    distributions = packages_distributions()
    imported: set[str] = set()
    for path in (project_root() / "libs" / "clickstream").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"clickstream", "awsglue"}
    # THEN each is Glue 5.0's own (its list or its Spark) or a shipped requirement
    shipped = {requirement_name(r) for r in shipped_requirements(wheel_requirements_of_setup())}
    for module in sorted(third_party):
        (dist,) = distributions[module][:1]
        assert provided(dist) or requirement_name(dist) in shipped, module
    assert {"yaml", "pyarrow", "numpy", "boto3", "pyspark"} <= third_party


def wheel_requirements_of_setup() -> list[str]:
    """The installed project's runtime requirements (setup.py's install_requires)."""
    from clickstream.aws.wheelhouse import runtime_requirements

    return runtime_requirements()
