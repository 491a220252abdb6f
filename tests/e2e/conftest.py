"""Fixtures: a fresh simulator per test (pacing off) and the environment that points at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.testing import running_simulator


@pytest.fixture
def sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    """A started simulator whose credentials file is what NOETL_IB_CREDENTIALS names."""
    with running_simulator(pacing=False, state_dir=tmp_path / "ibsim") as simulator:
        monkeypatch.setenv("NOETL_IB_CREDENTIALS", str(simulator.credentials_file))
        yield simulator


@pytest.fixture(autouse=True)
def _fresh_runner_clients() -> Iterator[None]:
    """In-process runs must not reuse a client (and its token) from another test's simulator."""
    yield
    from noetl_ib_plugin.runner import clear_clients

    clear_clients()
