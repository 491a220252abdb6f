"""Fault injection: canned errors, resets before/after processing, revocation, latency."""

from __future__ import annotations

import time

import pytest
import requests

from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.simulator.faults import FaultPlan

from .clients import OAuth2Client, Trader


def test_http_500_and_429(sim_shared: Simulator, trader: Trader) -> None:
    """p=1 plans answer 500 / 429 and count them by kind."""
    sim_shared.set_faults({"http_500": 1.0})
    resp = trader.get("/iserver/accounts")
    assert resp.status_code == 500 and "error" in resp.json()
    sim_shared.set_faults({"http_429": 1.0})
    resp = trader.get("/iserver/accounts")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "1"
    assert sim_shared.stats()["faults_injected"] == {"http_500": 1, "http_429": 1}


def test_reset_before_drops_without_processing(sim_shared: Simulator, trader: Trader) -> None:
    """reset_before: the client sees a connection error and no order is recorded."""
    sim_shared.set_faults({"reset_before": 1.0})
    with pytest.raises(requests.ConnectionError):
        trader.order(conid=265598, orderType="MKT", quantity=1)
    sim_shared.set_faults({})
    assert sim_shared.orders() == []
    assert sim_shared.stats()["faults_injected"]["reset_before"] == 1


def test_reset_after_records_order(sim_shared: Simulator, trader: Trader) -> None:
    """reset_after on placement: ConnectionError for the client, but the order exists."""
    sim_shared.set_faults({"reset_after": 1.0, "methods": ["POST"],
                    "paths": ["/v1/api/iserver/account/"]})
    with pytest.raises(requests.ConnectionError):
        trader.order(conid=265598, orderType="MKT", quantity=3, cOID="lost-ack")
    orders = sim_shared.orders()
    assert len(orders) == 1 and orders[0]["cOID"] == "lost-ack"
    assert orders[0]["status"] == "Filled"
    assert trader.get("/iserver/accounts").status_code == 200
    sim_shared.set_faults({})
    again = trader.order(conid=265598, orderType="MKT", quantity=3, cOID="lost-ack")
    assert "Local order ID=lost-ack" in again["error"]


def test_revoke_token_fault(sim_shared: Simulator, trader: Trader) -> None:
    """revoke_token revokes the bearer used: 401 now and afterwards."""
    sim_shared.set_faults({"revoke_token": 1.0})
    assert trader.get("/tickle").status_code == 401
    sim_shared.set_faults({})
    assert trader.get("/tickle").status_code == 401
    assert sim_shared.stats()["faults_injected"]["revoke_token"] == 1


def test_latency(sim_shared: Simulator, trader: Trader) -> None:
    """latency_ms delays answers."""
    sim_shared.set_faults({"latency_ms": 150})
    start = time.monotonic()
    assert trader.get("/tickle").status_code == 200
    assert time.monotonic() - start >= 0.15


def test_paths_default_spares_token_endpoints(sim_shared: Simulator, o2: OAuth2Client) -> None:
    """The default paths only fault /v1/api/; token endpoints need an explicit prefix."""
    sim_shared.set_faults({"http_500": 1.0})
    assert o2.token_response().status_code == 200
    sim_shared.set_faults({"http_500": 1.0, "paths": ["/oauth2/"]})
    assert o2.token_response().status_code == 500


def test_partial_probability_is_seeded(sim_shared: Simulator, trader: Trader) -> None:
    """The same seed gives the same sequence of faults."""
    def run() -> list[int]:
        sim_shared.set_faults({"seed": 42, "http_500": 0.5})
        return [trader.post("/iserver/auth/status").status_code for _ in range(12)]

    first = run()
    assert first == run() and 500 in first and 200 in first


def test_admin_faults_endpoint(sim_shared: Simulator) -> None:
    """POST /__sim/faults sets a plan, {} clears it, bad keys are 400."""
    url = f"{sim_shared.url}/__sim/faults"
    assert requests.post(url, json={"http_500": 0.2}, timeout=5).json()["http_500"] == 0.2
    assert "http_500" not in requests.post(url, json={}, timeout=5).json()
    assert requests.post(url, json={"http_5OO": 1}, timeout=5).status_code == 400
    with pytest.raises(ValueError):
        FaultPlan.parse({"http_500": 2})
