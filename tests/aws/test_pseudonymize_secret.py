"""pseudonymize_user_id on Glue and EMR: the key from Secrets Manager (moto over HTTP)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from clickstream import privacy_key
from clickstream.config import ConfigError, load_settings
from clickstream.lake_rules import FINGERPRINT, RULES_KEY, check_rules
from clickstream.privacy import key_fingerprint
from clickstream.privacy_key import pseudonymize_key

ON = ["pseudonymize_user_id=true", "catalog=none"]


@pytest.fixture(autouse=True)
def fresh_secret_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test reads its secrets anew (the process keeps what it read once)."""
    monkeypatch.setattr(privacy_key, "_SECRETS", {})


def test_the_key_comes_from_the_secret_named_by_pseudonymize_secret_id(
    moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a JSON secret with a key field, a plain one, and a different key in the environment
    client = boto3.client("secretsmanager")
    client.create_secret(Name="etl/pseudo", SecretString=json.dumps({"key": "j" * 40}))
    client.create_secret(Name="etl/plain", SecretString="p" * 40)
    monkeypatch.setenv("CLICKSTREAM_PSEUDONYMIZE_KEY", "e" * 40)
    # WHEN settings name them THEN the key is the secret's, not the environment's
    for secret, expected in (("etl/pseudo", b"j" * 40), ("etl/plain", b"p" * 40)):
        settings = load_settings("local", [*ON, f"pseudonymize_secret_id={secret}"])
        assert pseudonymize_key(settings) == expected
    # AND the lake records the key's fingerprint, never the key
    settings = load_settings(
        "local", [*ON, "pseudonymize_secret_id=etl/pseudo", f"lake_root={tmp_path}"]
    )
    check_rules(settings)
    recorded = json.loads((tmp_path / RULES_KEY).read_text())
    assert recorded[FINGERPRINT] == key_fingerprint(b"j" * 40)
    assert "jjjj" not in (tmp_path / RULES_KEY).read_text()


def test_a_missing_or_short_secret_fails_naming_pseudonymize_secret_id(moto: str) -> None:
    boto3.client("secretsmanager").create_secret(Name="etl/short", SecretString="tiny")
    missing = load_settings("local", [*ON, "pseudonymize_secret_id=etl/none"])
    with pytest.raises(ConfigError, match=r"^pseudonymize_secret_id='etl/none': cannot read it"):
        pseudonymize_key(missing)
    short = load_settings("local", [*ON, "pseudonymize_secret_id=etl/short"])
    with pytest.raises(ConfigError, match=r"^pseudonymize_secret_id='etl/short': the key has 4"):
        pseudonymize_key(short)
