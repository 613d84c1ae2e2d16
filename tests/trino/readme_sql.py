"""The SQL examples of the README, taken from its text: what a reader copies into Athena.

Every ```sql block is split into statements (a statement ends with a line ending in `;`); an
example is named by its first `-- ` comment line, so the tests can say which one broke.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
_BLOCK = re.compile(r"^```sql[ \t]*\n(.*?)^```", re.M | re.S)


@dataclass(frozen=True)
class Example:
    """One SQL statement of the README: its title (first comment), text and line number."""

    title: str
    sql: str
    line: int

    def __str__(self) -> str:
        """README.md:<line> '<title>'"""
        return f"README.md:{self.line} {self.title!r}"


def sql_examples(text: str) -> list[Example]:
    """The statements of every ```sql block in the README text, in order."""
    examples = []
    for block in _BLOCK.finditer(text):
        first_line = text.count("\n", 0, block.start(1)) + 1
        lines: list[str] = []
        start = first_line
        for number, line in enumerate(block.group(1).splitlines(), start=first_line):
            if not lines and not line.strip():
                continue
            if not lines:
                start = number
            lines.append(line)
            if line.rstrip().endswith(";"):
                examples.append(_example(lines, start))
                lines = []
        if any(line.strip() for line in lines):
            examples.append(_example(lines, start))
    return examples


def _example(lines: list[str], line: int) -> Example:
    """An Example from a statement's lines (comments included, trailing `;` dropped)."""
    comments = [s.strip()[2:].strip() for s in lines if s.strip().startswith("--")]
    sql = "\n".join(lines).rstrip().removesuffix(";").rstrip()
    return Example(comments[0] if comments else sql.splitlines()[0], sql, line)


def readme_examples() -> list[Example]:
    """The SQL examples of the project's README.md as it is now."""
    return sql_examples(README.read_text(encoding="utf-8"))
