"""Data-quality rules as configured and judged (clickstream.dq_rules): pure, no Spark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clickstream.config import ConfigError, load_settings
from clickstream.dq_rules import (
    FAIL,
    PASS,
    SKIP,
    WARN,
    Rule,
    event_id_unique,
    failures,
    freshness,
    judged_records,
    parse_rules,
    quarantine_rate,
    volume_drop,
)
from clickstream.run_metrics import metric_data


def test_defaults_warn_locally_fail_on_duplicates_and_prod_fails_on_quarantine_rate() -> None:
    local = load_settings("local").dq_rules
    assert local["quarantine_rate_max"] == {"threshold": 5.0, "action": "warn"}
    assert local["freshness_max_minutes"]["threshold"] is None  # sample data is never fresh
    assert local["event_id_unique"] == {"threshold": 0.0, "action": "fail"}
    prod = load_settings("prod").dq_rules
    assert prod["quarantine_rate_max"]["action"] == "fail"
    assert prod["freshness_max_minutes"] == {"threshold": 180.0, "action": "warn"}


def test_set_changes_one_field_of_one_rule_and_null_turns_it_off() -> None:
    rules = load_settings(
        "local",
        ["dq_rules.volume_drop_max.action=fail", "dq_rules.quarantine_rate_max.threshold=null"],
    ).dq_rules
    assert rules["volume_drop_max"] == {"threshold": 50.0, "action": "fail"}
    assert rules["quarantine_rate_max"] == {"threshold": None, "action": "warn"}


@pytest.mark.parametrize(
    ("item", "named"),
    [
        ("dq_rules.row_count_min.threshold=3", "dq_rules.row_count_min: unknown rule"),
        ("dq_rules.volume_drop_max.action=page", "dq_rules.volume_drop_max.action='page'"),
        ("dq_rules.volume_drop_max.threshold=-1", "dq_rules.volume_drop_max.threshold='-1'"),
        ("dq_rules.volume_drop_max.threshold=150", "a drop is a percent from 0 to 100"),
        ("dq_rules.volume_drop_max.limit=3", "unknown field(s) ['limit']"),
        ("dq_rules.volume_drop_max=3", "--set dq_rules.volume_drop_max.threshold=5"),
    ],
)
def test_a_bad_rule_fails_fast_naming_the_key_and_the_fix(item: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings("local", [item])
    assert named in str(caught.value)


def test_quarantine_rate_judges_the_percent_and_a_run_that_read_nothing_passes() -> None:
    rule = Rule("quarantine_rate_max", 5.0, "fail")
    breach = quarantine_rate(rule, records_read=200, quarantined=11)
    assert (breach.status, breach.value, breach.observed) == (FAIL, 5.5, 11)
    assert "5.50% of 200 records quarantined (11); threshold 5%" in breach.line
    assert quarantine_rate(rule, 200, 10).status == PASS  # exactly the threshold passes
    assert quarantine_rate(rule, 0, 0).status == PASS


def test_the_records_of_forgotten_users_count_neither_as_read_nor_as_quarantined() -> None:
    figures = {
        "records_read": 100,
        "quarantined": 30,
        "quarantined_by_reason": {"forgotten_user": 25, "not_json": 5},
    }
    assert judged_records(figures) == (75, 5)
    assert judged_records({"records_read": 0, "quarantined": 0}) == (0, 0)
    judged = quarantine_rate(Rule("quarantine_rate_max", 10.0, "fail"), *judged_records(figures))
    assert judged.status == PASS  # 5 of 75, not 30 of 100


def test_volume_drop_is_against_the_median_day_and_skips_without_three_days_of_history() -> None:
    rule = Rule("volume_drop_max", 50.0, "warn")
    # median of 900, 1000, 5000 (an outlier day) is 1000: 400 is a 60% drop
    judged = volume_drop(rule, 400, [900, 5000, 1000], hour=13)
    assert (judged.status, judged.value) == (WARN, pytest.approx(60.0))
    assert "median of 1,000 in hour 13 UTC over 3 day(s)" in judged.detail
    assert volume_drop(rule, 500, [1000, 1000, 1000], 13).status == PASS
    # more than the median is no drop
    assert volume_drop(rule, 3000, [1000, 1000, 1000], 13).value == 0.0
    skipped = volume_drop(rule, 0, [1000, 1000], 13)
    assert (skipped.status, skipped.value, skipped.observed) == (SKIP, None, 0)


def test_freshness_breaches_when_the_newest_object_is_old_or_none_was_ever_curated() -> None:
    rule = Rule("freshness_max_minutes", 180.0, "warn")
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert freshness(rule, now - timedelta(minutes=180), now).status == PASS
    late = freshness(rule, now - timedelta(minutes=181), now)
    assert (late.status, late.value) == (WARN, 181.0)
    assert freshness(rule, None, now).status == WARN


def test_event_id_unique_fails_on_one_extra_copy_and_failures_name_only_fail_rules() -> None:
    rule = Rule("event_id_unique", 0.0, "fail")
    broken = event_id_unique(rule, 1, 2)
    assert broken.status == FAIL
    warned = quarantine_rate(Rule("quarantine_rate_max", 1.0, "warn"), 10, 5)
    lines = failures([broken.as_dict(), warned.as_dict(), event_id_unique(rule, 0, 2).as_dict()])
    assert lines == [
        "data quality: event_id_unique fail: 1 extra cop(ies) of an event_id on the 2 date(s) "
        "written; threshold 0"
    ]


def test_parse_rules_keeps_every_rule_and_its_action() -> None:
    rules = parse_rules({"event_id_unique": {"threshold": 0, "action": "fail"}})
    assert rules == {"event_id_unique": Rule("event_id_unique", 0.0, "fail")}


def test_metrics_count_failed_fail_rules_and_warnings_for_the_alarms() -> None:
    at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    dq = [{"status": FAIL}, {"status": WARN}, {"status": WARN}, {"status": PASS}]
    data = {
        d["MetricName"]: d["Value"] for d in metric_data("prod", "curate_events", {"dq": dq}, at)
    }
    assert (data["dq_failures"], data["dq_warnings"]) == (1.0, 2.0)
