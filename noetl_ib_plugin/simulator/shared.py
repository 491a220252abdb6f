"""The simulator package's only process-wide state: one set of throw-away keys, and its reset.

RSA generation is the slow part of a simulator's start-up, so every simulator started by
`noetl_ib_plugin.testing` in one process shares these keys. The core keeps its own state in
`noetl_ib_plugin.runtime` (the simulator imports nothing of the core, nor the core of it).
"""

from __future__ import annotations

import threading

from .keys import SimKeys, generate_keys

__all__ = ["reset", "shared_keys"]

_keys: list[SimKeys] = []
_keys_lock = threading.Lock()


def shared_keys() -> SimKeys:
    """The process's throw-away keys, generated on first use."""
    with _keys_lock:
        if not _keys:
            _keys.append(generate_keys())
        return _keys[0]


def reset() -> None:
    """Forget the shared keys: the next simulator gets fresh ones."""
    with _keys_lock:
        _keys.clear()
