"""One `Host` per embedding owns what a process keeps; two hosts share nothing; clients follow
the NoETL step's token cache."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

from noetl_ib_plugin import simulator, testing
from noetl_ib_plugin.auth.keychain_cache import KeychainTokenCache
from noetl_ib_plugin.common.step_context import StepContext, running_step
from noetl_ib_plugin.credentials import CredentialRecord, parse_record
from noetl_ib_plugin.runner import default_host, get_client
from noetl_ib_plugin.wiring.host import Host
from noetl_ib_plugin.wiring.settings import Settings

PACKAGE = Path(__file__).resolve().parents[1] / "noetl_ib_plugin"

#: Module-level state on purpose: a held lock must never be forgotten; one watchdog thread;
#: the front doors' process-default host.
NOT_CACHES = {
    ("common/file_lock.py", "_THREAD_LOCKS"),  # a held lock must never be forgotten
    ("transport/deadline.py", "_watchdog"),  # one thread, reset after fork
    ("transport/deadline.py", "_current"),
    ("transport/dns.py", "_lookups"),  # one thread per hanging name lookup, reset after fork
    ("runner.py", "_default"),
    ("runner.py", "_default_lock"),
    # Context-local, not a table: the NoETL step `entry.main` runs; only front doors read it.
    ("common/step_context.py", "_CURRENT"),
    # Memos of pure functions: the same answer for every host.
    ("auth/oauth1a.py", "_quoted_path_url"),  # percent-encoded paths, at most 512
    ("common/redaction.py", "_patterns"),  # compiled on first use
}
_STATEFUL_CALLS = {"dict", "set", "list", "Lock", "RLock", "local", "Condition", "BoundedSemaphore",
                   "ContextVar", "defaultdict", "OrderedDict", "deque", "WeakValueDictionary",
                   "WeakKeyDictionary"}
_MEMO_DECORATORS = {"cache", "lru_cache", "cached_property"}
#: Classes whose module-level instances are values (frozen or configuration), not state: any other
#: instance built at import time (a table, a registry, a lock holder) counts as state.
_VALUES = {"ConfigDict", "Struct", "Field", "TypeVar", "Path", "OrderSettings", "_OriginEnv",
           "Limit", "HookspecMarker", "HookimplMarker", "Wording", "ModifySettings"}


def _is_state(value: ast.expr | None) -> bool:
    """An empty container, a lock, or an instance of a cache/pacer/watchdog class."""
    if isinstance(value, (ast.Dict, ast.List, ast.Set)):
        return not (value.keys if isinstance(value, ast.Dict) else value.elts)
    if isinstance(value, ast.Call):
        name = getattr(value.func, "attr", getattr(value.func, "id", ""))
        return name in _STATEFUL_CALLS or name.endswith(("Cache", "Pacer", "Watchdog")) \
            or (name[:1].lstrip("_").isupper() and name not in _VALUES)
    return False


def _is_memo(decorator: ast.expr) -> bool:
    """`@functools.cache`, `@lru_cache(...)` and the like: a table kept by the function."""
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return getattr(target, "attr", getattr(target, "id", "")) in _MEMO_DECORATORS


def _module_state(path: Path) -> list[str]:
    """Names a module binds at top level to state (see `_is_state`), its memoised functions,
    and its `global`s."""
    tree = ast.parse(path.read_text())
    found: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and _is_state(node.value):
            found += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) \
                and _is_state(node.value):
            found.append(node.target.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                and any(_is_memo(d) for d in node.decorator_list):
            found.append(node.name)
    found += [name for node in ast.walk(tree) if isinstance(node, ast.Global) for name in node.names]
    return found


def test_no_core_module_keeps_process_state_of_its_own() -> None:
    """Caches, tables, memos and locks of the core live on a Host, not in module globals."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("simulator/") or rel == "testing.py":
            continue
        offenders += [f"{rel}:{name}" for name in _module_state(path)
                      if (rel, name) not in NOT_CACHES]
    assert offenders == []


def test_a_module_level_instance_of_any_class_counts_as_state(tmp_path: Path) -> None:
    """A table built at import time is state whatever its class is called; frozen values are not."""
    source = tmp_path / "m.py"
    source.write_text("_CLIENTS = ClientTable()\n_LOCKS = KeyLocks()\n_CFG = ConfigDict(a=1)\n")
    assert _module_state(source) == ["_CLIENTS", "_LOCKS"]


def _record(rsa_pem: str, user: str = "u") -> CredentialRecord:
    return parse_record({"name": "ib", "type": "interactive_brokers_oauth",
                         "data": {"client_id": "c", "key_id": "k", "private_key": rsa_pem,
                                  "credential": user}})


def _host(tmp_path: Path, **settings: object) -> Host:
    return Host(Settings(cache_dir=tmp_path / "cache", **settings))  # type: ignore[arg-type]


