"""Rules pinned to the lake: the settings that decide what the stored rows are.

The first run records timezone, session_timeout_minutes, repeat_window_seconds and
max_session_hours in <lake>/_state/rules.json (a lake built before this file existed records its
rules on its next run). A later run with another value refuses to start, before Spark does: mixing
two calendars or session rules in one table is never exact. Changing a rule means rebuilding the
lake from its raw objects with `clickstream rebuild`.
"""

from __future__ import annotations

import json

from clickstream.config import ConfigError, Settings
from clickstream.state_store import store_for

RULE_KEYS = ("timezone", "session_timeout_minutes", "repeat_window_seconds", "max_session_hours")
RULES_KEY = "_state/rules.json"


def rules_of(settings: Settings) -> dict[str, object]:
    """The pinned settings' values."""
    return {key: settings.values[key] for key in RULE_KEYS}


def check_rules(settings: Settings) -> dict[str, object]:
    """Record the lake's rules on its first run; fail (ConfigError) when they differ later."""
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
                f"{settings.lake} was built with; run with --set {key}={pinned[key]}, or rebuild "
                f"the lake with the new value: clickstream rebuild --set {key}={wanted[key]}"
            )
    return pinned
