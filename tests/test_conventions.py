"""House rules that keep the suite readable: every test says, in one line, what it checks."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_every_test_has_a_one_line_docstring() -> None:
    """A test function without a one-line docstring saying the behaviour it checks fails the suite."""
    offenders = []
    for path in sorted(TESTS.rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
                doc = ast.get_docstring(node)
                if not doc or "\n" in doc.strip():
                    offenders.append(f"{path.relative_to(TESTS)}:{node.lineno} {node.name}")
    assert offenders == []
