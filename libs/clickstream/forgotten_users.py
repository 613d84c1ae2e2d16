"""The suppression list of forgotten users (`clickstream forget`): keyed hashes only, no Spark.

Every parse of raw objects (each run, `clickstream rebuild`, a quarantine repair) drops a record
whose user_id is on the list (reason forgotten_user). The list holds HMAC-SHA256 hashes
(privacy.keyed_hash) of the raw user ids, never the ids, under a key derived from one of two
secrets:

- the lake's pseudonymize key when the settings have one (pseudonymize_user_id or
  properties_hash): it lives outside the lake (environment, Secrets Manager), so reading the lake
  is not enough to test a guessed id against the list;
- otherwise a random salt of the lake, `_state/forgotten/salt.json`, created once (owner-only
  like all local state). Anyone who can read `_state/` can test guessed ids against the list;
  configure a pseudonymize key (pseudonymize_key_env / pseudonymize_secret_id) to avoid that.

The list's key is an HMAC of a fixed message under that secret (list_key): an entry never equals
the user's pseudonym, so the list cannot be joined to a copy of the tables made before the
erasure (an export, a backup) to tell who asked to be forgotten.

Each entry names the fingerprint of its key (privacy.key_fingerprint), so entries written under
the salt still hold once a key is configured; an entry whose key is not available refuses the
run (ConfigError naming the setting) rather than let a forgotten user back in.

The list is versioned state (`_state/forgotten/list/<n>.json`, the newest is current), written
under every writer's lease; erasure records are `_state/forgotten/erasures/<id>.json`. Both
survive `clickstream rebuild`: they are decisions, not derived state.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from clickstream.config import ConfigError, Settings
from clickstream.privacy import key_fingerprint, keyed_hash, needs_key
from clickstream.privacy_key import key_source, pseudonymize_key
from clickstream.state_store import (
    StateStore,
    newest_version,
    prune_versions,
    store_for,
    write_version,
)

FORGOTTEN = "_state/forgotten"
LIST = f"{FORGOTTEN}/list"
SALT = f"{FORGOTTEN}/salt.json"
ERASURES = f"{FORGOTTEN}/erasures"
# Versions of the list kept (each holds the whole list; the newest is current).
KEEP_VERSIONS = 3
# The message whose HMAC under the secret is the list's key.
_LIST_KEY_MESSAGE = b"clickstream-etl forgotten users v1"


def list_key(secret: bytes) -> bytes:
    """The key of the list's entries under a secret (the pseudonymize key or the lake's salt)."""
    return hmac.new(secret, _LIST_KEY_MESSAGE, hashlib.sha256).digest()


@dataclass(frozen=True)
class ForgottenUsers:
    """The suppression list as the reader uses it: per key, the keyed hashes of forgotten ids."""

    hashed: tuple[tuple[bytes, frozenset[str]], ...] = field(repr=False)

    def holds(self, user_id: str) -> bool:
        """Whether the raw user_id is forgotten."""
        return any(keyed_hash(key, user_id) in hashes for key, hashes in self.hashed)

    def __len__(self) -> int:
        return sum(len(hashes) for _, hashes in self.hashed)


@dataclass(frozen=True)
class SuppressionKey:
    """The key new entries are hashed with, its fingerprint and where it comes from."""

    key: bytes = field(repr=False)
    fingerprint: str
    source: str

    def hash(self, user_id: str) -> str:
        """The list entry of a raw user id."""
        return keyed_hash(self.key, user_id)


def _salt(store: StateStore, *, create: bool) -> bytes | None:
    """The lake's salt (created once when create; None when there is none)."""
    found = store.read(SALT)
    if found is None and create:
        doc = {"salt": secrets.token_hex(32), "created_at": _now()}
        store.create(SALT, json.dumps(doc))  # of two racing creators, the first wins
        found = store.read(SALT)
    return json.loads(found.text)["salt"].encode("ascii") if found is not None else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def suppression_key(settings: Settings) -> SuppressionKey:
    """The key new entries are hashed with: the pseudonymize key when the settings use one, else
    the lake's salt (created on first use)."""
    if needs_key(settings.values):
        secret = pseudonymize_key(settings)
        source = f"a key derived from {key_source(settings)}"
    else:
        secret = _salt(store_for(settings.lake), create=True)
        source = f"a key derived from the lake's salt {settings.path(SALT)}"
    assert secret is not None
    key = list_key(secret)
    return SuppressionKey(key, key_fingerprint(key), source)


def _entries(store: StateStore) -> tuple[int, dict[str, list[str]]]:
    """The current list version (0: none) and its hashes by key fingerprint."""
    found = newest_version(store, LIST)
    if found is None:
        return 0, {}
    return found[0], dict(json.loads(found[1].text)["keys"])


def forgotten_users(settings: Settings) -> ForgottenUsers | None:
    """The list for the reader (None when nobody was forgotten); ConfigError naming the setting
    when an entry's key is not available (a changed pseudonymize key, a deleted salt)."""
    store = store_for(settings.lake)
    _, by_key = _entries(store)
    if not any(by_key.values()):
        return None
    secrets_at_hand = [_salt(store, create=False)]
    if needs_key(settings.values):
        secrets_at_hand.append(pseudonymize_key(settings))
    keys = {
        key_fingerprint(key): key for key in (list_key(s) for s in secrets_at_hand if s is not None)
    }
    missing = sorted(fp for fp, hashes in by_key.items() if hashes and fp not in keys)
    if missing:
        raise ConfigError(
            f"{key_source(settings)}: {settings.path(LIST)} holds forgotten users hashed with a "
            f"key this run does not have (fingerprint {', '.join(missing)}); run with the key "
            "they were forgotten with (or restore _state/forgotten/salt.json), else their "
            "events would be curated again"
        )
    return ForgottenUsers(
        tuple((keys[fp], frozenset(hashes)) for fp, hashes in sorted(by_key.items()) if hashes)
    )


def add_forgotten(settings: Settings, key: SuppressionKey, hashes: Iterable[str]) -> int:
    """Add entries (keyed hashes under key) to the list as a new version; how many were new."""
    store = store_for(settings.lake)
    wanted = set(hashes)
    for _ in range(5):
        version, by_key = _entries(store)
        known = set(by_key.get(key.fingerprint, []))
        if wanted <= known:
            return 0
        by_key[key.fingerprint] = sorted(known | wanted)
        doc = {"format": 1, "updated_at": _now(), "keys": by_key}
        if write_version(store, LIST, version + 1, json.dumps(doc, indent=1)):
            prune_versions(store, LIST, KEEP_VERSIONS)
            return len(wanted - known)
    raise RuntimeError(f"could not write {settings.path(LIST)}: it kept changing")


def record_erasure(settings: Settings, record: dict[str, object]) -> str:
    """Write an erasure record (hashed ids, time, rows removed per table); its key."""
    key = f"{ERASURES}/{record['erasure_id']}.json"
    if store_for(settings.lake).create(key, json.dumps(record, indent=1, sort_keys=True)) is None:
        raise RuntimeError(f"erasure record {settings.path(key)} exists already")
    return key
