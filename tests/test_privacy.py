"""Field controls and pseudonymous ids: the rules of privacy.py and how the reader applies them."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pyarrow as pa
import pytest

from clickstream.config import ConfigError, load_settings
from clickstream.firehose_reader import parse_objects
from clickstream.privacy import FieldControls, key_fingerprint, keyed_hash, mask_ip
from clickstream.privacy_key import field_controls, pseudonymize_key

KEY = b"k" * 32
NAME = "file:/raw/clickstream-1-2026-03-01-10-00-05-0f8fad5b-d9cb-469f-a165-70867728950e"
_INPUT = pa.schema(
    [("path", pa.string()), ("modificationTime", pa.timestamp("us")), ("content", pa.binary())]
)


def parse(content: str, controls: FieldControls | None) -> list[dict[str, Any]]:
    """parse_objects over one object, with these field controls."""
    batch = pa.RecordBatch.from_arrays(
        [pa.array([NAME]), pa.array([0], pa.timestamp("us")), pa.array([content.encode()])],
        schema=_INPUT,
    )
    return [r for out in parse_objects(iter([batch]), controls=controls) for r in out.to_pylist()]


def event(**extra: Any) -> str:
    fields = {"event_id": "e1", "user_id": "alice", "event_type": "view"}
    return json.dumps({**fields, "event_time": "2026-03-01T10:00:00Z", **extra})


def controls(**kwargs: Any) -> FieldControls:
    return FieldControls(key=KEY, **kwargs)


def test_the_keyed_hash_is_hmac_sha256_hex_truncated_to_32() -> None:
    expected = hmac.new(KEY, b"alice", hashlib.sha256).hexdigest()[:32]
    assert keyed_hash(KEY, "alice") == expected
    assert keyed_hash(b"x" * 32, "alice") != expected  # another key, another pseudonym


def test_the_fingerprint_is_neither_the_key_nor_a_pseudonym() -> None:
    fingerprint = key_fingerprint(KEY)
    assert len(fingerprint) == 32 and KEY.decode() not in fingerprint
    assert fingerprint != keyed_hash(KEY, "") and fingerprint == key_fingerprint(KEY)


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1::"),
        ("[2001:db8:aa:bb::1]", "2001:db8:aa::"),
        ("203.0.113.77, 10.1.2.3", "203.0.113.0, 10.1.2.0"),  # X-Forwarded-For
        ("not an address", None),
        (12345, None),
    ],
)
def test_mask_ip_drops_the_last_octet_or_the_last_80_bits(value: object, masked: str) -> None:
    assert mask_ip(value) == masked


def test_drop_hash_and_mask_reach_nested_paths_and_walk_lists() -> None:
    # GIVEN a record with an email, a nested IP, a search query inside a list of objects
    record = {
        "email": "a@example.com",
        "context": {"ip": "198.51.100.9", "page": "home"},
        "searches": [{"q": "my name"}, {"q": None}, "odd"],
    }
    rules = controls(drop=(("email",),), hash=(("searches", "q"),), mask_ip=(("context", "ip"),))
    # WHEN the controls apply
    rules.apply(record)
    # THEN the email is gone, the IP masked, each query hashed (null stays null), the rest kept
    assert record == {
        "context": {"ip": "198.51.100.0", "page": "home"},
        "searches": [{"q": keyed_hash(KEY, "my name")}, {"q": None}, "odd"],
    }


def test_the_reader_stores_no_original_value_in_any_column() -> None:
    # GIVEN a valid event with personal fields
    record = event(email="a@example.com", ip="203.0.113.7", device={"id": "dev-1"})
    rules = controls(
        drop=(("email",),), hash=(("device", "id"),), mask_ip=(("ip",),), pseudonymize_user_id=True
    )
    # WHEN parsed under the controls
    [row] = parse(record, rules)
    # THEN user_id is the pseudonym and properties hold the controlled fields only
    assert row["reason"] is None and row["user_id"] == keyed_hash(KEY, "alice")
    assert json.loads(row["properties"]) == {
        "ip": "203.0.113.0",
        "device": {"id": keyed_hash(KEY, "dev-1")},
    }
    # AND nothing of the originals is left in the row
    text = json.dumps(row, default=str)
    assert "alice" not in text and "a@example.com" not in text and "dev-1" not in text


def test_a_rejected_json_object_is_quarantined_as_its_controlled_json() -> None:
    # GIVEN a record that parses but breaks a rule (an impossible date)
    record = event(event_time="2026-02-30T01:00:00Z", email="a@example.com", ip="203.0.113.7")
    rules = controls(drop=(("email",),), mask_ip=(("ip",),), pseudonymize_user_id=True)
    # WHEN parsed
    [row] = parse(record, rules)
    # THEN its record is the controlled object: pseudonym, no email, masked IP
    assert row["reason"] == "invalid_event_time"
    assert json.loads(row["record"]) == {
        "event_id": "e1",
        "user_id": keyed_hash(KEY, "alice"),
        "event_type": "view",
        "event_time": "2026-02-30T01:00:00Z",
        "ip": "203.0.113.0",
    }


def test_a_record_that_is_not_json_is_scrubbed_by_name_as_best_effort() -> None:
    # GIVEN a line cut short: not JSON, but holding a user_id, an email and an IP by name
    line = '{"event_id":"e9","user_id":"alice","email":"a@example.com","ip":"203.0.113.7",'
    rules = controls(drop=(("email",),), mask_ip=(("ip",),), pseudonymize_user_id=True)
    [row] = parse(line + "\n", rules)
    # THEN the reason is kept and the named values are replaced in the text
    assert row["reason"] == "not_json"
    pseudonym = keyed_hash(KEY, "alice")
    assert row["record"] == (
        f'{{"event_id":"e9","user_id":"{pseudonym}","email":null,"ip":"203.0.113.0",'
    )


def test_an_oversized_record_keeps_its_size_and_a_scrubbed_head() -> None:
    # GIVEN a record over the default 1000 KiB limit, its user_id in the first KiB
    rules = controls(pseudonymize_user_id=True)
    big = event(pad="x" * (1001 << 10))
    [row] = parse(big, rules)
    doc = json.loads(row["record"])
    assert row["reason"] == "record_too_large" and doc["bytes"] > 1000 << 10
    assert "alice" not in doc["head"] and keyed_hash(KEY, "alice") in doc["head"]


def test_a_non_finite_number_beside_a_controlled_path_takes_the_slow_path_controlled() -> None:
    # GIVEN a record with NaN (strict properties re-parse the text) and an email to drop
    record = event().rstrip("}") + ', "score": NaN, "email": "a@example.com"}'
    [row] = parse(record, controls(drop=(("email",),)))
    assert json.loads(row["properties"]) == {"score": "NaN"}


def test_without_controls_the_reader_is_unchanged() -> None:
    record = event(email="a@example.com")
    assert parse(record, None) == parse(record, FieldControls())


def _settings(*overrides: str):  # type: ignore[no-untyped-def]
    return load_settings("local", ["catalog=none", *overrides])


def test_the_key_comes_from_the_environment_variable_and_is_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = _settings("pseudonymize_user_id=true", "pseudonymize_key_env=TEST_PSEUDO_KEY")
    monkeypatch.delenv("TEST_PSEUDO_KEY", raising=False)
    with pytest.raises(ConfigError, match="pseudonymize_key_env='TEST_PSEUDO_KEY': the env"):
        pseudonymize_key(settings)
    monkeypatch.setenv("TEST_PSEUDO_KEY", "short")
    with pytest.raises(ConfigError, match="the key has 5 characters; use at least 32"):
        pseudonymize_key(settings)
    monkeypatch.setenv("TEST_PSEUDO_KEY", "s" * 40)
    assert pseudonymize_key(settings) == b"s" * 40
    rules = field_controls(settings)
    assert rules is not None and rules.pseudonymize_user_id
    assert "s" * 40 not in repr(rules) and "s" * 40 not in repr(settings)


def test_no_control_set_needs_no_key() -> None:
    settings = _settings("pseudonymize_key_env=SURELY_UNSET_VARIABLE")
    assert pseudonymize_key(settings) is None and field_controls(settings) is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["properties_drop=user_id"], "names the contract field 'user_id'; use pseudonymize"),
        (["properties_hash=event_time"], "names the contract field 'event_time'"),
        (["properties_mask_ip=a..b"], "'a..b' is not a JSON path of keys"),
        (["properties_mask_ip=$.ips[*]"], "is not a JSON path of keys"),
        (["properties_drop=ip", "properties_mask_ip=$.ip"], "is also in properties_drop"),
        (["pseudonymize_user_id=maybe"], "pseudonymize_user_id='maybe': expected true or false"),
        (["quarantine_retention_days=0"], "quarantine_retention_days=0: expected a whole number"),
        (["quarantine_database=curated"], "quarantine_database='curated' is the curated or raw"),
        (["titles_jdbc_sslmode=on"], "titles_jdbc_sslmode='on': use one of disable"),
        (["kms_key_arn=my-key"], "kms_key_arn='my-key': expected a KMS key ARN"),
    ],
)
def test_privacy_keys_fail_fast_naming_the_key(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("$", r"\$")):
        _settings(*overrides)


def test_privacy_defaults_and_list_overrides() -> None:
    settings = _settings("properties_drop=email, $.context.search", "properties_hash=[]")
    assert settings.properties_drop == ["email", "$.context.search"]
    assert settings.properties_hash == [] and settings.properties_mask_ip == []
    assert settings.quarantine_database == "curated_quarantine"
    assert settings.quarantine_retention_days == 30 and settings.titles_jdbc_sslmode == "require"
    assert not settings.pseudonymize_user_id and settings.kms_key_arn is None
    assert _settings("quarantine_retention_days=null").quarantine_retention_days is None
