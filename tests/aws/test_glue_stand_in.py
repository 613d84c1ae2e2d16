"""The deployed Glue job in a stand-in of Glue 5.0's Python: only the modules AWS lists.

The stand-in is a fresh virtualenv (no pip, no setuptools) holding the listed Glue 5.0 modules
the project's jobs import, at the listed versions, from the wheels make install fetched
(.wheelhouse/glue-stand-in), and Spark's pyspark.zip and py4j on PYTHONPATH as Glue's Spark puts
them. Into it goes exactly what the deployed job definition names, fetched back from moto's S3
and installed as Glue's pip would (--additional-python-modules with the installer option); the
--extra-files land in the working folder, and the deployed script runs through the awsglue double.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pyspark
import pytest
from pyspark.sql import SparkSession

from clickstream.aws.deploy import deploy, glue_job_name
from clickstream.aws.glue_runtime import GLUE_5_0_PROVIDED, SPARK_VERSION, canonical_name
from clickstream.aws.packaging import Artifacts, project_root
from clickstream.config import Settings, load_settings
from clickstream.tables import EVENTS
from clickstream.writer import read_table, table_schema
from tests.aws.conftest import ISSUE_OVERRIDES
from tests.pipeline import lake_fixture as lf

STAND_IN_WHEELS = project_root() / ".wheelhouse" / "glue-stand-in"
SPARK_LIB = Path(pyspark.__file__).parent / "python" / "lib"
DOUBLE = Path(__file__).parents[1] / "runtime" / "fake_awsglue.py"
# Runs in the stand-in: installs the awsglue double, then each job script as Glue runs it.
LAUNCHER = """
import json, runpy, sys
sys.path.insert(0, sys.argv[1])
from fake_awsglue import GlueDouble
from pyspark.sql import SparkSession
spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
for name, module in GlueDouble(spark).modules().items():
    sys.modules[name] = module
for script, argv in json.loads(sys.argv[2]):
    sys.argv = [script, *argv]
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        if exc.code:
            raise
"""


def _python_env(python: Path | None = None) -> dict[str, str]:
    """This process's environment without Python settings, plus Spark's zips as on Glue.

    With python: Spark's Python workers run it too, as Glue's executors run Glue's Python.
    """
    inherited = ("PYTHON", "VIRTUAL_ENV", "PYSPARK", "SPARK_HOME")
    env = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    zips = [SPARK_LIB / "pyspark.zip", *sorted(SPARK_LIB.glob("py4j-*.zip"))]
    env["PYTHONPATH"] = ":".join(map(str, zips))
    env["SPARK_HOME"] = str(SPARK_LIB.parents[1])
    if python is not None:
        env["PYSPARK_PYTHON"] = str(python)
    return env


def _pip_into(python: Path, *args: str) -> None:
    """Run this venv's pip against another interpreter (the stand-in has no pip of its own)."""
    command = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    subprocess.run([*command, "--no-index", "--no-compile", *args], check=True)


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv of the listed Glue 5.0 modules only; returns its python (once per module)."""
    wheels = sorted(STAND_IN_WHEELS.glob("*.whl"))
    if not wheels:
        pytest.fail(f"no wheels in {STAND_IN_WHEELS}: run make install")
    venv = tmp_path_factory.mktemp("glue-5.0") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    _pip_into(python, "--no-deps", *map(str, wheels))
    return python


def _installed(python: Path) -> dict[str, str]:
    probe = (
        "import importlib.metadata as m, json; "
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True)
    return {canonical_name(k): v for k, v in json.loads(out.stdout).items()}


def test_stand_in_holds_only_listed_modules_at_listed_versions(stand_in: Path) -> None:
    installed = _installed(stand_in)
    listed = {canonical_name(k): v for k, v in GLUE_5_0_PROVIDED.items()}
    assert installed and all(listed.get(name) == v for name, v in installed.items()), installed
    assert {"pyarrow", "pandas", "numpy", "boto3"} <= installed.keys()
    version = subprocess.run(
        [str(stand_in), "-c", "import pyspark; print(pyspark.__version__)"],
        env=_python_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout.strip() == SPARK_VERSION


def _deployed_job(settings: Settings, artifacts: Artifacts, job: str) -> dict[str, Any]:
    deploy(settings, artifacts=artifacts, echo=lambda _: None)
    return boto3.client("glue").get_job(JobName=glue_job_name("dev", job))["Job"]


def _fetch(uri: str, folder: Path) -> Path:
    """Download an s3:// object from the moto server into folder, under its own name."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / key.rsplit("/", 1)[-1]
    boto3.client("s3").download_file(bucket, key, str(path))
    return path


