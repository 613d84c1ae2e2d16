"""The bench harness's command line: overrides reach every Spark measurement (bench.harness)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clickstream_tools.bench import harness


def test_set_overrides_reach_the_pipeline_and_the_scan_children(tmp_path: Path) -> None:
    # GIVEN a --set override and event logging
    overrides = harness.measurement_overrides(["spark_conf.spark.driver.memory=3g"], tmp_path)
    for name in ("pipeline", "scan"):
        # WHEN the harness builds a Spark measurement's command line
        argv = harness._argv(name, tmp_path, tmp_path, tmp_path / "r.json", overrides)
        # THEN the override and the event-log settings are passed on
        sets = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--set"]
        assert sets[0] == "spark_conf.spark.driver.memory=3g"
        assert "spark_conf.spark.eventLog.enabled=true" in sets


def test_without_event_logging_only_the_users_overrides_are_passed() -> None:
    assert harness.measurement_overrides(["timezone=Asia/Seoul"], None) == ["timezone=Asia/Seoul"]


def test_a_bad_set_key_fails_before_anything_is_generated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        harness.main(["--events", "10", "--out", str(tmp_path), "--set", "no_such_key=1"])
    assert exit_info.value.code == 2
    assert "unknown key 'no_such_key'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
