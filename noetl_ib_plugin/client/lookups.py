"""What a client carries for its actions: the contract-lookup memo and the history gate.

`Host` hands one `LookupCache` to all of its clients and one gate to each credential's clients,
so two hosts share neither (previously both were process-wide tables).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["HISTORY_CONCURRENCY", "LookupCache", "new_history_gate"]

#: IBKR: `/iserver/marketdata/history` allows 5 concurrent requests.
HISTORY_CONCURRENCY = 5


def new_history_gate() -> threading.BoundedSemaphore:
    """The 5-slot `/iserver/marketdata/history` gate of one credential."""
    return threading.BoundedSemaphore(HISTORY_CONCURRENCY)


class LookupCache:
    """A memo with a time-to-live for answers that change rarely (contract data); thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._items: dict[Hashable, tuple[float, Any]] = {}

    def get_or_load(self, key: Hashable, ttl: float, load: Callable[[], Any]) -> Any:
        """The value stored under `key` less than `ttl` seconds ago, else `load()` (stored)."""
        now = self._clock()
        with self._lock:
            hit = self._items.get(key)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
        value = load()
        with self._lock:
            self._items[key] = (now, value)
        return value

    def clear(self) -> None:
        """Forget every answer."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
