"""Shared simulator fixtures for the client and action tests (one simulator per module)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from noetl_ib_plugin import runtime
from noetl_ib_plugin.auth import TokenProvider
from noetl_ib_plugin.client import IBClient, Pacer
from noetl_ib_plugin.credentials import load_credential
from noetl_ib_plugin.plugins import registry
from noetl_ib_plugin.runner import run_action
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.testing import running_simulator

CREDS = ("sim_oauth2", "sim_oauth1a")
ACCOUNTS = {"sim_oauth2": "DU1234567", "sim_oauth1a": "DU7654321"}


@pytest.fixture(scope="module")
def module_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """One pacing-off simulator per test module (start-up costs keys and a server)."""
    with running_simulator(pacing=False, state_dir=tmp_path_factory.mktemp("ibsim")) as sim:
        yield sim


@pytest.fixture
def sim(module_sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    """The module's simulator reset to a clean state, with client pacing off and no cached clients."""
    module_sim.reset()
    monkeypatch.setenv("NOETL_IB_PACING", "off")
    runtime.reset()
    yield module_sim
    runtime.reset()


def provider_for(sim: Simulator, cred: str) -> TokenProvider:
    """A fresh provider for one of the simulator's records (uses the test's token cache)."""
    record = load_credential(cred, sim.credentials_file, types=registry().credential_types)
    return registry().token_provider_for(record)


def client_for(sim: Simulator, cred: str, **kw: Any) -> IBClient:
    """A fresh client (fresh provider) for one of the simulator's records."""
    kw.setdefault("pacer", Pacer.disabled())
    return IBClient(provider_for(sim, cred), **kw)


def act(sim: Simulator, cred: str, name: str, **args: Any) -> dict[str, Any]:
    """run_action against the simulator's credentials file."""
    return run_action(name, cred, credentials_file=sim.credentials_file, **args)
