"""The jobs/<job>.py scripts: thin, side-effect free, and runnable as EMR steps or locally."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from clickstream.pipeline import JOB_NAMES, PIPELINE
from clickstream.runtime import entry
from clickstream.tables import DAILY_ACTIVE_USERS, EVENTS, SESSIONS
from clickstream.writer import read_table, table_schema
from tests.pipeline import lake_fixture as lf
from tests.runtime import JOBS_DIR, job_main, load_job_script

REPO = JOBS_DIR.parent
LIBS = REPO / "libs"
GLUE_ADAPTER = LIBS / "clickstream" / "runtime" / "glue.py"


SCRIPTS = (*JOB_NAMES, PIPELINE)


def test_every_pipeline_job_and_the_whole_pipeline_have_a_script() -> None:
    assert sorted(p.stem for p in JOBS_DIR.glob("*.py")) == sorted(SCRIPTS)


def _is_main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and ast.unparse(node.test) in (
        "__name__ == '__main__'",
        '__name__ == "__main__"',
    )


@pytest.mark.parametrize("job", SCRIPTS)
def test_a_script_holds_only_imports_main_and_the_main_guard(job: str) -> None:
    tree = ast.parse((JOBS_DIR / f"{job}.py").read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), "a module docstring"
    for node in tree.body[1:]:
        allowed = isinstance(node, ast.Import | ast.ImportFrom) or _is_main_guard(node)
        allowed = allowed or (isinstance(node, ast.FunctionDef) and node.name == "main")
        assert allowed, f"jobs/{job}.py line {node.lineno}: {ast.unparse(node)[:60]}"
    (main,) = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert [a.arg for a in main.args.args] == ["argv"] and len(main.args.defaults) == 1


@pytest.mark.parametrize("job", SCRIPTS)
def test_importing_a_script_runs_nothing_and_main_runs_its_job(
    job: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, list[str] | None]] = []

    def fake_run_entry(name: str, argv: list[str] | None = None) -> int:
        calls.append((name, argv))
        return 0

    monkeypatch.setattr(entry, "run_entry", fake_run_entry)
    # WHEN the script is imported THEN nothing runs
    module = load_job_script(job)
    assert calls == []
    # WHEN its main() is called THEN it runs its own job with the arguments
    assert module.main(["--env", "dev"]) == 0
    assert calls == [(job, ["--env", "dev"])]


@pytest.mark.parametrize(
    ("argv", "glue"),
    [
        (["--JOB_NAME", "clickstream-dev-load-titles", "--env", "dev"], True),
        (["--env", "dev", "--JOB_NAME=clickstream-dev-load-titles"], True),
        (["--env", "dev"], False),
        (["--env", "local", "--set", "JOB_NAME=x"], False),
        ([], False),
    ],
)
def test_glue_runs_are_told_apart_by_job_name(argv: list[str], glue: bool) -> None:
    assert entry.is_glue_run(argv) is glue


def test_glue_arguments_go_to_the_glue_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    import clickstream.runtime.glue as glue

    seen: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(glue, "run_glue_job", lambda job, argv: seen.append((job, argv)) or 0)
    monkeypatch.setattr(entry, "run_spark_job", lambda job, argv: pytest.fail("not on Glue"))
    argv = ["--JOB_NAME", "clickstream-dev-build-sessions", "--env", "dev"]
    assert entry.run_entry("build_sessions", argv) == 0
    assert seen == [("build_sessions", argv)]


@pytest.mark.slow
def test_emr_and_local_runs_of_the_scripts_produce_the_expected_tables(
    spark: SparkSession, tmp_path: Path, assert_frames_equal: Callable[..., None]
) -> None:
    # GIVEN the hand-built lake
    sources = lf.build_lake(tmp_path)
    # WHEN each script runs as an EMR step would run it, in pipeline order
    codes = [
        job_main(job)(["--env", "local", "--set", f"lake_root={tmp_path}"]) for job in JOB_NAMES
    ]
    spark.sparkContext.setLogLevel("ERROR")
    # THEN every run succeeded and the curated tables are exactly the expected ones
    assert codes == [0] * len(JOB_NAMES)
    lake = str(tmp_path)
    expected = {
        EVENTS: lf.expected_events(sources),
        SESSIONS: lf.expected_sessions(),
        DAILY_ACTIVE_USERS: lf.EXPECTED_DAU,
    }
    for table, rows in expected.items():
        actual = read_table(spark, lake, table)
        assert_frames_equal(actual, spark.createDataFrame(rows, table_schema(table)))
    # AND the project's bookmark store under the lake recorded what each job processed
    # (each job's bookmark is a folder of immutable versions: _state/bookmarks/<job>/<n>.json)
    marks = sorted({p.parent.name for p in (tmp_path / "_state" / "bookmarks").glob("*/*.json")})
    assert marks == sorted(JOB_NAMES)


def test_a_bad_set_key_exits_2_naming_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    code = job_main("curate_events")(["--env", "local", "--set", "no_such_key=1"])
    assert code == 2
    assert "unknown key 'no_such_key'" in capsys.readouterr().err


def test_a_script_runs_as_a_program_and_exits_with_its_code(tmp_path: Path) -> None:
    # GIVEN `python jobs/<job>.py` as spark-submit runs it, with a bad setting (fails before Spark)
    out = subprocess.run(
        [sys.executable, str(JOBS_DIR / "daily_active_users.py"), "--set", "timezone=Mars/Base"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"},
        timeout=120,
    )
    # THEN the exit code is 2 and the message names the key
    assert out.returncode == 2, out.stderr[-2000:]
    assert "timezone='Mars/Base'" in out.stderr


def _awsglue_imports(path: Path) -> tuple[list[int], list[int]]:
    """Line numbers of awsglue imports in a file: (inside functions, elsewhere)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nested: set[int] = set()
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            nested.update(id(n) for n in ast.walk(func))
    inside, outside = [], []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        if any(n == "awsglue" or n.startswith("awsglue.") for n in names):
            (inside if id(node) in nested else outside).append(node.lineno)
    return inside, outside


def test_awsglue_is_imported_only_lazily_by_the_glue_adapter() -> None:
    files = [*LIBS.rglob("*.py"), *JOBS_DIR.glob("*.py")]
    found = {p: _awsglue_imports(p) for p in files}
    offenders = {
        str(p.relative_to(REPO)): lines
        for p, (inside, outside) in found.items()
        for lines in [outside if p == GLUE_ADAPTER else inside + outside]
        if lines
    }
    assert offenders == {}
    assert found[GLUE_ADAPTER][0], "the Glue adapter imports awsglue inside its functions"


def test_importing_the_runtimes_does_not_import_awsglue() -> None:
    code = (
        "import sys, clickstream.runtime.entry, clickstream.runtime.glue; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'awsglue'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
