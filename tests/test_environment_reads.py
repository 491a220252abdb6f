"""Only the front doors read the environment: every module below them receives what `Settings`
read as arguments (docs/architecture.md), so two hosts, or a host and the process environment,
never disagree behind the caller's back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "noetl_ib_plugin"

#: The front doors, and where in them the environment may be read (None: anywhere in the module
#: or package). Everything else in the package, wiring included, may not.
FRONT_DOORS: dict[str, set[str] | None] = {
    "cli": None,  # `noetl-ib` and the warm step server it hands steps to (cli/warm/)
    "entry.py": None,  # `main(**args)`, the NoETL `kind: python` step
    "trading.py": None,  # TradingClient, for bots
    "runner.py": {"default_host"},  # the process-default host of the front doors
}
#: Not below the front doors: the IBKR stand-in stands apart, the test helpers sit above.
APART = ("simulator", "testing.py", "pytest_plugin.py")
#: `os` names that read the process environment.
_ENV_NAMES = {"environ", "environb", "getenv", "getenvb"}
#: Modules that hold them (`posix`/`nt` are what `os` re-exports).
_OS_MODULES = {"os", "posix", "nt"}


def environment_reads(source: str) -> list[tuple[int, str | None]]:
    """(line, enclosing top-level function or None) of every use of os.environ, os.environb,
    os.getenv or os.getenvb in `source`, however `os` or the name was imported."""
    tree = ast.parse(source)
    os_names = {"os", "posix", "nt"}
    env_names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names |= {a.asname or a.name for a in node.names if a.name in _OS_MODULES}
        elif isinstance(node, ast.ImportFrom) and node.module in _OS_MODULES:
            env_names |= {a.asname or a.name for a in node.names if a.name in _ENV_NAMES}
    found: list[tuple[int, str | None]] = []

    def is_read(node: ast.AST) -> bool:
        if isinstance(node, ast.Attribute):
            return node.attr in _ENV_NAMES and isinstance(node.value, ast.Name) \
                and node.value.id in os_names
        if isinstance(node, ast.Name):
            return node.id in env_names
        if isinstance(node, ast.Call):  # getattr(os, "environ")
            return getattr(node.func, "id", "") == "getattr" and len(node.args) >= 2 \
                and isinstance(node.args[0], ast.Name) and node.args[0].id in os_names \
                and isinstance(node.args[1], ast.Constant) and node.args[1].value in _ENV_NAMES
        return isinstance(node, ast.ImportFrom) and node.module in _OS_MODULES \
            and any(a.name in _ENV_NAMES for a in node.names)

    def visit(node: ast.AST, function: str | None) -> None:
        if is_read(node):
            found.append((getattr(node, "lineno", 0), function))
        for child in ast.iter_child_nodes(node):
            inner = function
            if function is None and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                    and node is tree:
                inner = child.name
            visit(child, inner)

    visit(tree, None)
    return found


def _front_door(rel: str) -> tuple[bool, set[str] | None]:
    """(is a front door, the functions allowed to read in it: None for all)."""
    for name, functions in FRONT_DOORS.items():
        if rel == name or rel.startswith(f"{name}/"):
            return True, functions
    return False, None


def test_no_module_below_the_front_doors_reads_the_environment() -> None:
    """os.environ / os.environb / os.getenv appear only in the front doors listed above."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(APART):
            continue
        door, functions = _front_door(rel)
        for line, function in environment_reads(path.read_text()):
            if door and (functions is None or function in functions):
                continue
            offenders.append(f"{rel}:{line}" + (f" in {function}()" if function else ""))
    assert offenders == [], "read the value into wiring/settings.py and pass it down"


@pytest.mark.parametrize("source", [
    "import os\nx = os.environ.get('A')\n",
    "import os\ndef f():\n    return os.getenv('A')\n",
    "import os as o\nx = o.environb\n",
    "from os import environ\n",
    "from os import getenv as g\ny = g('A')\n",
    "import os\nclass C:\n    def m(self):\n        return dict(os.environ)\n",
    "import os\nx = getattr(os, 'environ')\n",
    "import os as o\ndef f():\n    return getattr(o, 'getenv')('A')\n",
    "import posix\nx = posix.environ\n",
    "from posix import environ as e\n",
])
def test_every_spelling_of_an_environment_read_is_seen(source: str) -> None:
    """The check sees attribute, aliased and imported spellings, at any depth."""
    assert environment_reads(source)


def test_a_front_door_function_is_told_apart_from_the_rest_of_its_module() -> None:
    """In runner.py only `default_host` may read: a read in another function is not allowed."""
    source = ("import os\ndef default_host():\n    return os.environ\n"
              "def other():\n    return os.environ\n")
    assert environment_reads(source) == [(3, "default_host"), (5, "other")]
    assert environment_reads("import os\nos.sep\nenviron = {}\n") == []
