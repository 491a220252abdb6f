"""IBClient against the real-HTTP simulator: bootstrap memory, 401 refresh, no bridge, pacing."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from noetl_ib_plugin.client import IBClient, Pacer
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.testing import running_simulator
from tests.fixtures.simulators import ACCOUNTS, CREDS, client_for, provider_for

TOKEN_COUNTERS = {"sim_oauth2": ("oauth2_token_requests", "sso_session_requests"),
                  "sim_oauth1a": ("lst_requests",)}


@pytest.mark.parametrize("cred", CREDS)
def test_bootstrap_once_and_reused_by_new_process(sim_reset: Simulator, cred: str) -> None:
    """One ssodh/init per token; a new provider+client on the warm token cache skips it."""
    client = client_for(sim_reset, cred)
    assert client.account_id == ACCOUNTS[cred]
    client.get("/iserver/secdef/search", params={"symbol": "AAPL"})
    client.get(f"/portfolio/{client.account_id}/summary")
    assert sim_reset.stats()["ssodh_init_requests"] == 1
    fresh = client_for(sim_reset, cred)  # new provider, new memory: what a new process has
    fresh.get("/iserver/secdef/search", params={"symbol": "MSFT"})
    fresh.get(f"/portfolio/{fresh.account_id}/summary")
    stats = sim_reset.stats()
    assert stats["ssodh_init_requests"] == 1
    assert stats["requests_by_endpoint"]["GET /v1/api/portfolio/accounts"] == 1
    for counter in TOKEN_COUNTERS[cred]:
        assert stats[counter] == 1


@pytest.mark.parametrize("cred", CREDS)
def test_revoked_token_causes_exactly_one_refresh(sim_reset: Simulator, cred: str) -> None:
    """After the simulator revokes every token, 20 concurrent calls cause one token refresh."""
    client = client_for(sim_reset, cred)
    client.get("/iserver/secdef/search", params={"symbol": "AAPL"})
    before = sim_reset.stats()
    assert sim_reset.revoke_all() >= 1
    barrier = threading.Barrier(20)

    def call(_: int) -> object:
        barrier.wait()
        return client.get("/iserver/secdef/search", params={"symbol": "AAPL"})

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(call, range(20)))
    assert all(isinstance(r, list) and r for r in results)
    after = sim_reset.stats()
    for counter in TOKEN_COUNTERS[cred]:
        assert after[counter] - before[counter] == 1


def test_no_bridge_after_broker_reset_rebootstraps(sim_reset: Simulator) -> None:
    """When the brokerage session disappears (simulator reset), the client re-opens it once."""
    client = client_for(sim_reset, "sim_oauth2")
    client.get("/iserver/secdef/search", params={"symbol": "AAPL"})
    sim_reset.engine.broker.reset()  # drops brokerage sessions, keeps tokens valid
    assert client.get("/iserver/secdef/search", params={"symbol": "IBM"})
    assert sim_reset.stats()["ssodh_init_requests"] == 2


@pytest.mark.serial  # a request held up >50 ms by a busy CPU arrives in the next window
def test_burst_of_50_snapshots_with_pacing_gets_no_429(tmp_path_factory: pytest.TempPathFactory,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """50 concurrent snapshot requests against the pacing simulator: zero 429s, ~10/s sustained."""
    monkeypatch.delenv("NOETL_IB_PACING", raising=False)
    with running_simulator(pacing=True, state_dir=tmp_path_factory.mktemp("ibsim-paced")) as sim_reset:
        client = IBClient(provider_for(sim_reset, "sim_oauth2"), pacer=Pacer())
        client.get("/iserver/accounts")  # bootstrap outside the measured burst
        start = time.monotonic()

        def one(_: int) -> object:
            return client.get("/iserver/marketdata/snapshot",
                              params={"conids": "265598", "fields": "31,84,86"})

        with ThreadPoolExecutor(10) as pool:
            list(pool.map(one, range(50)))
        elapsed = time.monotonic() - start
        stats = sim_reset.stats()
        assert stats["rate_limited_responses"] == 0
        assert stats["requests_by_endpoint"]["GET /v1/api/iserver/marketdata/snapshot"] == 50
        # 50 requests = 5 windows of 10: the last window opens after 4 widened windows.
        assert 4.0 <= elapsed < 4 * 1.015 + 0.6
