"""Layering: credentials -> auth -> client -> actions -> plugin/CLI; the simulator stands apart."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "noetl_ib_plugin"

#: Rank of each part of the package; a module may import only parts of equal or lower rank.
RANKS = {
    "_version": 0,
    "validation": 0,
    "errors": 0,
    "redaction": 0,
    "backoff": 0,
    "transport": 0,
    "hookspecs": 0,
    "credentials": 1,
    "auth": 2,
    "client": 3,
    "actions": 4,
    "runner": 5,
    "trading": 5,
    "plugins": 5,
    "builtin": 5,
    "step_context": 0,
    "progress": 0,
    "runtime": 0,
    "ancestors": 0,
    "entry": 6,
    "step_result": 5,
    "step_credential": 6,
    "logs": 0,
    "jsonbounds": 0,
    "cli": 6,
    "warm": 6,
    "__init__": 6,
    "testing": 7,
    "pytest_plugin": 7,
}
#: Only the front doors may reach the simulator (lazily): the CLI command, the test helper and
#: the pytest plugin.
MAY_IMPORT_SIMULATOR = {"cli", "testing", "pytest_plugin"}


def _part(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "__init__"


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(absolute module, only under TYPE_CHECKING) for every noetl_ib_plugin import in a file."""
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    package = parts[:-1]  # the package a relative import starts from (also for __init__.py)
    tree = ast.parse(path.read_text())
    checking: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in ast.walk(node):
                checking.add(id(inner))
    found: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            else:
                target = node.module or ""
            names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            if name.startswith("noetl_ib_plugin"):
                found.append((name, id(node) in checking))
    return found


def _core_modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "simulator" not in p.relative_to(PACKAGE).parts]


@pytest.mark.parametrize("path", _core_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_core_module_imports_only_lower_layers(path: Path) -> None:
    """No core module imports a layer above its own (type-only imports excepted), nor the simulator."""
    own = _part("noetl_ib_plugin." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
    for target, type_only in _imports(path):
        part = _part(target)
        if part == "simulator":
            assert own in MAY_IMPORT_SIMULATOR, f"{path.name} imports the simulator"
            continue
        if type_only or target == "noetl_ib_plugin":
            continue
        assert RANKS[part] <= RANKS[own], f"{own} ({path.name}) imports {target}, a higher layer"


@pytest.mark.parametrize("path", sorted((PACKAGE / "simulator").rglob("*.py")), ids=lambda p: p.name)
def test_simulator_is_independent_of_the_core(path: Path) -> None:
    """The simulator checks the client against the protocol, so it shares no code with the core."""
    for target, _ in _imports(path):
        assert target.startswith("noetl_ib_plugin.simulator"), f"{path.name} imports {target}"
