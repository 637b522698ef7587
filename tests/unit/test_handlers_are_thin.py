"""Every handler is thin (docs/architecture.md, "Module map"): parse, call the layer, map the answer.

Logic lines: a handler module's lines that are not blank, comments, docstrings, imports or decorators.
At most 40 each; the use cases live in ``leadscore.services`` and ``leadscore.api``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

LIMIT = 40
HANDLERS = sorted((ROOT / "functions").glob("*/app.py"))


def logic_lines(source: str) -> int:
    tree = ast.parse(source)
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            skipped.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            if docstring and isinstance(first.value.value, str):  # type: ignore[attr-defined]
                skipped.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    count = 0
    for number, line in enumerate(source.splitlines(), 1):
        text = line.strip()
        if text and not text.startswith(("#", "@")) and number not in skipped:
            count += 1
    return count


def test_every_function_has_a_handler() -> None:
    assert len(HANDLERS) >= 10


@pytest.mark.parametrize("path", HANDLERS, ids=lambda p: p.parent.name)
def test_the_handler_has_at_most_40_logic_lines(path: Path) -> None:
    assert logic_lines(path.read_text()) <= LIMIT


def test_logic_lines_leave_out_docstrings_imports_comments_and_decorators() -> None:
    source = (
        '"""doc\nstring"""\nimport os\nfrom x import (\n  y,\n)\n\n'
        '# note\n@d\ndef f():\n    """doc"""\n    return 1\n'
    )
    assert logic_lines(source) == 2  # "def f():" and "return 1"
