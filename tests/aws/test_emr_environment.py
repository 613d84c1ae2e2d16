"""EMR 7.x: the environment archive runs a job with no third-party package on the node."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import boto3
import pyspark
import pytest
from pyspark.sql import SparkSession

import clickstream
from clickstream.aws.deploy import deploy, glue_job_name
from clickstream.aws.emr_environment import NODE_PYTHON, SITE_PACKAGES, build_environment
from clickstream.aws.packaging import Artifacts, build_package, project_root
from clickstream.aws.wheelhouse import EMR_ARCHS
from clickstream.config import Settings, load_settings
from clickstream.pipeline import JOB_NAMES
from clickstream.tables import EVENTS
from clickstream.writer import read_table, table_schema
from tests.aws.conftest import ISSUE_OVERRIDES
from tests.pipeline import lake_fixture as lf

pytestmark = pytest.mark.slow

VERSION = clickstream.__version__
RELEASE = f"s3://clickstream-artifacts/releases/{VERSION}"
ARCHIVE = f"emr/clickstream-environment-{VERSION}-x86_64.tar.gz"
# What the project's jobs import besides the standard library and Spark's pyspark.
THIRD_PARTY = ("yaml", "pyarrow", "pandas", "numpy", "boto3", "botocore")
SPARK_HOME = Path(pyspark.__file__).parent
# ELF e_machine values (the ELF specification): what CPU a compiled module runs on.
ELF_MACHINES = {"x86_64": 0x3E, "aarch64": 0xB7}


@pytest.fixture(scope="module")
def emr_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    """The package with both environment archives (x86_64, aarch64), built once for this module."""
    return build_package(tmp_path_factory.mktemp("emr-dist"), emr_archs=EMR_ARCHS)


@pytest.fixture(scope="module")
def environment(emr_artifacts: Artifacts, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archive unpacked as a YARN container does: ./environment."""
    folder = tmp_path_factory.mktemp("container") / "environment"
    with tarfile.open(emr_artifacts.emr_archives["x86_64"]) as tar:
        tar.extractall(folder, filter="tar")
    return folder


def test_archive_python_is_the_nodes_python_3_11(environment: Path) -> None:
    python = environment / "bin" / "python"
    assert python.is_symlink() and os.readlink(python) == NODE_PYTHON == "/usr/bin/python3.11"
    config = (environment / "pyvenv.cfg").read_text().splitlines()
    assert "home = /usr/bin" in config and "include-system-site-packages = false" in config


def test_archive_holds_the_project_and_every_module_it_imports_but_pyspark(
    environment: Path,
) -> None:
    site = environment / SITE_PACKAGES
    top = {p.name for p in site.iterdir()}
    assert {"clickstream", *THIRD_PARTY} <= top
    assert "pyspark" not in top and "py4j" not in top  # EMR's Spark provides them
    assert not (site / "bin").exists()
    assert not any(site.rglob("*.pyc"))


def test_same_sources_give_the_same_archive_bytes(emr_artifacts: Artifacts, tmp_path: Path) -> None:
    # GIVEN the wheels of the first build WHEN the archive is built again elsewhere
    wheels = sorted((project_root() / ".wheelhouse" / "emr-x86_64").glob("*.whl"))
    again = build_environment(emr_artifacts.wheel, wheels, tmp_path / "again.tar.gz")
    # THEN its bytes are the same, so a re-deploy uploads nothing
    assert again.read_bytes() == emr_artifacts.emr_archives["x86_64"].read_bytes()


def _unpack(archive: Path, folder: Path) -> Path:
    """The archive unpacked into folder."""
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="tar")
    return folder


def _elf_machines(site: Path) -> dict[str, int]:
    """Every compiled module under site (relative path) -> its ELF e_machine."""
    machines = {}
    for path in site.rglob("*.so*"):
        if path.is_file():
            header = path.read_bytes()[:20]
            if header[:4] == b"\x7fELF":
                machines[path.relative_to(site).as_posix()] = int.from_bytes(
                    header[18:20], "little"
                )
    return machines


def _extensions(machines: dict[str, int], arch: str) -> set[str]:
    """The Python extension modules among the compiled files, without their platform tag."""
    tag = f"-{arch}-linux-gnu.so"
    return {p.removesuffix(tag) for p in machines if p.endswith(tag)}


def _distributions(site: Path) -> set[str]:
    """name-version of every distribution installed in site."""
    return {p.name.removesuffix(".dist-info") for p in site.glob("*.dist-info")}


