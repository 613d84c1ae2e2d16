"""Promoted fields pinned to the lake: adding is fine, changing, dropping or reordering refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clickstream.config import ConfigError, Settings, load_settings
from clickstream.promoted_fields import PINNED_KEY, check_promoted


def _settings(lake: Path, *fields: str) -> Settings:
    promoted = [f"promoted_fields.{f}" for f in fields]
    return load_settings("local", [f"lake_root={lake}", "catalog=none", *promoted])


def test_a_run_that_adds_a_promoted_field_after_the_others_records_it(tmp_path: Path) -> None:
    # GIVEN a lake built with app_version promoted
    check_promoted(_settings(tmp_path, "app_version=string"))
    # WHEN a run adds duration_ms after it
    check_promoted(_settings(tmp_path, "app_version=string", "duration_ms=long"))
    # THEN both are recorded, in order
    recorded = json.loads((tmp_path / PINNED_KEY).read_text())
    assert list(recorded.items()) == [("app_version", "string"), ("duration_ms", "long")]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            ("app_version=long",),
            "promoted_fields.app_version='long' differs from 'string', the type the lake",
        ),
        ((), "promoted_fields.app_version is missing; the lake"),
        (
            ("duration_ms=long", "app_version=string"),
            "promoted_fields.app_version: the lake",
        ),
    ],
    ids=["type_changed", "dropped", "new_field_before_it"],
)
def test_a_run_that_changes_drops_or_moves_a_promoted_field_refuses_naming_the_rebuild(
    tmp_path: Path, fields: tuple[str, ...], message: str
) -> None:
    # GIVEN a lake built with app_version promoted as a string
    check_promoted(_settings(tmp_path, "app_version=string"))
    # WHEN a run changes its type, drops it or puts a new field before it
    # THEN it refuses before Spark starts, naming the field and the rebuild
    with pytest.raises(ConfigError, match=message) as refused:
        check_promoted(_settings(tmp_path, *fields))
    assert "clickstream rebuild" in str(refused.value)
    # AND the recorded fields are unchanged
    assert json.loads((tmp_path / PINNED_KEY).read_text()) == {"app_version": "string"}
