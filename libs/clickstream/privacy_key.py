"""The pseudonymize key: from the environment locally, from Secrets Manager on Glue and EMR.

The key is never in config, logs, summaries or Spark settings: it is read here, held in memory,
and reaches the reader inside its FieldControls. The lake records the key's fingerprint in its
pinned rules (lake_rules), so a run with another key refuses to start.
"""

from __future__ import annotations

import json
import os

from clickstream.config import ConfigError, Settings
from clickstream.privacy import MIN_KEY_CHARS, FieldControls, key_fingerprint, needs_key

# Keys read from Secrets Manager in this process, by secret id (one call per run, not per job).
_SECRETS: dict[str, bytes] = {}


def pseudonymize_key(settings: Settings) -> bytes | None:
    """The key when the settings use one (None otherwise); ConfigError naming the setting when it
    cannot be read or is too short."""
    if not needs_key(settings.values):
        return None
    secret_id = settings.pseudonymize_secret_id
    if secret_id:
        if secret_id not in _SECRETS:
            _SECRETS[secret_id] = _checked("pseudonymize_secret_id", secret_id, _secret(secret_id))
        return _SECRETS[secret_id]
    env = settings.pseudonymize_key_env
    value = os.environ.get(env, "")
    if not value:
        raise ConfigError(
            f"pseudonymize_key_env={env!r}: the environment variable is not set; export a random "
            f"key of at least {MIN_KEY_CHARS} characters (e.g. openssl rand -hex 32) and keep it: "
            "the same key gives the same pseudonyms (on AWS set pseudonymize_secret_id)"
        )
    return _checked("pseudonymize_key_env", env, value)


def _checked(key: str, name: str, value: str) -> bytes:
    """The key's bytes; ConfigError when it is shorter than MIN_KEY_CHARS."""
    if len(value) < MIN_KEY_CHARS:
        raise ConfigError(
            f"{key}={name!r}: the key has {len(value)} characters; use at least {MIN_KEY_CHARS} "
            "(e.g. openssl rand -hex 32)"
        )
    return value.encode("utf-8")


def _secret(secret_id: str) -> str:
    """A secret's key: the "key" field of a JSON secret, or the plain secret string."""
    from clickstream.aws_clients import aws_client

    try:
        text = aws_client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    except Exception as exc:  # boto3 errors: one line naming the setting (the error holds no key)
        raise ConfigError(
            f"pseudonymize_secret_id={secret_id!r}: cannot read it ({type(exc).__name__}); the "
            "role needs secretsmanager:GetSecretValue on it (clickstream iam-policy)"
        ) from None
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    return str(doc["key"]) if isinstance(doc, dict) and "key" in doc else text


def field_controls(settings: Settings) -> FieldControls | None:
    """The reader's field controls (None when no control is set)."""
    controls = FieldControls.of(settings.values, pseudonymize_key(settings))
    return controls if controls.active else None


def fingerprint_of(settings: Settings) -> str | None:
    """The fingerprint of the settings' key (None when they use none)."""
    key = pseudonymize_key(settings)
    return key_fingerprint(key) if key is not None else None


def key_source(settings: Settings) -> str:
    """The setting that names the key, as an error message shows it."""
    if settings.pseudonymize_secret_id:
        return f"pseudonymize_secret_id={settings.pseudonymize_secret_id!r}"
    return f"pseudonymize_key_env={settings.pseudonymize_key_env!r}"
