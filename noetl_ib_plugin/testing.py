"""Test helpers for downstream users: a running IBKR simulator as a context manager or fixture.

Installed, the package offers the ``ib_simulator`` fixture to every pytest run by itself (entry
point ``pytest11`` -> `noetl_ib_plugin.pytest_plugin`): a fresh simulator (pacing off,
throw-away keys) per test whose ``credentials_file`` holds ready-made ``sim_oauth2`` and
``sim_oauth1a`` credential records pointing at it. ``from noetl_ib_plugin.testing import
ib_simulator`` in a conftest.py still works; `running_simulator()` needs no pytest at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from noetl_ib_plugin import runtime
from noetl_ib_plugin.simulator import Simulator, shared_keys

__all__ = ["ib_simulator", "reset", "running_simulator"]


def reset() -> None:
    """Forget the plugin's process-wide state (`runtime.reset()`); the simulator's shared
    throw-away keys are kept (RSA generation is the slow part of start-up):
    `noetl_ib_plugin.simulator.reset()` forgets those."""
    runtime.reset()


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


try:  # the fixture needs pytest; running_simulator() works without it
    import pytest  # noqa: F401  (only to learn whether pytest is there)
except ImportError:  # pragma: no cover - pytest is a dev dependency
    pass
else:
    # The same fixture the `pytest11` entry point offers (pytest_plugin.py), for conftests that
    # import it by name as this module documented before the entry point existed.
    from .pytest_plugin import ib_simulator
