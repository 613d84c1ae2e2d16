"""What Glue and EMR install is the product alone: the tools (tools/clickstream_tools) stay out."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from clickstream.aws.packaging import Artifacts

# Modules that lived in the product before they moved to the tools package.
TOOL_NAMES = ("bench", "demo", "sample", "clickstream_tools")


def _tool_entries(names: list[str]) -> list[str]:
    """Archive entries that are a tool module or package, at any depth."""
    return [
        name
        for name in names
        if any(part.removesuffix(".py") in TOOL_NAMES for part in Path(name).parts)
    ]


def test_the_wheel_and_the_zip_hold_no_bench_demo_or_sample_module(artifacts: Artifacts) -> None:
    # GIVEN the wheel (Glue) and the --py-files zip (EMR) that make package builds
    for archive in (artifacts.wheel, artifacts.zip_file):
        with zipfile.ZipFile(archive) as built:
            names = built.namelist()
        # THEN they hold the product's package and no tool module
        assert "clickstream/pipeline/runner.py" in names, archive.name
        assert _tool_entries(names) == [], archive.name
        assert {name.split("/")[0] for name in names if name.endswith(".py")} == {"clickstream"}


def test_a_tool_command_without_the_tools_fails_with_one_line_naming_make_install(
    artifacts: Artifacts,
) -> None:
    # GIVEN the product as EMR imports it: the --py-files zip and the third-party packages,
    # without site initialisation (so the editable install of the tools is not on the path)
    site_packages = sysconfig.get_paths()["purelib"]
    probe = (
        "import sys; sys.path[:0] = sys.argv[1:3]; from clickstream.cli import main; "
        "sys.exit(main(['sample', '--set', 'lake_root=' + sys.argv[3]]))"
    )
    # WHEN `clickstream sample` runs there
    out = subprocess.run(
        [sys.executable, "-S", "-c", probe, str(artifacts.zip_file), site_packages, "/nowhere"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # THEN it exits 2 with one line that names the missing package and `make install`
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "clickstream_tools" in lines[0] and "make install" in lines[0]
    assert out.stdout == ""
