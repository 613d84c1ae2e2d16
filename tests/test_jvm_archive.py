"""The class-data-sharing archive local sessions map (clickstream.jvm_archive)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyspark
import pytest

from clickstream import jars, jvm_archive


def test_options_name_the_archive_only_when_it_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an archive path that has no file yet
    archive = tmp_path / "classes.jsa"
    monkeypatch.setenv(jvm_archive.ARCHIVE_ENV, str(archive))
    # THEN the JVM options are left as they are
    assert jvm_archive.with_archive("-Duser.timezone=UTC") == "-Duser.timezone=UTC"
    # WHEN the archive exists THEN they map it, quietly (a JVM that cannot use it goes on without)
    archive.write_bytes(b"")
    options = jvm_archive.with_archive("-Duser.timezone=UTC")
    assert options.startswith("-Duser.timezone=UTC -XX:SharedArchiveFile=")
    assert str(archive) in options and "-Xlog:cds=off" in options


def test_options_that_already_name_an_archive_are_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "classes.jsa"
    archive.write_bytes(b"")
    monkeypatch.setenv(jvm_archive.ARCHIVE_ENV, str(archive))
    own = "-XX:SharedArchiveFile=/elsewhere.jsa"
    assert jvm_archive.with_archive(own) == own


def test_the_child_that_builds_the_archive_dumps_instead_of_mapping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("_CLICKSTREAM_JVM_ARCHIVE_DUMP", str(tmp_path / "new.jsa"))
    options = jvm_archive.with_archive("")
    assert f"-XX:ArchiveClassesAtExit={tmp_path / 'new.jsa'}" in options
    assert "SharedArchiveFile" not in options


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    assert java, "no java on PATH"
    return java


def test_the_installed_archive_serves_spark_classes_to_this_jdk() -> None:
    # GIVEN the archive `make install` builds for this virtualenv
    archive = jvm_archive.archive_path()
    if not archive.is_file():
        pytest.skip(f"{archive} not built: `make install` builds it")
    # WHEN a JVM starts with Spark's class path (as spark-submit starts it) and these options
    home = Path(pyspark.__file__).parent
    out = subprocess.run(
        [
            _java(),
            *jvm_archive.with_archive("").split(),
            "-Xlog:class+load=info",
            "-cp",
            f"{home / 'conf'}:{home / 'jars'}/*",
            "org.apache.spark.deploy.SparkSubmit",
            "--version",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # THEN Spark's classes come from the archive, not from the jars
    assert "org.apache.spark.deploy.SparkSubmit source: shared objects file" in out.stdout


@pytest.mark.slow
def test_a_session_with_the_installed_jars_still_maps_the_archive(tmp_path: Path) -> None:
    # GIVEN the archive and the jars `make install` put in place (S3A and Delta)
    archive = jvm_archive.archive_path()
    if not archive.is_file():
        pytest.skip(f"{archive} not built: `make install` builds it")
    log = tmp_path / "classes.log"
    script = f"""
from clickstream import jars
from clickstream.spark import DELTA_CONF, SHORT_RUN_JAVA_OPTIONS, jars_conf, local_session
conf = {{**jars_conf(*jars.S3A, *jars.DELTA), **DELTA_CONF}}
conf["spark.driver.extraJavaOptions"] = SHORT_RUN_JAVA_OPTIONS + " -Xlog:class+load=info:file={log}"
spark = local_session("archive-with-jars", conf)
assert spark.sql("select 1").first()[0] == 1
spark.stop()
"""
    # WHEN a local session starts with those jars in spark.jars
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    loaded = log.read_text()
    # THEN Spark's classes still come from the archive, and Delta's from the installed jar
    assert "org.apache.spark.SparkContext source: shared objects file" in loaded
    delta_jar = jars.jars_for("delta-spark_2.12")[0]
    assert f"io.delta.sql.DeltaSparkSessionExtension source: file:{delta_jar}" in loaded
