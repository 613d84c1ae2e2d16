"""Rules pinned to the lake: the first run records them, a run with another value refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clickstream import cli
from clickstream.config import ConfigError, load_settings
from clickstream.lake_rules import RULES_KEY, check_rules


def _settings(lake: Path, *overrides: str):  # type: ignore[no-untyped-def]
    return load_settings("local", [f"lake_root={lake}", "catalog=none", *overrides])


def test_the_first_run_records_the_lake_rules(tmp_path: Path) -> None:
    # WHEN the first run checks the rules of an empty lake
    check_rules(_settings(tmp_path, "timezone=Asia/Seoul", "repeat_window_seconds=2"))
    # THEN they are recorded, the session cap and the plausible time window included
    assert json.loads((tmp_path / RULES_KEY).read_text()) == {
        "timezone": "Asia/Seoul",
        "session_timeout_minutes": 30,
        "repeat_window_seconds": 2,
        "max_session_hours": 24,
        "event_time_max_future_minutes": 1440,
        "event_time_max_age_days": 30,
    }


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("timezone", "Asia/Seoul"),
        ("session_timeout_minutes", "45"),
        ("repeat_window_seconds", "5"),
        ("max_session_hours", "12"),
        ("event_time_max_future_minutes", "60"),
        ("event_time_max_age_days", "null"),
    ],
)
def test_a_run_with_another_rule_refuses_naming_the_key_both_values_and_the_rebuild(
    tmp_path: Path, key: str, value: str
) -> None:
    # GIVEN a lake built with the defaults
    check_rules(_settings(tmp_path))
    # WHEN a run sets another value THEN it refuses, naming key, both values and the rebuild
    with pytest.raises(ConfigError) as refused:
        check_rules(_settings(tmp_path, f"{key}={value}"))
    message = str(refused.value)
    assert message.startswith(f"{key}=") and value in message
    assert f"clickstream rebuild --set {key}={value}" in message
    # AND the recorded rules are unchanged; the same values still pass
    check_rules(_settings(tmp_path))


def test_the_cli_refuses_another_timezone_in_one_line_before_spark_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a lake whose rules say UTC
    check_rules(_settings(tmp_path))
    # WHEN the README's example runs on it with Asia/Seoul
    code = cli.main(
        ["run", "curate_events", "--set", f"lake_root={tmp_path}", "--set", "timezone=Asia/Seoul"]
    )
    # THEN it exits 2 with one line naming the key, both values and the rebuild command
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "timezone='Asia/Seoul' differs from 'UTC'" in err[0] and "clickstream rebuild" in err[0]
    assert not (tmp_path / "curated").exists()


def test_a_lake_pinned_with_a_bound_off_refuses_a_run_with_the_bound_on(tmp_path: Path) -> None:
    # GIVEN a lake built with the age bound off
    check_rules(_settings(tmp_path, "event_time_max_age_days=null"))
    # WHEN a run uses the default bound / THEN it refuses, naming null as the lake's value
    with pytest.raises(ConfigError) as refused:
        check_rules(_settings(tmp_path))
    assert "run with --set event_time_max_age_days=null" in str(refused.value)
    assert "clickstream rebuild --set event_time_max_age_days=30" in str(refused.value)


def test_a_lake_older_than_a_rule_records_it_on_its_next_run_and_pins_it(tmp_path: Path) -> None:
    # GIVEN a lake whose rules.json predates the plausible time window
    old = {
        "timezone": "UTC",
        "session_timeout_minutes": 30,
        "repeat_window_seconds": 0,
        "max_session_hours": 24,
    }
    (tmp_path / RULES_KEY).parent.mkdir(parents=True)
    (tmp_path / RULES_KEY).write_text(json.dumps(old))
    # WHEN its next run checks the rules with a 7-day age bound
    recorded = check_rules(_settings(tmp_path, "event_time_max_age_days=7"))
    # THEN the new rules are recorded with the values that run used, the old ones kept ...
    pinned = {**old, "event_time_max_future_minutes": 1440, "event_time_max_age_days": 7}
    assert recorded == pinned
    assert json.loads((tmp_path / RULES_KEY).read_text()) == pinned
    # ... and from then on they are pinned like the others
    with pytest.raises(ConfigError, match="event_time_max_age_days=30 differs from 7"):
        check_rules(_settings(tmp_path))
    assert check_rules(_settings(tmp_path, "event_time_max_age_days=7")) == pinned
