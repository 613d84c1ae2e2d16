"""make trino's helper: the pinned version, finding a JDK >= 24, the one-line failure, the stamp."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from clickstream_tools import trino_server
from clickstream_tools.trino_server import NO_JDK, find_jdk, install, java_major, trino_version


def _fake_jdk(root: Path, name: str, version: str) -> Path:
    """A folder that looks like a JDK: bin/java and a release file naming its version."""
    home = root / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\nexit 1\n")
    (home / "release").write_text(f'IMPLEMENTOR="x"\nJAVA_VERSION="{version}"\n')
    return home


def test_the_pinned_trino_version_comes_from_its_pom() -> None:
    # THEN the version make trino fetches is the one jvm/trino/pom.xml pins
    assert trino_version() == "476"


def test_the_newest_jdk_of_24_or_later_is_found_under_the_jvm_folder(tmp_path: Path) -> None:
    # GIVEN Spark's JDK 17, a JDK 25 and a JDK 24 side by side, and no JAVA_HOME
    _fake_jdk(tmp_path, "java-17-openjdk-amd64", "17.0.15")
    newest = _fake_jdk(tmp_path, "temurin-25-jdk-amd64", "25.0.3")
    _fake_jdk(tmp_path, "jdk-24", "24.0.1")
    # WHEN the tier looks for a JDK
    found = find_jdk({}, (tmp_path,))
    # THEN it takes the newest that Trino accepts
    assert found == newest and java_major(newest) == 25


def test_trino_java_home_wins_and_an_old_java_home_is_passed_over(tmp_path: Path) -> None:
    # GIVEN JAVA_HOME at Spark's JDK 17, TRINO_JAVA_HOME at a JDK 24
    old = _fake_jdk(tmp_path / "a", "jdk17", "17.0.2")
    chosen = _fake_jdk(tmp_path / "b", "jdk24", "24")
    # THEN TRINO_JAVA_HOME is used; JAVA_HOME alone (17) is not enough
    assert find_jdk({"TRINO_JAVA_HOME": str(chosen), "JAVA_HOME": str(old)}, ()) == chosen
    assert find_jdk({"JAVA_HOME": str(old)}, ()) is None


def test_without_a_jdk_24_make_trino_fails_with_one_line_naming_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a machine with only Java 17
    _fake_jdk(tmp_path, "java-17-openjdk-amd64", "17.0.15")
    monkeypatch.delenv("TRINO_JAVA_HOME", raising=False)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(trino_server, "JVM_DIRS", (tmp_path,))
    monkeypatch.setattr(trino_server, "install", lambda *a, **k: pytest.fail("no install"))
    # WHEN make trino runs
    code = trino_server.main(["install"])
    # THEN it exits 1 with one line that says what to install
    err = capsys.readouterr().err
    assert code == 1 and err == NO_JDK + "\n"
    assert "JDK >= 24" in err and "Temurin 25" in err and "\n" not in err.rstrip("\n")


def test_an_installed_server_is_not_fetched_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN .trino/ holding the pinned server with the pinned plugins, and its stamp
    home = tmp_path / "trino-server-476"
    (home / "lib").mkdir(parents=True)
    (tmp_path / ".installed").write_text("trino-server-476 plugins=hive,delta-lake\n")

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"nothing may run: {args}")

    monkeypatch.setattr(subprocess, "run", no_download)
    # WHEN make trino runs again, THEN nothing is downloaded or unpacked
    assert install(tmp_path, echo=False) == home