def test_two_hosts_share_nothing(host: Host, rsa_pem: str) -> None:
    """Clients, token caches, pacers, contract lookups, history gates and registries are per host."""
    record = _record(rsa_pem)
    a, b = host, Host(host.settings)
    ca, cb = a.client(record), b.client(record)
    assert a.client(record) is ca and b.client(record) is cb and ca is not cb
    assert a.token_cache() is not b.token_cache()
    assert ca.provider is not cb.provider
    assert ca.transport.pacer is not cb.transport.pacer
    assert ca.lookups is a.lookups and cb.lookups is b.lookups and a.lookups is not b.lookups
    assert ca.history_gate is not cb.history_gate
    assert a.registry is not b.registry
    ca.lookups.get_or_load(("k",), 60.0, lambda: "a")
    assert len(b.lookups) == 0
    # The pacer's history is one file per credential either way: cross-process on purpose.
    assert ca.transport.pacer.path == cb.transport.pacer.path  # type: ignore[attr-defined]


def test_memory_hosts_keep_their_own_tokens(tmp_path: Path) -> None:
    """NOETL_IB_TOKEN_CACHE=memory: each host has its own memory cache, no state directory."""
    a, b = _host(tmp_path, token_cache="memory"), _host(tmp_path, token_cache="memory")
    assert a.token_cache() is a.token_cache() and a.token_cache() is not b.token_cache()
    assert a.state_dir(a.token_cache()) is None


def test_get_client_follows_the_step_catalog(tmp_path: Path, rsa_pem: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Catalog 111, then 222, then outside any step: each client holds that context's cache."""
    monkeypatch.setenv("NOETL_IB_HTTP_SERVER_HOSTS", "noetl")
    monkeypatch.delenv("NOETL_IB_KEYCHAIN_CATALOG_ID", raising=False)
    testing.reset()
    record = _record(rsa_pem)
    server = "http://noetl:8082"
    with running_step(StepContext(execution_id="1", step="s", server_url=server, catalog_id="111")):
        first = get_client(record)
    with running_step(StepContext(execution_id="2", step="s", server_url=server, catalog_id="222")):
        second = get_client(record)
    outside = get_client(record)
    caches = [c.provider._cache for c in (first, second, outside)]
    assert isinstance(caches[0], KeychainTokenCache) and caches[0].catalog_id == "111"
    assert isinstance(caches[1], KeychainTokenCache) and caches[1].catalog_id == "222"
    assert not isinstance(caches[2], KeychainTokenCache)
    assert caches[2] is default_host().token_cache()
    with running_step(StepContext(execution_id="3", step="t", server_url=server, catalog_id="111")):
        assert get_client(record) is first  # same record, same cache: the client is reused
    testing.reset()


def test_close_closes_every_client(host: Host, rsa_pem: str,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Host.close() closes the clients it built; the next lookup builds a new one."""
    client = host.client(_record(rsa_pem))
    closed: list[bool] = []
    monkeypatch.setattr(client, "close", lambda: closed.append(True))
    host.close()
    assert closed == [True] and host.client(_record(rsa_pem)) is not client


def test_default_host_follows_the_environment(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    """The front doors' host is rebuilt when the settings change, keeping the loaded registry."""
    testing.reset()
    first = default_host()
    registry = first.registry
    assert default_host() is first
    monkeypatch.setenv("NOETL_IB_CACHE_DIR", str(tmp_path / "elsewhere"))
    second = default_host()
    assert second is not first and second.settings.cache_dir == tmp_path / "elsewhere"
    assert second.registry is registry
    testing.reset()
    assert default_host() is not second


def test_simulator_keeps_its_keys_until_its_own_reset() -> None:
    """testing.reset() keeps the simulator's shared keys; simulator.reset() forgets them."""
    keys = simulator.shared_keys()
    testing.reset()
    assert simulator.shared_keys() is keys
    simulator.reset()
    fresh = simulator.shared_keys()
    assert fresh is not keys and fresh.client_id


def test_keepalive_started_in_a_step_tickles_that_steps_client(tmp_path: Path, rsa_pem: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A bot's keepalive thread keeps alive the client of the step it started in, not another."""
    from noetl_ib_plugin.client import IBClient
    from noetl_ib_plugin.trading import TradingClient

    host = _host(tmp_path, http_server_hosts=frozenset({"noetl"}))
    record = _record(rsa_pem)
    tickled: list[IBClient] = []

    def tickle(self: IBClient) -> None:
        tickled.append(self)

    monkeypatch.setattr(IBClient, "tickle", tickle)
    step = StepContext(execution_id="1", step="s", server_url="http://noetl:8082", catalog_id="111")
    with running_step(step):
        with TradingClient(record, host=host, keepalive=True, keepalive_interval=0.01) as ib:
            deadline = time.monotonic() + 10
            while not tickled and time.monotonic() < deadline:
                time.sleep(0.01)
            assert ib.keepalive_running
        assert tickled and tickled[0] is host.client(record, step)
    host.close()
