"""The plugin's process-wide state in one object, `RUNTIME`, with one `reset()`.

A process keeps, per credential or per directory: the `IBClient`s `run_action` reuses, the
contract lookups, the pacers, the token caches (memory, files, NoETL keychain layers), the
`/iserver/marketdata/history` gates, and the plugin manager with its registry. Each lives in a
`Table` (a dict with its own lock) here, so tests and hosts forget all of it with one call
instead of one helper per module. The simulator keeps its own state (the core never imports
it); `noetl_ib_plugin.testing` hooks its throw-away keys in with `on_reset`.

Bottom layer: this module imports nothing of the package at run time (the types below are for
the type checker only). What is not here on purpose: the per-path thread locks of
`client/filelock.py` (correctness, not a cache: forgetting one that is held would let two
threads in) and the deadline watchdog of `transport/deadline.py` (one daemon thread, reset
after fork by `os.register_at_fork`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    import pluggy

    from .auth.cache import FileTokenCache, MemoryTokenCache
    from .auth.keychain_cache import KeychainTokenCache
    from .client import IBClient, Pacer
    from .plugins import Registry

__all__ = ["RUNTIME", "Runtime", "Table", "reset"]

K = TypeVar("K")
V = TypeVar("V")


class Table(Generic[K, V]):
    """A process-wide dict with its own lock; `clear()` hands each value to `on_clear` (e.g.
    a client's `close`) after letting go of the lock."""

    def __init__(self, on_clear: Callable[[V], None] | None = None) -> None:
        self.lock = threading.Lock()
        self._items: dict[K, V] = {}
        self._on_clear = on_clear

    def get(self, key: K) -> V | None:
        """The value stored under `key`, or None."""
        with self.lock:
            return self._items.get(key)

    def put(self, key: K, value: V) -> None:
        """Store `value` under `key`, replacing any earlier one."""
        with self.lock:
            self._items[key] = value

    def get_or_create(self, key: K, make: Callable[[], V]) -> V:
        """The value under `key`; `make()` builds it (under the lock, so once) when missing."""
        with self.lock:
            value = self._items.get(key)
            if value is None:
                value = self._items[key] = make()
            return value

    def clear(self) -> None:
        """Forget every value (closing each through `on_clear`)."""
        with self.lock:
            values = list(self._items.values())
            self._items.clear()
        if self._on_clear is not None:
            for value in values:
                self._on_clear(value)

    def __len__(self) -> int:
        with self.lock:
            return len(self._items)


def _close(client: IBClient) -> None:
    """Release a forgotten client's pooled connections."""
    client.close()


class Runtime:
    """Everything the plugin keeps for the life of a process; `reset()` forgets it all."""

    def __init__(self) -> None:
        #: `run_action`'s clients, by the fingerprint of a record's contents.
        self.clients: Table[str, IBClient] = Table(on_clear=_close)
        #: Contract lookups: (trading root, kind, ...) -> (monotonic time stored, answer).
        self.contracts: Table[tuple[str, ...], tuple[float, Any]] = Table()
        #: One pacer per credential (and cache directory).
        self.pacers: Table[str, Pacer] = Table()
        #: The process's memory token cache (key "memory"), made on first use.
        self.memory_caches: Table[str, MemoryTokenCache] = Table()
        #: File token caches by directory.
        self.file_caches: Table[Path, FileTokenCache] = Table()
        #: NoETL keychain layers by (server, catalog id, id of the local cache).
        self.keychain_caches: Table[tuple[str, str, int], KeychainTokenCache] = Table()
        #: The 5-slot `/iserver/marketdata/history` gate of each credential.
        self.history_gates: Table[str, threading.BoundedSemaphore] = Table()
        #: The pluggy plugin manager (key "manager").
        self.plugin_managers: Table[str, pluggy.PluginManager] = Table()
        #: What the plugins registered (key "registry").
        self.registries: Table[str, Registry] = Table()
        self._hooks: list[Callable[[], None]] = []
        self._hooks_lock = threading.Lock()

    def tables(self) -> list[Table[Any, Any]]:
        """Every table this runtime owns."""
        return [value for value in vars(self).values() if isinstance(value, Table)]

    def on_reset(self, hook: Callable[[], None]) -> None:
        """Also run `hook()` on every `reset()` (state kept outside the core, e.g. test keys)."""
        with self._hooks_lock:
            if hook not in self._hooks:
                self._hooks.append(hook)

    def reset(self) -> None:
        """Close and forget every client, cache, pacer, gate and the plugin registry (tests, or
        a host reloading credentials or plugins). Files on disk are left as they are."""
        for table in self.tables():
            table.clear()
        with self._hooks_lock:
            hooks = list(self._hooks)
        for hook in hooks:
            hook()


#: The one runtime of this process.
RUNTIME = Runtime()


def reset() -> None:
    """`RUNTIME.reset()`."""
    RUNTIME.reset()
