"""Config loading: layered YAML, --set overrides, and fail-fast errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from clickstream.config import ConfigError, conf_dir, load_settings


def test_local_env_defaults_to_lake_folder_in_repo() -> None:
    settings = load_settings("local")
    assert settings.lake.endswith("/.lake")
    assert settings.timezone == "UTC"
    assert settings.session_timeout_minutes == 30


def test_set_overrides_are_coerced_to_the_type_of_the_default() -> None:
    settings = load_settings(
        "local", ["session_timeout_minutes=45", "timezone=Asia/Seoul", "lake_root=/tmp/x"]
    )
    assert settings.session_timeout_minutes == 45
    assert settings.timezone == "Asia/Seoul"
    assert settings.lake == "/tmp/x"


def test_set_into_a_mapping_key_merges_with_the_environment_values() -> None:
    settings = load_settings("local", ["spark_conf.spark.driver.memory=4g"])
    assert settings.spark_conf["spark.driver.memory"] == "4g"
    assert "spark.sql.shuffle.partitions" in settings.spark_conf


def test_dev_lake_root_refers_to_lake_uri() -> None:
    settings = load_settings("dev", ["lake_uri=s3://other-lake"])
    assert settings.lake == "s3://other-lake"
    assert not settings.is_local_lake


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["sesion_timeout_minutes=5"], "unknown key 'sesion_timeout_minutes'"),
        (
            ["session_timeout_minutes=soon"],
            "session_timeout_minutes='soon': expected a whole number",
        ),
        (["session_timeout_minutes=0"], "session_timeout_minutes=0: expected a whole number >= 1"),
        (["timezone=Mars/Base"], "timezone='Mars/Base': not an IANA time zone"),
        (["bookmark_option=on"], "bookmark_option='on': use one of job-bookmark-enable"),
        (["timezone"], "expected KEY=VALUE"),
        (["rebalance_events=sometimes"], "rebalance_events='sometimes': expected true or false"),
        (
            ["bookmark_lookback_hours=0"],
            "bookmark_lookback_hours=0: expected a whole number of hours",
        ),
        (
            ["bookmark_lookback_hours=two days"],
            "bookmark_lookback_hours='two days': expected a whole",
        ),
        (
            ["event_time_max_future_minutes=soon"],
            "event_time_max_future_minutes='soon': expected a whole number or null",
        ),
        (
            ["event_time_max_age_days=-1"],
            "event_time_max_age_days=-1: expected a whole number from 0 to 3652425, e.g. 30, "
            "or null to turn the bound off",
        ),
        (["max_object_mib=0"], "max_object_mib=0: expected a whole number from 1 to"),
        (["max_object_mib=null"], "max_object_mib='null': expected a whole number"),
        (
            ["max_record_kib=20000"],
            "max_record_kib=20000: expected a whole number from 1 to 10240: KiB of one record",
        ),
    ],
)
def test_bad_settings_fail_fast_naming_the_key(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_settings("local", overrides)


def test_unknown_environment_lists_the_available_ones() -> None:
    with pytest.raises(ConfigError, match="available: dev, local, prod"):
        load_settings("staging")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["promoted_fields.title=string"],
            "promoted_fields.title: clashes with the events column 'title'; remove it from "
            "promoted_fields",
        ),
        (["promoted_fields.dt=string"], "promoted_fields.dt: clashes with the events column 'dt'"),
        (
            ["promoted_fields.properties=string"],
            "promoted_fields.properties: clashes with the events column 'properties'",
        ),
        (["promoted_fields.duration_ms=int"], "promoted_fields.duration_ms='int': use one of"),
        (["promoted_fields.appVersion=string"], "promoted_fields.appVersion: 'appVersion' is not"),
    ],
)
def test_a_promoted_field_that_clashes_or_has_no_known_type_is_a_config_error(
    overrides: list[str], message: str
) -> None:
    # GIVEN a promoted field named like an events column, or of an unknown type
    # WHEN the settings load, THEN one line names the key and the fix
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_settings("local", overrides)


def test_promoted_fields_keep_the_order_they_are_given_in() -> None:
    # GIVEN two promoted fields set in this order
    settings = load_settings(
        "local", ["promoted_fields.duration_ms=long", "promoted_fields.app_version=string"]
    )
    # THEN the mapping keeps it (the columns are appended in config order)
    assert list(settings.promoted_fields.items()) == [
        ("duration_ms", "long"),
        ("app_version", "string"),
    ]


def test_the_plausible_time_window_defaults_to_a_day_ahead_and_30_days_back() -> None:
    # GIVEN no override / WHEN loaded / THEN the contract's defaults, and the size limits
    settings = load_settings("local")
    assert (settings.event_time_max_future_minutes, settings.event_time_max_age_days) == (1440, 30)
    assert (settings.max_object_mib, settings.max_record_kib) == (1024, 1000)


@pytest.mark.parametrize("null", ["null", "None", "~"])
def test_set_null_turns_a_time_bound_off(null: str) -> None:
    # GIVEN --set KEY=null for each bound / WHEN loaded / THEN the bound is None (off)
    settings = load_settings(
        "local", [f"event_time_max_future_minutes={null}", f"event_time_max_age_days={null}"]
    )
    assert settings.event_time_max_future_minutes is None
    assert settings.event_time_max_age_days is None


def test_a_yaml_null_turns_a_time_bound_off_and_zero_is_a_bound(tmp_path: Path) -> None:
    # GIVEN an environment file setting one bound to null and the other to 0
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "base.yaml").write_text((conf_dir() / "base.yaml").read_text())
    (conf / "edge.yaml").write_text(
        "event_time_max_age_days: null\nevent_time_max_future_minutes: 0\n"
    )
    # WHEN loaded / THEN null is off and 0 a bound (nothing after ingested_at)
    settings = load_settings("edge", conf_root=conf)
    assert settings.event_time_max_age_days is None
    assert settings.event_time_max_future_minutes == 0
