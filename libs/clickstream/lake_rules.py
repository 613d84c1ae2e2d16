"""Rules pinned to the lake: the settings that decide what the stored rows are.

The first run records timezone, session_timeout_minutes, repeat_window_seconds,
max_session_hours and the plausible event_time window (event_time_max_future_minutes,
event_time_max_age_days) in <lake>/_state/rules.json. A lake whose rules.json predates a rule
records that rule on its next run, with the value the run uses: from then on it is pinned too.
A later run with another value refuses to start, before Spark does: mixing two calendars,
session rules or plausibility windows in one table is never exact. Changing a rule means
rebuilding the lake from its raw objects with `clickstream rebuild`.
"""

from __future__ import annotations

import json

from clickstream.config import ConfigError, Settings
from clickstream.state_store import StateStore, store_for

RULE_KEYS = (
    "timezone",
    "session_timeout_minutes",
    "repeat_window_seconds",
    "max_session_hours",
    "event_time_max_future_minutes",
    "event_time_max_age_days",
)
RULES_KEY = "_state/rules.json"


def rules_of(settings: Settings) -> dict[str, object]:
    """The pinned settings' values."""
    return {key: settings.values[key] for key in RULE_KEYS}


def _shown(value: object) -> str:
    """A value as --set takes it (None is null)."""
    return "null" if value is None else str(value)


def check_rules(settings: Settings) -> dict[str, object]:
    """Record the lake's rules on its first run (and rules added since on its next run); fail
    (ConfigError) when they differ from the recorded ones."""
    store = store_for(settings.lake)
    wanted = rules_of(settings)
    found = store.read(RULES_KEY)
    if found is None:
        if store.create(RULES_KEY, json.dumps(wanted, indent=1)) is None:
            return check_rules(settings)  # another run pinned them first: compare with those
        return wanted
    pinned = json.loads(found.text)
    for key in RULE_KEYS:
        if key in pinned and pinned[key] != wanted[key]:
            raise ConfigError(
                f"{key}={wanted[key]!r} differs from {pinned[key]!r}, the value the lake "
                f"{settings.lake} was built with; run with --set {key}={_shown(pinned[key])}, or "
                f"rebuild the lake with the new value: clickstream rebuild --set "
                f"{key}={_shown(wanted[key])}"
            )
    missing = {key: wanted[key] for key in RULE_KEYS if key not in pinned}
    if missing and not _record(store, {**pinned, **missing}, found.etag):
        return check_rules(settings)  # another run recorded them first: compare with those
    return {**pinned, **missing}


def _record(store: StateStore, rules: dict[str, object], etag: str) -> bool:
    """Replace rules.json if it is still the version read; whether it was."""
    return store.replace(RULES_KEY, json.dumps(rules, indent=1), etag) is not None