@pytest.mark.slow
def test_without_the_shipped_wheels_the_job_cannot_even_load_its_config(
    stand_in: Path, artifacts: Artifacts, tmp_path: Path
) -> None:
    # GIVEN the stand-in with only the project's wheel, --no-deps (what deploy did before)
    venv = tmp_path / "venv"
    shutil.copytree(stand_in.parents[1], venv, symlinks=True)
    python = venv / "bin" / "python"
    _pip_into(python, "--no-deps", str(artifacts.wheel))
    # WHEN the job's modules load THEN yaml is missing, as it would be on Glue 5.0
    proc = subprocess.run(
        [str(python), "-c", "import clickstream.config"],
        env=_python_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0 and "No module named 'yaml'" in proc.stderr


@pytest.mark.slow
def test_the_deployed_glue_job_runs_end_to_end_in_glue_5_0s_python(
    stand_in: Path,
    artifacts: Artifacts,
    buckets: list[str],
    spark: SparkSession,
    tmp_path: Path,
    assert_frames_equal: Callable[..., None],
) -> None:
    # GIVEN the release deployed to moto (the issue's deploy call), and a copy of the stand-in
    settings = load_settings("dev", ISSUE_OVERRIDES)
    jobs = {
        job: _deployed_job(settings, artifacts, job) for job in ("load_titles", "curate_events")
    }
    venv = tmp_path / "venv"
    shutil.copytree(stand_in.parents[1], venv, symlinks=True)
    python = venv / "bin" / "python"
    # WHEN Glue prepares each job: pip installs --additional-python-modules with the installer
    # option, --extra-files land in the working folder, the script is fetched
    work = tmp_path / "work"
    runs = []
    for definition in jobs.values():
        arguments = definition["DefaultArguments"]
        assert arguments["--python-modules-installer-option"] == "--no-deps"
        uris = arguments["--additional-python-modules"].split(",")
        modules = [_fetch(uri, tmp_path / "modules") for uri in uris]
        option = shlex.split(arguments["--python-modules-installer-option"])
        _pip_into(python, *option, *map(str, modules))
        for uri in arguments["--extra-files"].split(","):
            _fetch(uri, work)
        script = _fetch(definition["Command"]["ScriptLocation"], work)
        lake = tmp_path / "lake"
        argv = [
            "--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_1", "--JOB_NAME", definition["Name"],
            *(item for pair in arguments.items() for item in pair),
            "--conf_overrides", f"lake_root={lake};catalog=none",
        ]  # fmt: skip
        runs.append((str(script), argv))
    sources = lf.build_lake(tmp_path / "lake")
    double_dir = tmp_path / "double"
    double_dir.mkdir()
    shutil.copyfile(DOUBLE, double_dir / "fake_awsglue.py")
    proc = subprocess.run(
        [str(python), "-c", LAUNCHER, str(double_dir), json.dumps(runs)],
        cwd=work,
        env=_python_env(python),
        capture_output=True,
        text=True,
        check=False,
    )
    # THEN both scripts succeed and the events are exactly those of the lake
    assert proc.returncode == 0, proc.stderr[-4000:]
    expected = spark.createDataFrame(lf.expected_events(sources), table_schema(EVENTS))
    assert_frames_equal(read_table(spark, str(tmp_path / "lake"), EVENTS), expected)
    # AND the stand-in now holds the listed modules plus exactly what the job named
    shipped = {canonical_name(m.name.split("-")[0]) for m in artifacts.glue_modules}
    extra = set(_installed(python)) - {canonical_name(n) for n in GLUE_5_0_PROVIDED}
    assert extra == {"clickstream-etl", *shipped}
