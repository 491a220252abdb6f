"""Test helpers for downstream users: a running IBKR simulator as a context manager or fixture.

Installed, the package offers the ``ib_simulator`` fixture to every pytest run by itself (entry
point ``pytest11`` -> `noetl_ib_plugin.pytest_plugin`): a fresh simulator (pacing off,
throw-away keys) per test whose ``credentials_file`` holds ready-made ``sim_oauth2`` and
``sim_oauth1a`` credential records pointing at it. `running_simulator()` needs no pytest.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from noetl_ib_plugin.runner import reset_default_host
from noetl_ib_plugin.simulator import Simulator, shared_keys

__all__ = ["reset", "running_simulator"]


def reset() -> None:
    """Forget the process-default host (its clients, caches, pacers, registry); the simulator's shared
    throw-away keys are kept (RSA generation is the slow part of start-up):
    `noetl_ib_plugin.simulator.reset()` forgets those."""
    reset_default_host()


@contextmanager
def running_simulator(**options: Any) -> Iterator[Simulator]:
    """Start a Simulator with `options` (keys shared per process unless given, no bridge warm-up
    unless given) and stop it after."""
    options.setdefault("keys", shared_keys())
    options.setdefault("bridge_warmup", 0)  # IBKR's 1-5 s warm-up would only slow tests down
    sim = Simulator(**options)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()
