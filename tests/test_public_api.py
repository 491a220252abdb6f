"""The public API, pinned against the package itself (as httpx's test_exported_members)."""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
from pathlib import Path

import noetl_ib_plugin
from noetl_ib_plugin import errors

INIT = Path(noetl_ib_plugin.__file__)
#: Public-looking names in the package namespace that are deliberately not API: the helpers
#: `__init__.py` itself imports. Submodules (`errors`, ...) are attributes too, and allowed.
NOT_API = {"annotations", "importlib", "TYPE_CHECKING", "Any"}


def test_every_exported_name_exists_and_is_documented() -> None:
    """Each name in __all__ resolves; each class or function has a docstring of its own."""
    for name in noetl_ib_plugin.__all__:
        value = getattr(noetl_ib_plugin, name)
        if name == "__version__":
            assert isinstance(value, str) and value
            continue
        if inspect.isclass(value) or inspect.isfunction(value):
            assert (value.__doc__ or "").strip(), f"{name} has no docstring"


def test_all_is_sorted_without_duplicates_and_dir_matches() -> None:
    """__all__ is sorted, unique, and what dir() shows."""
    names = list(noetl_ib_plugin.__all__)
    assert names == sorted(set(names))
    assert dir(noetl_ib_plugin) == sorted(names)


def test_every_public_name_in_the_namespace_is_exported_or_deliberate() -> None:
    """A fresh import holds no public name outside __all__ but submodules and NOT_API."""
    code = (
        "import json, types, noetl_ib_plugin as m; "
        "print(json.dumps({n: isinstance(v, types.ModuleType) for n, v in vars(m).items() "
        "if not n.startswith('_')}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    found: dict[str, bool] = json.loads(done.stdout)
    stray = {n for n, is_module in found.items()
             if not is_module and n not in noetl_ib_plugin.__all__ and n not in NOT_API}
    assert stray == set()


def test_the_error_tree_is_exported_whole_and_eagerly() -> None:
    """Every name of errors.__all__ is public, bound at import time (no lazy lookup)."""
    assert set(errors.__all__) <= set(noetl_ib_plugin.__all__)
    code = ("import noetl_ib_plugin as m; import sys; "
            f"print(all(n in vars(m) for n in {sorted(errors.__all__)!r}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"


def test_type_checking_imports_and_lazy_table_agree_with_all() -> None:
    """The names under TYPE_CHECKING, the eager imports and __all__ are one set (no third list)."""
    tree = ast.parse(INIT.read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            imported.update(alias.asname or alias.name for alias in node.names)
    assert imported == set(noetl_ib_plugin.__all__)
    lazy = vars(noetl_ib_plugin)["_LAZY"]
    assert set(lazy) <= set(noetl_ib_plugin.__all__)


def test_names_the_docs_and_examples_import_are_exported() -> None:
    """Removing a public name the README or an example imports fails here, with no third list."""
    import re

    root = INIT.parent.parent
    texts = [root / "README.md", *sorted((root / "examples").rglob("*.py"))]
    imported: set[str] = set()
    for path in texts:
        for names in re.findall(r"from noetl_ib_plugin import (\([^)]*\)|[^\n#]+)", path.read_text()):
            imported |= {n.strip() for n in names.strip("()").split(",") if n.strip()}
    assert len(imported) >= 5  # the README's Python API section alone imports five
    assert imported - set(noetl_ib_plugin.__all__) == set()


def test_no_compatibility_shims_for_the_unreleased_0_1_0() -> None:
    """Moved names live only at their real homes: no PEP 562 fallbacks, no fixture re-export."""
    from noetl_ib_plugin import actions, testing
    from noetl_ib_plugin.credentials import models

    for module in (actions, models):
        assert "__getattr__" not in vars(module), module.__name__
    for old in ("parse_record", "coerce_data", "check_record_name", "RECORD_NAME_PATTERN"):
        assert not hasattr(models, old), old
    for old in ("place_order", "IBClient", "PlaceOrderInput", "snapshot"):
        assert not hasattr(actions, old), old
    assert not hasattr(testing, "ib_simulator")
    from noetl_ib_plugin import client, errors
    from noetl_ib_plugin.cli import _io

    assert not hasattr(errors, "OrderOutcomeUnknown")  # the alias of OrderUnconfirmed
    assert not hasattr(client, "OutcomeUnknown")  # it lives in errors only
    assert not hasattr(_io, "CliUsageError")  # the alias of UsageError