def test_graviton_archive_holds_the_same_modules_built_for_aarch64_only(
    emr_artifacts: Artifacts, tmp_path: Path
) -> None:
    # GIVEN both archives of one package (make install and make package build x86_64 and aarch64)
    x86 = _unpack(emr_artifacts.emr_archives["x86_64"], tmp_path / "x86_64") / SITE_PACKAGES
    arm = _unpack(emr_artifacts.emr_archives["aarch64"], tmp_path / "aarch64") / SITE_PACKAGES
    # THEN the Graviton archive holds the same distributions at the same versions
    assert _distributions(arm) == _distributions(x86)
    assert {"clickstream", *THIRD_PARTY} <= {p.name for p in arm.iterdir()}
    # AND every compiled module (numpy, pandas, pyarrow, yaml) is an aarch64 build, the same
    # modules as x86_64's, none of them for another CPU
    arm_machines, x86_machines = _elf_machines(arm), _elf_machines(x86)
    assert {Path(p).parts[0] for p in arm_machines} >= {"numpy", "pandas", "pyarrow", "yaml"}
    assert set(arm_machines.values()) == {ELF_MACHINES["aarch64"]}
    assert set(x86_machines.values()) == {ELF_MACHINES["x86_64"]}
    # (vendored C libraries differ: x86_64's numpy carries libquadmath, aarch64's does not)
    extensions = _extensions(arm_machines, "aarch64")
    assert extensions and extensions == _extensions(x86_machines, "x86_64")
    # AND its python is the node's, as on x86_64 (Graviton EMR 7.1+ ships python3.11 too)
    assert os.readlink(arm.parents[2] / "bin" / "python") == NODE_PYTHON


def test_graviton_steps_run_with_the_aarch64_archive(
    emr_artifacts: Artifacts, buckets: list[str]
) -> None:
    # GIVEN emr_architecture=aarch64 (a Graviton cluster) WHEN deploying its steps
    settings = load_settings("dev", (*ISSUE_OVERRIDES, "emr_architecture=aarch64"))
    cluster = _emr_cluster()
    deploy(settings, artifacts=emr_artifacts, emr_cluster_id=cluster, echo=lambda _: None)
    # THEN the aarch64 archive is uploaded with the release
    arm_archive = ARCHIVE.replace("x86_64", "aarch64")
    head = boto3.client("s3").head_object(
        Bucket="clickstream-artifacts", Key=f"releases/{VERSION}/{arm_archive}"
    )
    assert head["ContentLength"] == emr_artifacts.emr_archives["aarch64"].stat().st_size
    # AND every step unpacks it as ./environment
    steps = boto3.client("emr").list_steps(ClusterId=cluster)["Steps"]
    archives = {s["Config"]["Args"][s["Config"]["Args"].index("--archives") + 1] for s in steps}
    assert len(steps) == len(JOB_NAMES)
    assert archives == {f"{RELEASE}/{arm_archive}#environment"}


