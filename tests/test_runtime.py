"""One runtime object owns the process-wide state, and one reset() forgets it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from noetl_ib_plugin import plugins, runtime, simulator, testing
from noetl_ib_plugin.actions.history import history_gate
from noetl_ib_plugin.auth.cache import default_cache
from noetl_ib_plugin.client import IBClient, shared_pacer
from noetl_ib_plugin.runtime import RUNTIME
from tests.client.fakes import FakeProvider

PACKAGE = Path(__file__).resolve().parents[1] / "noetl_ib_plugin"

#: Module-level state kept outside the runtime on purpose (see runtime.py's docstring).
NOT_CACHES = {
    ("client/filelock.py", "_THREAD_LOCKS"),  # a held lock must never be forgotten
    ("client/filelock.py", "_GUARD"),
    ("transport/deadline.py", "_watchdog"),  # one thread, reset after fork
    ("transport/deadline.py", "_current"),
    ("runtime.py", "RUNTIME"),
}
_STATEFUL_CALLS = {"dict", "set", "list", "Lock", "RLock", "local", "Condition", "BoundedSemaphore"}


def _is_state(value: ast.expr | None) -> bool:
    """An empty container, a lock, or an instance of a cache/pacer/watchdog class."""
    if isinstance(value, (ast.Dict, ast.List, ast.Set)):
        return not (value.keys if isinstance(value, ast.Dict) else value.elts)
    if isinstance(value, ast.Call):
        name = getattr(value.func, "attr", getattr(value.func, "id", ""))
        return name in _STATEFUL_CALLS or name.endswith(("Cache", "Pacer", "Watchdog"))
    return False


def _module_state(path: Path) -> list[str]:
    """Names a module binds at top level to state (see `_is_state`), and its `global`s."""
    tree = ast.parse(path.read_text())
    found: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and _is_state(node.value):
            found += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) \
                and _is_state(node.value):
            found.append(node.target.id)
    found += [name for node in ast.walk(tree) if isinstance(node, ast.Global) for name in node.names]
    return found


def test_no_core_module_keeps_process_state_of_its_own() -> None:
    """Caches, tables and locks of the core live in RUNTIME, not in module globals."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("simulator/") or rel == "testing.py":
            continue
        offenders += [f"{rel}:{name}" for name in _module_state(path)
                      if (rel, name) not in NOT_CACHES]
    assert offenders == []


def test_reset_forgets_every_table_and_closes_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """After reset() every table is empty, clients were closed, and new lookups build anew."""
    client = IBClient(FakeProvider(), pacer=False)
    closed: list[bool] = []
    monkeypatch.setattr(client, "close", lambda: closed.append(True))
    RUNTIME.clients.put("k", client)
    RUNTIME.contracts.put(("root", "search", "AAPL"), (0.0, []))
    pacer = shared_pacer("credential-key")
    cache = default_cache()
    gate = history_gate("credential-key")
    registry = plugins.registry()
    assert shared_pacer("credential-key") is pacer and default_cache() is cache
    assert history_gate("credential-key") is gate and plugins.registry() is registry
    assert all(len(table) for table in RUNTIME.tables() if table is not RUNTIME.memory_caches
               and table is not RUNTIME.keychain_caches)
    runtime.reset()
    assert [len(table) for table in RUNTIME.tables()] == [0] * len(RUNTIME.tables())
    assert closed == [True]
    assert shared_pacer("credential-key") is not pacer and default_cache() is not cache
    assert history_gate("credential-key") is not gate and plugins.registry() is not registry


def test_reset_runs_hooks_once_each() -> None:
    """A hook registered twice runs once per reset (state kept outside the core)."""
    seen: list[int] = []

    def hook() -> None:
        seen.append(1)

    RUNTIME.on_reset(hook)
    RUNTIME.on_reset(hook)
    runtime.reset()
    assert seen == [1]


def test_simulator_keeps_its_keys_until_its_own_reset() -> None:
    """testing.reset() keeps the simulator's shared keys; simulator.reset() forgets them."""
    keys = simulator.shared_keys()
    testing.reset()
    assert simulator.shared_keys() is keys
    simulator.reset()
    fresh = simulator.shared_keys()
    assert fresh is not keys and fresh.client_id
