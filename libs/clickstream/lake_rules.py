"""Rules pinned to the lake: the settings that decide what the stored rows are.

The first run records timezone, session_timeout_minutes, repeat_window_seconds,
max_session_hours and the plausible event_time window (event_time_max_future_minutes,
event_time_max_age_days) in <lake>/_state/rules.json. A lake whose rules.json predates a rule
records that rule on its next run, with the value the run uses: from then on it is pinned too.
A later run with another value refuses to start, before Spark does: mixing two calendars,
session rules or plausibility windows in one table is never exact. Changing a rule means
rebuilding the lake from its raw objects with `clickstream rebuild`.

The privacy rules (properties_drop, properties_hash, properties_mask_ip, pseudonymize_user_id)
are pinned the same way, and with them the fingerprint of the pseudonymize key (an HMAC of a
fixed message, never the key): a run with another key refuses to start, naming the setting. A
lake older than these rules records them on its next run only when they are off: turning one on
over stored rows would mix raw and controlled values, so it needs a rebuild.
"""

from __future__ import annotations

import json

from clickstream.config import ConfigError, Settings
from clickstream.privacy import PATH_KEYS, parse_path
from clickstream.privacy_key import fingerprint_of, key_source
from clickstream.state_store import StateStore, store_for

RULE_KEYS = (
    "timezone",
    "session_timeout_minutes",
    "repeat_window_seconds",
    "max_session_hours",
    "event_time_max_future_minutes",
    "event_time_max_age_days",
    *PATH_KEYS,
    "pseudonymize_user_id",
)
# Rules whose "off" value an older lake may take on its next run (any other needs a rebuild).
PRIVACY_OFF: dict[str, object] = {**{key: [] for key in PATH_KEYS}, "pseudonymize_user_id": False}
FINGERPRINT = "pseudonymize_key_fingerprint"
RULES_KEY = "_state/rules.json"


def rules_of(settings: Settings) -> dict[str, object]:
    """The pinned settings' values (paths normalised and sorted: their order means nothing)."""
    rules = {key: settings.values[key] for key in RULE_KEYS}
    for key in PATH_KEYS:
        rules[key] = sorted(".".join(parse_path(key, p)) for p in settings.values[key])
    return rules


def _shown(value: object) -> str:
    """A value as --set takes it (None is null, a list comma-separated)."""
    if isinstance(value, list):
        return ",".join(map(str, value)) or "[]"
    if isinstance(value, bool):
        return str(value).lower()
    return "null" if value is None else str(value)


def check_rules(settings: Settings) -> dict[str, object]:
    """Record the lake's rules on its first run (and rules added since on its next run); fail
    (ConfigError) when they differ from the recorded ones."""
    store = store_for(settings.lake)
    wanted: dict[str, object] = {**rules_of(settings), FINGERPRINT: fingerprint_of(settings)}
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
    _check_key(settings, pinned, wanted)
    missing = {key: wanted[key] for key in (*RULE_KEYS, FINGERPRINT) if key not in pinned}
    for key, value in missing.items():
        if key in PRIVACY_OFF and value != PRIVACY_OFF[key]:
            raise ConfigError(
                f"{key}={_shown(value)}: the lake {settings.lake} holds rows stored without it; "
                f"rebuild the lake with it: clickstream rebuild --set {key}={_shown(value)}"
            )
    if missing and not _record(store, {**pinned, **missing}, found.etag):
        return check_rules(settings)  # another run recorded them first: compare with those
    return {**pinned, **missing}


def _check_key(settings: Settings, pinned: dict[str, object], wanted: dict[str, object]) -> None:
    """The run's key must be the lake's: same fingerprint (a lake without one takes the run's)."""
    lake_print, run_print = pinned.get(FINGERPRINT), wanted[FINGERPRINT]
    if lake_print is not None and run_print is not None and lake_print != run_print:
        raise ConfigError(
            f"{key_source(settings)}: the pseudonymize key differs from the one the lake "
            f"{settings.lake} was built with (its fingerprint does not match); run with the "
            "lake's key, or rebuild the lake with the new key: clickstream rebuild"
        )


def _record(store: StateStore, rules: dict[str, object], etag: str) -> bool:
    """Replace rules.json if it is still the version read; whether it was."""
    return store.replace(RULES_KEY, json.dumps(rules, indent=1), etag) is not None