@pytest.mark.skipif(not Path(NODE_PYTHON).exists(), reason=f"{NODE_PYTHON} is not installed")
def test_archive_python_finds_every_module_in_the_archive_only(environment: Path) -> None:
    probe = (
        "import importlib, json, sys\n"
        f"mods = {{m: importlib.import_module(m).__file__ for m in {(*THIRD_PARTY, 'clickstream')}}}\n"
        "print(json.dumps({'modules': mods, 'path': sys.path, 'prefix': sys.prefix}))\n"
    )
    out = subprocess.run(
        [str(environment / "bin" / "python"), "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
        cwd=environment.parent,
    )
    found = json.loads(out.stdout)
    site = str(environment / SITE_PACKAGES)
    assert all(path.startswith(site) for path in found["modules"].values()), found["modules"]
    others = [p for p in found["path"] if "-packages" in p and p != site]
    assert others == [], others


@pytest.mark.slow
@pytest.mark.skipif(not Path(NODE_PYTHON).exists(), reason=f"{NODE_PYTHON} is not installed")
def test_jobs_run_end_to_end_with_the_archive_python_and_sparks_own_pyspark_zip(
    environment: Path,
    emr_artifacts: Artifacts,
    spark: SparkSession,
    tmp_path: Path,
    assert_frames_equal: Callable[..., None],
) -> None:
    # GIVEN a small lake, and a container as spark-submit lays it out: ./environment, the
    # --files conf, the job script, and Spark's pyspark.zip and py4j on PYTHONPATH
    lake = tmp_path / "lake"
    sources = lf.build_lake(lake)
    for conf in emr_artifacts.conf_files:
        shutil.copyfile(conf, environment.parent / conf.name)
    spark_python = SPARK_HOME / "python" / "lib"
    python_path = [str(spark_python / "pyspark.zip"), *map(str, spark_python.glob("py4j-*.zip"))]
    inherited = ("PYTHON", "VIRTUAL_ENV", "PYSPARK", "SPARK_HOME")
    env = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    env |= {
        "SPARK_HOME": str(SPARK_HOME),
        "PYTHONPATH": ":".join(python_path),
        "PYSPARK_PYTHON": "./environment/bin/python",  # what spark.pyspark.python sets
    }
    settings = [f"lake_root={lake}", "catalog=none", "spark_master=local[1]"]
    # WHEN load_titles and curate_events run as the steps run them
    for job in ("load_titles", "curate_events"):
        script = emr_artifacts.dist_dir / "jobs" / f"{job}.py"
        command = ["./environment/bin/python", str(script), "--env", "local"]
        command += [arg for item in settings for arg in ("--set", item)]
        proc = subprocess.run(
            command, cwd=environment.parent, env=env, capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
    # THEN the events are exactly those of the lake
    expected = spark.createDataFrame(lf.expected_events(sources), table_schema(EVENTS))
    assert_frames_equal(read_table(spark, str(lake), EVENTS), expected)


def _emr_cluster() -> str:
    return boto3.client("emr").run_job_flow(
        Name="clickstream-test",
        ReleaseLabel="emr-7.5.0",
        Instances={
            "MasterInstanceType": "m5.xlarge",
            "InstanceCount": 1,
            "KeepJobFlowAliveWhenNoSteps": True,
        },
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
    )["JobFlowId"]


def test_emr_steps_run_in_order_with_the_archive_and_stop_the_chain_on_failure(
    settings: Settings, emr_artifacts: Artifacts, buckets: list[str]
) -> None:
    cluster = _emr_cluster()
    quiet = lambda _: None  # noqa: E731
    plan = deploy(settings, artifacts=emr_artifacts, emr_cluster_id=cluster, echo=quiet)
    assert [a.status for a in plan.actions if a.kind == "emr-step"] == ["added"] * len(JOB_NAMES)
    # THEN the archive is uploaded with the release
    head = boto3.client("s3").head_object(
        Bucket="clickstream-artifacts", Key=f"releases/{VERSION}/{ARCHIVE}"
    )
    assert head["ContentLength"] == emr_artifacts.emr_archives["x86_64"].stat().st_size
    # AND the steps keep the run order, each cancelling the rest when it fails
    steps = list(reversed(boto3.client("emr").list_steps(ClusterId=cluster)["Steps"]))
    assert [s["Name"] for s in steps] == [glue_job_name("dev", job) for job in JOB_NAMES]
    for step, job in zip(steps, JOB_NAMES, strict=True):
        assert step["ActionOnFailure"] == "CANCEL_AND_WAIT"
        assert step["Config"]["Args"] == [
            "spark-submit",
            "--deploy-mode",
            "cluster",
            "--archives",
            f"{RELEASE}/{ARCHIVE}#environment",
            "--conf",
            "spark.pyspark.python=./environment/bin/python",
            "--conf",
            "spark.yarn.appMasterEnv.PYSPARK_PYTHON=./environment/bin/python",
            # event logs beside the Glue jobs' (issue 28 item 4)
            "--conf",
            "spark.eventLog.enabled=true",
            "--conf",
            "spark.eventLog.dir=s3://clickstream-artifacts/releases/spark-event-logs/dev/",
            "--files",
            f"{RELEASE}/conf/base.yaml,{RELEASE}/conf/dev.yaml",
            f"{RELEASE}/jobs/{job}.py",
            "--env",
            "dev",
        ]
    # WHEN deploying again THEN nothing is uploaded or added
    again = deploy(settings, artifacts=emr_artifacts, emr_cluster_id=cluster, echo=quiet)
    assert not again.changed, again.summary()
    assert [a.status for a in again.actions if a.kind == "emr-step"] == ["skipped"] * len(JOB_NAMES)


def test_emr_deploy_without_an_archive_names_make_package(
    settings: Settings, artifacts: Artifacts
) -> None:
    from clickstream.aws.deploy import DeployError

    with pytest.raises(DeployError, match="make package"):
        deploy(settings, dry_run=True, artifacts=artifacts, emr_cluster_id="j-TEST", echo=print)


def test_dry_run_lists_the_emr_steps(settings: Settings, emr_artifacts: Artifacts) -> None:
    plan = deploy(
        settings, dry_run=True, artifacts=emr_artifacts, emr_cluster_id="j-TEST", echo=print
    )
    planned = {a.target for a in plan.actions if a.status == "planned"}
    assert {f"j-TEST:{glue_job_name('dev', job)}" for job in JOB_NAMES} <= planned
    assert f"{RELEASE}/{ARCHIVE}" in planned
