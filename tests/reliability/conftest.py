"""Simulator fixtures for the reliability tests (one pacing-off simulator per module)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from noetl_ib_plugin.actions.contracts import clear_contract_cache
from noetl_ib_plugin.runner import clear_clients
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.testing import running_simulator


@pytest.fixture(scope="module")
def reliability_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """One pacing-off simulator per test module."""
    with running_simulator(pacing=False, state_dir=tmp_path_factory.mktemp("ibsim")) as sim:
        yield sim


@pytest.fixture
def rsim(reliability_sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    """The module's simulator reset, client pacing off, no cached clients or contracts."""
    reliability_sim.reset()
    monkeypatch.setenv("NOETL_IB_PACING", "off")
    clear_clients()
    clear_contract_cache()
    yield reliability_sim
    clear_clients()
    clear_contract_cache()
