"""The simulator's modules import each other without a circle (type-only imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import noetl_ib_plugin.simulator as simulator

PACKAGE = Path(simulator.__file__).resolve().parent


def _graph() -> dict[str, set[str]]:
    """Module -> simulator modules it imports (relative `from .x import` and `from . import x`)."""
    graph: dict[str, set[str]] = {}
    names = {p.stem for p in PACKAGE.glob("*.py")}
    for path in PACKAGE.glob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    found.add(node.module.split(".")[0])
                else:
                    found.update(a.name for a in node.names if a.name in names)
        graph[path.stem] = found & names - {path.stem}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a path, or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_simulator_has_no_import_circle() -> None:
    """api.py's handlers take Services, so api.py never imports engine.py (and nothing circles)."""
    graph = _graph()
    assert "engine" not in graph["api"]
    assert _cycle(graph) is None, _cycle(graph)


def test_cycle_finder_finds_a_planted_circle() -> None:
    """The oracle itself: a planted a -> b -> a is reported."""
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
