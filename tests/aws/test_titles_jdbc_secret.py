"""titles_source=jdbc on EMR: the database password from Secrets Manager (moto over HTTP)."""

from __future__ import annotations

import json

import boto3
import pytest

from clickstream.config import ConfigError, load_settings
from clickstream.reference.jdbc_source import password

JDBC = [
    "titles_source=jdbc",
    "titles_jdbc_url=jdbc:postgresql://db.internal:5432/app",
    "titles_jdbc_user=etl",
]


def test_the_password_comes_from_the_secret_named_by_titles_jdbc_secret_id(moto: str):
    # GIVEN a JSON secret with a password key (the RDS-managed secret layout), and a plain one
    client = boto3.client("secretsmanager")
    client.create_secret(
        Name="app/db", SecretString=json.dumps({"username": "etl", "password": "pw1"})
    )
    client.create_secret(Name="app/plain", SecretString="pw2")
    # WHEN settings name them THEN the password is the secret's, not the environment's
    for secret, expected in (("app/db", "pw1"), ("app/plain", "pw2")):
        settings = load_settings("local", [*JDBC, f"titles_jdbc_secret_id={secret}"])
        assert password(settings) == expected


def test_a_missing_secret_fails_naming_titles_jdbc_secret_id(moto: str):
    # GIVEN a secret id that does not exist
    settings = load_settings("local", [*JDBC, "titles_jdbc_secret_id=app/none"])
    # WHEN the password is asked for THEN one line names the setting
    with pytest.raises(ConfigError, match=r"^titles_jdbc_secret_id='app/none': cannot read it"):
        password(settings)
