"""`clickstream sample` runs the tools package's generator from the product's CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from clickstream.cli import main
from clickstream_tools.sample import generate_sample


def _files(root: Path) -> dict[str, bytes]:
    """Every file under root by relative path, with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_the_sample_command_writes_what_the_generator_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the generator's own output for some arguments
    generate_sample(tmp_path / "direct", events=300, users=20, days=1, seed=3)
    lake = tmp_path / "cli"
    # WHEN `clickstream sample` runs with the same arguments
    code = main(
        [
            *("sample", "--events", "300", "--users", "20", "--days", "1", "--seed", "3"),
            *("--set", f"lake_root={lake}"),
        ]
    )
    # THEN it writes the same files, byte for byte, and says where
    assert code == 0
    assert f"sample written to {lake}" in capsys.readouterr().out
    assert _files(lake) == _files(tmp_path / "direct")
