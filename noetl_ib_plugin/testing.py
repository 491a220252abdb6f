"""Test helpers for downstream users: a running IBKR simulator as a context manager or fixture.

Add ``from noetl_ib_plugin.testing import ib_simulator`` to a conftest.py to get a fresh
simulator (pacing off, throw-away keys) per test; its ``credentials_file`` holds ready-made
``sim_oauth2`` and ``sim_oauth1a`` credential records pointing at it.
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


def _ib_simulator(tmp_path: Any) -> Iterator[Simulator]:
    """A started simulator with pacing off, credentials.json in the test's tmp_path."""
    with running_simulator(pacing=False, state_dir=tmp_path / "ibsim") as sim:
        yield sim


try:  # the fixture needs pytest; running_simulator() works without it
    import pytest
except ImportError:  # pragma: no cover - pytest is a dev dependency
    pass
else:
    ib_simulator = pytest.fixture(_ib_simulator, name="ib_simulator")
