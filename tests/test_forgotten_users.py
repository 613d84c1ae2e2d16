"""The suppression list of `clickstream forget` without Spark: how the reader drops forgotten
users, the list's key, and the command's arguments."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from clickstream.cli import main
from clickstream.config import ConfigError, Settings, load_settings
from clickstream.firehose_reader import parse_objects
from clickstream.forgotten_users import (
    SALT,
    ForgottenUsers,
    add_forgotten,
    forgotten_users,
    suppression_key,
)
from clickstream.pipeline.forget import user_ids_of
from clickstream.privacy import FieldControls, keyed_hash
from clickstream.reasons import REASONS
from tests.test_privacy import _INPUT, NAME, event

KEY_ENV = "TEST_FORGOTTEN_USERS_KEY"
README = Path(__file__).resolve().parents[1] / "README.md"


def _parse(content: str, forgotten: ForgottenUsers, controls: FieldControls | None = None) -> Any:
    """parse_objects over one object (tests.test_privacy's) with a suppression list."""
    batch = pa.RecordBatch.from_arrays(
        [pa.array([NAME]), pa.array([0], pa.timestamp("us")), pa.array([content.encode()])],
        schema=_INPUT,
    )
    rows = parse_objects(iter([batch]), controls=controls, forgotten=forgotten)
    return [r for out in rows for r in out.to_pylist()]


def _lake(tmp_path: Path, *overrides: str) -> Settings:
    return load_settings("local", [f"lake_root={tmp_path / 'lake'}", "catalog=none", *overrides])


def test_records_of_a_forgotten_user_are_dropped_whole_whatever_else_they_break() -> None:
    # GIVEN alice on the list (salted hash), and an object of hers, bob's, and two cut lines
    salt = b"s" * 64
    forgotten = ForgottenUsers(((salt, frozenset({keyed_hash(salt, "alice")})),))
    content = "\n".join(
        [
            event(),
            event(event_id="e2", user_id="bob"),
            event(event_id="e3", event_time="2026-02-30T00:00:00Z"),  # alice, invalid time
            '{"event_id":"e4","user_id":"alice","event_time":',  # alice, not JSON
            '{"event_id":"e5","user_id":"bob","event_time":',  # bob, not JSON
        ]
    )
    # WHEN the reader parses it
    rows = _parse(content, forgotten)
    # THEN alice's records are forgotten_user with no text and no field; bob's are as always
    assert [r["reason"] for r in rows] == [
        "forgotten_user",
        None,
        "forgotten_user",
        "forgotten_user",
        "not_json",
    ]
    for row in (rows[0], rows[2], rows[3]):
        assert row["record"] is None and row["event_id"] is None and row["user_id"] is None
        assert row["source_file"]
    assert rows[1]["user_id"] == "bob"


def test_with_pseudonymous_ids_the_raw_id_is_looked_up_before_it_is_pseudonymized() -> None:
    key, list_key = b"k" * 32, b"l" * 32
    controls = FieldControls(key=key, pseudonymize_user_id=True)
    forgotten = ForgottenUsers(((list_key, frozenset({keyed_hash(list_key, "alice")})),))
    rows = _parse("\n".join([event(), event(event_id="e2", user_id="bob")]), forgotten, controls)
    assert [r["reason"] for r in rows] == ["forgotten_user", None]
    assert rows[1]["user_id"] == keyed_hash(key, "bob")


def test_without_a_pseudonymize_key_the_list_uses_a_salt_made_once_and_kept(
    tmp_path: Path,
) -> None:
    settings = _lake(tmp_path)
    key = suppression_key(settings)
    assert (tmp_path / "lake" / SALT).stat().st_mode & 0o077 == 0  # owner-only
    assert suppression_key(settings).fingerprint == key.fingerprint
    assert forgotten_users(settings) is None
    assert add_forgotten(settings, key, [key.hash("alice")]) == 1
    assert add_forgotten(settings, key, [key.hash("alice")]) == 0
    found = forgotten_users(settings)
    assert found is not None and found.holds("alice") and not found.holds("bob")
    # AND the list holds no id, only keyed hashes
    listed = "".join(p.read_text() for p in (tmp_path / "lake" / "_state").rglob("*.json"))
    assert "alice" not in listed


def test_a_run_without_the_key_of_a_forgotten_user_refuses_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN alice forgotten under a pseudonymize key
    monkeypatch.setenv(KEY_ENV, "a" * 40)
    keyed = _lake(tmp_path, "pseudonymize_user_id=true", f"pseudonymize_key_env={KEY_ENV}")
    key = suppression_key(keyed)
    add_forgotten(keyed, key, [key.hash("alice")])
    assert forgotten_users(keyed) is not None
    # (an entry is a keyed hash under a key derived from it: never the user's pseudonym)
    assert key.hash("alice") != keyed_hash(b"a" * 40, "alice")
    # WHEN the key changes, or a run has none
    monkeypatch.setenv(KEY_ENV, "b" * 40)
    with pytest.raises(ConfigError, match=f"pseudonymize_key_env='{KEY_ENV}'.*forgotten users"):
        forgotten_users(keyed)
    with pytest.raises(ConfigError, match="would be curated again"):
        forgotten_users(_lake(tmp_path))


def test_user_ids_come_from_the_flags_and_files_and_bad_ones_name_the_flag(
    tmp_path: Path,
) -> None:
    listed = tmp_path / "ids.txt"
    listed.write_text("# erasure requests\ncarol\n\nalice\n", encoding="utf-8")
    assert user_ids_of(["bob", "alice"], [str(listed)]) == ["alice", "bob", "carol"]
    with pytest.raises(ConfigError, match="--user-id ID"):
        user_ids_of([], [])
    with pytest.raises(ConfigError, match="--user-id: an empty user id"):
        user_ids_of(["  "], [])
    with pytest.raises(ConfigError, match=r"--user-ids-file .*missing"):
        user_ids_of([], [str(tmp_path / "missing")])


def test_the_command_fails_fast_without_a_user_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["forget", "--env", "local"]) == 2
    assert "--user-id ID" in capsys.readouterr().err


def test_the_readme_names_every_reason() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [r for r in REASONS if not re.search(rf"`{r}`", text)]
    assert missing == []
    assert json.dumps(REASONS).count("forgotten_user") == 1
