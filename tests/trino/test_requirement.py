"""Without Trino or its JDK the tier skips, naming what is missing; with CI=true it fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.trino import conftest, server


def test_without_make_trino_the_tier_skips_naming_make_trino(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a JDK >= 24 but no server unpacked in .trino/, and CI unset
    monkeypatch.setattr(server, "find_jdk", lambda: tmp_path)
    monkeypatch.setattr(server, "server_home", lambda: tmp_path / "trino-server-476")
    monkeypatch.delenv("CI", raising=False)
    # WHEN the tier's fixture checks, THEN the tier skips and says to run make trino
    with pytest.raises(pytest.skip.Exception, match="make trino"):
        conftest.require_trino()


def test_with_ci_true_a_missing_jdk_fails_the_tier_instead_of_skipping_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN no JDK >= 24 on the machine, on CI
    monkeypatch.setattr(server, "find_jdk", lambda: None)
    monkeypatch.setenv("CI", "true")
    # WHEN the tier's fixture checks, THEN it fails with the line naming what to install
    with pytest.raises(pytest.fail.Exception, match="CI=true: trino: no JDK >= 24"):
        conftest.require_trino()
