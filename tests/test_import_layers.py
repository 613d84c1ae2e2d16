"""Imports run one way, cli -> runtime -> pipeline -> library -> transforms, never in a cycle.

Every import statement of the product counts, those inside functions too: a lazy import only
hides a cycle or a wrong-way dependency, it does not remove it.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import clickstream

ROOT = Path(clickstream.__file__).parent

# Highest first. A module may import its own layer and the layers below it; the longest prefix
# that matches a module names its layer; the rest of clickstream is the library.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cli", ("clickstream.cli",)),
    # where the product meets a platform: the job scripts' entry, the Glue adapter, deploy
    (
        "runtime",
        (
            "clickstream.runtime",
            "clickstream.aws.deploy",
            "clickstream.aws.packaging",
            "clickstream.aws.workflow",
        ),
    ),
    ("pipeline", ("clickstream.pipeline",)),
    ("library", ("clickstream",)),
    ("transforms", ("clickstream.transforms",)),
)
RANK = {name: rank for rank, (name, _) in enumerate(LAYERS)}


def layer(module: str) -> str:
    """The layer of a product module: the longest matching prefix wins."""
    best = ("", "library")
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and len(prefix) > len(best[0]):
                best = (prefix, name)
    return best[1]


def product_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package under root, by dotted name (packages by their __init__)."""
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The product modules that module `name` imports anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from package import submodule` imports the submodule; a name imports the module.
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        found |= {target for target in targets if target in known and target != name}
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the product modules it imports."""
    modules = product_modules(root)
    return {name: imports_of(name, path, set(modules)) for name, path in modules.items()}


def wrong_way_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports from a lower layer up to a higher one, as 'a (layer) -> b (layer)'."""
    return sorted(
        f"{a} ({layer(a)}) -> {b} ({layer(b)})"
        for a, targets in graph.items()
        for b in targets
        if RANK[layer(b)] < RANK[layer(a)]
    )


def cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of the graph, or [] when there is none."""
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as error:
        return list(error.args[1])
    return []


def test_the_product_imports_run_one_way() -> None:
    # GIVEN every import of the product, lazy ones included
    graph = import_graph()
    assert {"clickstream.spark", "clickstream.pipeline.runner", "clickstream.cli"} <= set(graph)
    # THEN none goes up a layer (cli -> runtime -> pipeline -> library -> transforms)
    assert wrong_way_imports(graph) == []


def test_the_product_has_no_import_cycle() -> None:
    assert cycle(import_graph()) == []


def test_the_product_never_imports_the_tools() -> None:
    # GIVEN the product's import statements THEN none names the tools package
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n.split(".")[0] == "clickstream_tools" for n in names), path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # a lazy import inside a function that closes a loop is a cycle
        (
            {
                "__init__.py": "",
                "a.py": "from pkg import b\n",
                "b.py": "def f():\n    from pkg.a import x\n",
            },
            "cycle",
        ),
        # the library importing the pipeline goes the wrong way
        (
            {
                "__init__.py": "",
                "writer.py": "from pkg.pipeline.runner import run\n",
                "pipeline/__init__.py": "",
                "pipeline/runner.py": "from pkg import writer\n",
            },
            "cycle",
        ),
        (
            {
                "__init__.py": "",
                "writer.py": "def f():\n    from .pipeline import runner\n",
                "pipeline/__init__.py": "",
                "pipeline/runner.py": "",
            },
            "wrong way",
        ),
    ],
)
def test_the_checks_catch_a_cycle_and_a_wrong_way_import(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    # GIVEN a small package with a cycle or an upward import
    root = tmp_path / "pkg"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    graph = {
        a.replace("pkg", "clickstream", 1): {b.replace("pkg", "clickstream", 1) for b in bs}
        for a, bs in import_graph(root).items()
    }
    # WHEN the checks run THEN they report it
    if expected == "cycle":
        assert cycle(graph)
    else:
        assert wrong_way_imports(graph) == [
            "clickstream.writer (library) -> clickstream.pipeline.runner (pipeline)"
        ]
