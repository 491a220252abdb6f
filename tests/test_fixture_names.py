"""Simulator fixtures are named for what they are: each defined once under tests/, none bare `sim`."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _fixture_names(path: Path) -> list[str]:
    """Names of the functions in `path` decorated with pytest.fixture (called or not)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                if ast.unparse(target) in ("pytest.fixture", "fixture"):
                    names.append(node.name)
    return names


def test_simulator_fixture_names_are_distinct() -> None:
    """One definition per simulator fixture across the suite, so `sim_*` means one thing."""
    where: dict[str, list[str]] = defaultdict(list)
    for path in TESTS.rglob("*.py"):
        for name in _fixture_names(path):
            where[name].append(str(path.relative_to(TESTS)))
    simulators = {n: files for n, files in where.items() if "sim" in n}
    assert {n: files for n, files in simulators.items() if len(files) > 1} == {}
    assert "sim" not in where
    assert {"sim_reset", "sim_env", "sim_shared", "sim_warm", "sim_oauth1a_server"} <= set(where)


def test_conftests_do_not_import_fixtures_across_folders() -> None:
    """Fixture modules load through the root conftest's pytest_plugins, not by imports."""
    for conftest in TESTS.rglob("conftest.py"):
        for node in ast.walk(ast.parse(conftest.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("tests."), f"{conftest}: {node.module}"
                assert node.level <= 1, f"{conftest}: imports from another folder"
