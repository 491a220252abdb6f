"""Fixtures: one shared simulator (reset per test), built-in credentials and ready clients."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from noetl_ib_plugin.simulator import SimKeys, Simulator, generate_keys

from .clients import OAuth1aClient, OAuth2Client, Trader, load_private


@pytest.fixture(scope="session")
def sim_keys() -> SimKeys:
    """Throw-away keys generated once per run (RSA generation is the slow part)."""
    return generate_keys()


@pytest.fixture(scope="session")
def shared_sim(sim_keys: SimKeys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """One simulator for most tests, pacing off, no bridge warm-up, no accounts-first rule."""
    state = tmp_path_factory.mktemp("ibsim")
    with Simulator(pacing=False, keys=sim_keys, state_dir=state, bridge_warmup=0,
                   accounts_first=False, bulk_positions=120) as sim_shared:  # paging tests
        yield sim_shared


@pytest.fixture
def sim_shared(shared_sim: Simulator) -> Iterator[Simulator]:
    """The shared simulator with clean state and default lifetimes."""
    shared_sim.reset()
    defaults = shared_sim.engine.broker.order_options()
    yield shared_sim
    shared_sim.set_order_options(**defaults)
    shared_sim.token_ttl, shared_sim.sso_ttl, shared_sim.lst_ttl = 86399, 86400, 86400
    shared_sim.session_idle_timeout = 360
    shared_sim.set_faults({})


def records(sim_shared: Simulator) -> dict[str, dict[str, Any]]:
    """Credential data by record name."""
    return {r["name"]: r["data"] for r in sim_shared.credentials}


@pytest.fixture
def o2(sim_shared: Simulator) -> OAuth2Client:
    """An OAuth 2.0 client for the built-in sim_oauth2 credential."""
    data = records(sim_shared)["sim_oauth2"]
    return OAuth2Client(data["api_base_url"], data["client_id"], data["key_id"],
                        load_private(data["private_key"]), data["username"])


@pytest.fixture
def o1(sim_shared: Simulator) -> OAuth1aClient:
    """An OAuth 1.0a client for sim_oauth1a with a fresh live session token."""
    data = records(sim_shared)["sim_oauth1a"]
    client = OAuth1aClient(data["api_base_url"], data)
    client.obtain_lst()
    return client


@pytest.fixture
def trader(sim_shared: Simulator, o2: OAuth2Client) -> Trader:
    """A bearer-authenticated trader with the brokerage session open."""
    return Trader(sim_shared.url, records(sim_shared)["sim_oauth2"]["account_id"], bearer=o2.bearer()).init()


@pytest.fixture
def trader1a(sim_shared: Simulator, o1: OAuth1aClient) -> Trader:
    """An OAuth 1.0a trader with the brokerage session open."""
    return Trader(sim_shared.url, records(sim_shared)["sim_oauth1a"]["account_id"], oauth1a=o1).init()


class Clocked:
    """A simulator whose clock the test moves (`advance`), with an OAuth 2.0 trader on it."""

    def __init__(self, sim_shared: Simulator, offset: list[float]) -> None:
        self.sim = sim_shared
        self._offset = offset
        data = records(sim_shared)["sim_oauth2"]
        client = OAuth2Client(sim_shared.url, data["client_id"], data["key_id"],
                              load_private(data["private_key"]), data["username"])
        self.trader = Trader(sim_shared.url, data["account_id"], bearer=client.bearer()).init()

    def advance(self, seconds: float) -> None:
        """Move the simulator's clock forward."""
        self._offset[0] += seconds


@pytest.fixture
def clocked(sim_keys: SimKeys) -> Iterator[Clocked]:
    """A fresh pacing-off simulator on a test-controlled clock (real time plus an offset)."""
    offset = [0.0]
    with Simulator(pacing=False, keys=sim_keys, clock=lambda: time.time() + offset[0],
                   bridge_warmup=0, accounts_first=False) as s:
        yield Clocked(s, offset)


@pytest.fixture
def t(sim_shared: Simulator, trader: Trader) -> Trader:
    """A trader with AAPL (conid 265598) pinned at 100.00."""
    sim_shared.set_price(265598, 100.0)
    return trader
