"""Rules pinned to the lake: the first run records them, a run with another value refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clickstream import cli
from clickstream.config import ConfigError, load_settings
from clickstream.lake_rules import FINGERPRINT, PRIVACY_OFF, RULES_KEY, check_rules


def _settings(lake: Path, *overrides: str):  # type: ignore[no-untyped-def]
    return load_settings("local", [f"lake_root={lake}", "catalog=none", *overrides])


def test_the_first_run_records_the_lake_rules(tmp_path: Path) -> None:
    # WHEN the first run checks the rules of an empty lake
    check_rules(_settings(tmp_path, "timezone=Asia/Seoul", "repeat_window_seconds=2"))
    # THEN they are recorded, the session cap, the plausible time window and privacy included
    assert json.loads((tmp_path / RULES_KEY).read_text()) == {
        "timezone": "Asia/Seoul",
        "session_timeout_minutes": 30,
        "repeat_window_seconds": 2,
        "max_session_hours": 24,
        "event_time_max_future_minutes": 1440,
        "event_time_max_age_days": 30,
        **PRIVACY_OFF,
        FINGERPRINT: None,
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
    pinned = {
        **old,
        "event_time_max_future_minutes": 1440,
        "event_time_max_age_days": 7,
        **PRIVACY_OFF,
        FINGERPRINT: None,
    }
    assert recorded == pinned
    assert json.loads((tmp_path / RULES_KEY).read_text()) == pinned
    # ... and from then on they are pinned like the others
    with pytest.raises(ConfigError, match="event_time_max_age_days=30 differs from 7"):
        check_rules(_settings(tmp_path))
    assert check_rules(_settings(tmp_path, "event_time_max_age_days=7")) == pinned


KEY_ENV = "TEST_LAKE_RULES_KEY"


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("properties_drop", "email", "email"),
        ("properties_hash", "$.device.id", "device.id"),
        ("properties_mask_ip", "ip", "ip"),
        ("pseudonymize_user_id", "true", "True"),
    ],
)
def test_a_privacy_rule_is_pinned_like_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, value: str, shown: str
) -> None:
    # GIVEN a lake built without field controls
    monkeypatch.setenv(KEY_ENV, "k" * 32)
    check_rules(_settings(tmp_path, f"pseudonymize_key_env={KEY_ENV}"))
    # WHEN a run turns one on THEN it refuses, naming the key and the rebuild
    with pytest.raises(ConfigError) as refused:
        check_rules(_settings(tmp_path, f"{key}={value}", f"pseudonymize_key_env={KEY_ENV}"))
    assert str(refused.value).startswith(f"{key}=") and "clickstream rebuild" in str(refused.value)
    assert shown in str(refused.value)


def test_the_order_of_paths_is_not_a_rule_change(tmp_path: Path) -> None:
    check_rules(_settings(tmp_path, "properties_drop=email,$.context.q"))
    assert check_rules(_settings(tmp_path, "properties_drop=context.q,email"))[
        "properties_drop"
    ] == ["context.q", "email"]


def test_a_run_with_another_pseudonymize_key_refuses_naming_the_setting_not_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a pseudonymized lake: rules.json holds the key's fingerprint, never the key
    on = ("pseudonymize_user_id=true", f"pseudonymize_key_env={KEY_ENV}")
    monkeypatch.setenv(KEY_ENV, "first-key-" + "a" * 30)
    check_rules(_settings(tmp_path, *on))
    recorded = (tmp_path / RULES_KEY).read_text()
    assert "first-key" not in recorded and json.loads(recorded)[FINGERPRINT]
    # WHEN a run has another key in the variable
    monkeypatch.setenv(KEY_ENV, "other-key-" + "b" * 30)
    with pytest.raises(ConfigError) as refused:
        check_rules(_settings(tmp_path, *on))
    # THEN it refuses, naming the setting and the rebuild, printing neither key
    message = str(refused.value)
    assert message.startswith(f"pseudonymize_key_env={KEY_ENV!r}: the pseudonymize key differs")
    assert "clickstream rebuild" in message
    assert "first-key" not in message and "other-key" not in message
    # AND the lake's key still passes
    monkeypatch.setenv(KEY_ENV, "first-key-" + "a" * 30)
    check_rules(_settings(tmp_path, *on))


def test_an_older_lake_takes_the_privacy_rules_off_on_its_next_run_but_not_on(
    tmp_path: Path,
) -> None:
    # GIVEN a lake whose rules.json predates the privacy rules
    old = {"timezone": "UTC", "session_timeout_minutes": 30, "repeat_window_seconds": 0}
    (tmp_path / RULES_KEY).parent.mkdir(parents=True)
    (tmp_path / RULES_KEY).write_text(json.dumps(old))
    # WHEN its next run drops an email THEN it refuses: stored rows hold it
    with pytest.raises(ConfigError, match="holds rows stored without it; rebuild"):
        check_rules(_settings(tmp_path, "properties_drop=email"))
    # AND a run without controls records them off
    assert check_rules(_settings(tmp_path))["properties_drop"] == []
