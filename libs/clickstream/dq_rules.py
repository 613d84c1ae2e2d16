"""Data-quality rules on a curate_events run: what each checks, its threshold, warn or fail.

Rules (config `dq_rules`, rule -> {threshold, action}; a null threshold turns a rule off):
- quarantine_rate_max: percent of the run's records read that were quarantined;
- volume_drop_max: percent by which the run's curated events fall below the median of the runs
  that started in the same UTC hour on each of the last 7 days (skipped with fewer than
  VOLUME_MIN_DAYS such days);
- freshness_max_minutes: minutes from the newest raw object curated so far to the run's end;
- event_id_unique: event_ids stored more than once on the dates the run wrote (threshold 0).

A rule passes, warns (action warn) or fails (action fail); a failing `fail` rule ends the run
after its data is committed (clickstream.pipeline.dq_check). Evaluation here is pure: figures in,
results out; the history and the uniqueness count are read by the caller.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from clickstream.reasons import FORGOTTEN_USER

RULES = ("quarantine_rate_max", "volume_drop_max", "freshness_max_minutes", "event_id_unique")
ACTIONS = ("warn", "fail")
# Days of history volume_drop_max needs before it judges (fewer: status skip).
VOLUME_MIN_DAYS = 3
VOLUME_DAYS = 7
PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
# The exit code of a run a `fail` rule ended (config errors are 2, other failures 1).
DQ_EXIT = 3


class DataQualityFailed(RuntimeError):
    """A `fail` rule failed: the run's data is committed; the message is the one line to read."""


@dataclass(frozen=True)
class Rule:
    """A configured rule: its threshold (None: off) and what a breach does."""

    name: str
    threshold: float | None
    action: str


@dataclass(frozen=True)
class Result:
    """One rule judged on one run: the value, the threshold, the status and a readable detail."""

    rule: str
    action: str
    status: str
    value: float | None
    threshold: float | None
    observed: int | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """The result as a run summary and dq_results row hold it."""
        return asdict(self)

    @property
    def line(self) -> str:
        """One line naming the rule, its value and its threshold."""
        return f"data quality: {self.rule} {self.status}: {self.detail}"


def parse_rules(raw: Mapping[str, Any]) -> dict[str, Rule]:
    """dq_rules as validated Rules; a ValueError names the key and the fix."""
    rules: dict[str, Rule] = {}
    for name, spec in raw.items():
        if name not in RULES:
            raise ValueError(f"dq_rules.{name}: unknown rule; rules are: {', '.join(RULES)}")
        if not isinstance(spec, Mapping):
            raise ValueError(
                f"dq_rules.{name}={spec!r}: expected a mapping, e.g. {{threshold: 5, action: warn}}"
            )
        unknown = sorted(set(spec) - {"threshold", "action"})
        if unknown:
            raise ValueError(f"dq_rules.{name}: unknown field(s) {unknown}; use threshold, action")
        action = str(spec.get("action", "warn"))
        if action not in ACTIONS:
            raise ValueError(f"dq_rules.{name}.action={action!r}: use warn or fail")
        rules[name] = Rule(name, _threshold(name, spec.get("threshold")), action)
    return rules


def _threshold(name: str, raw: Any) -> float | None:
    if raw is None or raw in ("null", "None", "~"):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = -1.0
    if value < 0 or value != value or (name.endswith("_max") and value == float("inf")):
        raise ValueError(
            f"dq_rules.{name}.threshold={raw!r}: expected a number >= 0, or null to turn the "
            "rule off"
        )
    if name == "volume_drop_max" and value > 100:
        raise ValueError(f"dq_rules.{name}.threshold={raw!r}: a drop is a percent from 0 to 100")
    return value


def judge(rule: Rule, value: float, observed: int | None, detail: str) -> Result:
    """The rule's result for a value: above the threshold breaches it."""
    assert rule.threshold is not None
    status = PASS if value <= rule.threshold else (FAIL if rule.action == "fail" else WARN)
    return Result(rule.name, rule.action, status, value, rule.threshold, observed, detail)


def judged_records(figures: Mapping[str, Any]) -> tuple[int, int]:
    """(records read, quarantined) as quarantine_rate_max judges them: the records of forgotten
    users are set aside by policy (clickstream forget), not broken, so they count in neither."""
    forgotten = int((figures.get("quarantined_by_reason") or {}).get(FORGOTTEN_USER, 0))
    read, quarantined = figures.get("records_read", 0), figures.get("quarantined", 0)
    return int(read) - forgotten, int(quarantined) - forgotten


def quarantine_rate(rule: Rule, records_read: int, quarantined: int) -> Result:
    """Percent of the records read that were quarantined (0 when none was read)."""
    rate = 100.0 * quarantined / records_read if records_read else 0.0
    detail = (
        f"{rate:.2f}% of {records_read:,} records quarantined ({quarantined:,}); "
        f"threshold {rule.threshold:g}%"
    )
    return judge(rule, round(rate, 4), quarantined, detail)


def volume_drop(rule: Rule, curated: int, history: Sequence[int], hour: int) -> Result:
    """Percent the run's curated events fall below the median of the same hour's past days."""
    if len(history) < VOLUME_MIN_DAYS:
        detail = (
            f"{curated:,} curated; {len(history)} earlier day(s) with a run in hour {hour:02d} "
            f"UTC, {VOLUME_MIN_DAYS} needed"
        )
        return Result(rule.name, rule.action, SKIP, None, rule.threshold, curated, detail)
    median = statistics.median(history)
    drop = max(0.0, 100.0 * (1 - curated / median)) if median else 0.0
    detail = (
        f"{curated:,} curated against a median of {median:,.0f} in hour {hour:02d} UTC over "
        f"{len(history)} day(s): drop {drop:.1f}%, threshold {rule.threshold:g}%"
    )
    return judge(rule, round(drop, 4), curated, detail)


def freshness(rule: Rule, newest: datetime | None, now: datetime) -> Result:
    """Minutes from the newest raw object curated so far to now (breached when none exists)."""
    if newest is None:
        detail = f"no raw object curated yet; threshold {rule.threshold:g} min"
        status = FAIL if rule.action == "fail" else WARN
        return Result(rule.name, rule.action, status, None, rule.threshold, None, detail)
    minutes = max(0.0, (now - newest).total_seconds() / 60)
    detail = (
        f"newest object curated arrived {minutes:,.1f} min ago ({newest.isoformat()}); "
        f"threshold {rule.threshold:g} min"
    )
    return judge(rule, round(minutes, 2), None, detail)


def event_id_unique(rule: Rule, duplicates: int, dates: int) -> Result:
    """event_ids stored more than once on the dates written (extra copies counted)."""
    detail = (
        f"{duplicates:,} extra cop(ies) of an event_id on the {dates} date(s) written; "
        f"threshold {rule.threshold:g}"
    )
    return judge(rule, float(duplicates), duplicates, detail)


def failures(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """The one-line messages of the results whose fail rule failed."""
    return [
        f"data quality: {r['rule']} {r['status']}: {r['detail']}"
        for r in results
        if r.get("status") == FAIL
    ]
