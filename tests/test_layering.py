"""The import graph is the architecture: layers from leaves to front doors, no import running up
a layer and no import cycle, counting imports made only for type checking.

Layers (a module may import its own layer or lower ones, never a higher one):
leaves -> transport -> credentials -> auth -> client -> streaming -> actions -> wiring -> front
doors -> test helpers (docs/architecture.md). The simulator stands apart: it imports nothing of
the core, and only the CLI and the test helpers import it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "noetl_ib_plugin"

#: Layers from the bottom; a part of the package is a top-level module or sub-package.
LAYERS: list[tuple[str, set[str]]] = [
    ("leaves", {"_version", "errors", "common"}),
    ("transport", {"transport"}),
    ("credentials", {"credentials"}),
    ("auth", {"auth"}),
    ("client", {"client"}),
    ("streaming", {"streaming"}),
    ("actions", {"actions"}),
    ("wiring", {"wiring"}),
    ("front doors", {"runner", "trading", "trading_stream", "entry", "cli", "__init__"}),
    ("test helpers", {"testing", "pytest_plugin"}),
]
RANK = {part: rank for rank, (_, parts) in enumerate(LAYERS) for part in parts}
#: Only these parts may reach the simulator (lazily).
MAY_IMPORT_SIMULATOR = {"cli", "testing", "pytest_plugin"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _part(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "__init__"


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(name: str) -> str | None:
    """The package module an imported name is (or lives in): `a.b.C` -> `a.b`."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


#: A `"package.module:attribute"` reference (`actions.spec.resolve_reference` imports it).
REFERENCE = re.compile(r"noetl_ib_plugin(\.\w+)*:[\w.]+")


def _dynamic_import(node: ast.Call) -> bool:
    """`importlib.import_module("...")` or `__import__("...")` with a literal module name."""
    name = getattr(node.func, "attr", getattr(node.func, "id", ""))
    return name in ("import_module", "__import__") and bool(node.args) \
        and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)


def _absolute(name: str, parts: tuple[str, ...]) -> str:
    """A dynamic import's module name, a relative one taken from the importing module's own
    name (what `import_module(".x", __name__)` does)."""
    level = len(name) - len(name.lstrip("."))
    if not level:
        return name
    own = [*parts[:-1]] if parts[-1] == "__init__" else [*parts]
    return ".".join([*own[: len(own) - level + 1], name[level:]])


def _imports(path: Path, source: str | None = None) -> Iterator[tuple[str, bool]]:
    """(imported package module, only under TYPE_CHECKING) for every import in a file (its
    `source` when given)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = list(parts[:-1])  # where a relative import starts (also for __init__.py)
    tree = ast.parse(path.read_text() if source is None else source)
    checking: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            checking.update(id(inner) for inner in ast.walk(node))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names = [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.Call) and _dynamic_import(node):
            names = [_absolute(node.args[0].value, parts)]  # type: ignore[attr-defined]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and REFERENCE.fullmatch(node.value):
            names = [node.value.partition(":")[0]]  # "pkg.module:attr", imported on first use
        else:
            continue
        for name in names:
            module = _resolve(name) if name.startswith("noetl_ib_plugin") else None
            if module is not None:
                yield module, id(node) in checking


def _graph() -> dict[str, set[str]]:
    """Core module -> core modules it imports (type-only imports included)."""
    return {name: {m for m, _ in _imports(path) if m != name and _part(m) != "simulator"}
            for name, path in MODULES.items() if _part(name) != "simulator"}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), i.e. import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _upward() -> list[str]:
    """Every import (type-only too) from a module into a higher layer, or into the simulator
    from a part that may not."""
    bad = []
    for name, path in MODULES.items():
        own = _part(name)
        if own == "simulator":
            continue
        for target, type_only in _imports(path):
            part = _part(target)
            how = " (type-only)" if type_only else ""
            if part == "simulator":
                if own not in MAY_IMPORT_SIMULATOR:
                    bad.append(f"{name} -> {target}{how}")
            elif RANK[part] > RANK[own]:
                bad.append(f"{name} -> {target}{how}")
    return sorted(bad)


def test_every_part_has_a_layer() -> None:
    """A new top-level module or sub-package must be placed in a layer first."""
    assert sorted({_part(m) for m in MODULES} - set(RANK) - {"simulator"}) == []


def test_import_graph_has_no_cycle_and_no_upward_import(capsys: pytest.CaptureFixture[str]) -> None:
    """0 cycles and 0 upward imports among the core modules, type-only imports counted."""
    graph = _graph()
    type_only = sum(t for name, path in MODULES.items() if _part(name) != "simulator"
                    for _, t in _imports(path))
    cycles, upward = _cycles(graph), _upward()
    with capsys.disabled():
        print(f"\nimport graph: {len(graph)} modules, {len(LAYERS)} layers, "
              f"{sum(len(v) for v in graph.values())} import edges ({type_only} type-only "
              f"imports counted), {len(cycles)} cycles, {len(upward)} upward imports")
    assert cycles == []
    assert upward == []


def test_the_checker_sees_a_cycle() -> None:
    """The cycle finder itself: a -> b -> a is one cycle, a -> b is none."""
    assert _cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("line", [
    "importlib.import_module('noetl_ib_plugin.cli')",
    "__import__('noetl_ib_plugin.cli._io')",
    "importlib.import_module('...cli', __name__)",
    "resolve_reference('noetl_ib_plugin.cli._io:UsageError')",
])
def test_a_dynamic_upward_import_is_seen(line: str) -> None:
    """A client module reaching the CLI by importlib, __import__ or "module:attr" imports upward."""
    seen = {m for m, _ in _imports(PACKAGE / "client" / "lazy.py", f"def f():\n    {line}\n")}
    assert seen and all(RANK[_part(m)] > RANK["client"] for m in seen), seen


@pytest.mark.parametrize("path", sorted((PACKAGE / "simulator").rglob("*.py")), ids=lambda p: p.name)
def test_simulator_is_independent_of_the_core(path: Path) -> None:
    """The simulator checks the client against the protocol, so it shares no code with the core."""
    for target, _ in _imports(path):
        assert target.startswith("noetl_ib_plugin.simulator"), f"{path.name} imports {target}"
