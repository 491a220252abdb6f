"""Admin API: stats, orders, price, reset."""

from __future__ import annotations

import requests

from noetl_ib_plugin.simulator import Simulator

from .clients import Trader


def test_stats_has_documented_counters(sim_shared: Simulator, trader: Trader) -> None:
    """GET /__sim/stats lists every counter and per-endpoint counts."""
    stats = requests.get(f"{sim_shared.url}/__sim/stats", timeout=5).json()
    for key in ("requests_total", "oauth2_token_requests", "sso_session_requests",
                "lst_requests", "ssodh_init_requests", "orders_accepted",
                "orders_rejected_duplicate_coid", "rate_limited_responses", "auth_failures",
                "faults_injected", "requests_by_endpoint"):
        assert key in stats
    assert stats["requests_by_endpoint"]["POST /v1/api/iserver/auth/ssodh/init"] == 1
    assert stats["requests_total"] == 3


def test_price_and_orders_endpoints(sim_shared: Simulator, trader: Trader) -> None:
    """POST /__sim/price pins a price; GET /__sim/orders shows the fill."""
    requests.post(f"{sim_shared.url}/__sim/price", json={"conid": 8314, "price": 150.0}, timeout=5)
    trader.order(conid=8314, orderType="MKT", quantity=2, cOID="adm")
    orders = requests.get(f"{sim_shared.url}/__sim/orders", timeout=5).json()
    assert orders[0]["cOID"] == "adm" and orders[0]["avgPrice"] == 150.0
    assert orders[0]["acct"] == "DU1234567" and orders[0]["fills"][0]["quantity"] == 2.0
    bad = requests.post(f"{sim_shared.url}/__sim/price", json={"conid": 1, "price": 1}, timeout=5)
    assert bad.status_code == 400


def test_reset_restores_state(sim_shared: Simulator, trader: Trader) -> None:
    """POST /__sim/reset clears orders, positions, cash, stats and sessions; keys still work."""
    sim_shared.set_price(265598, 100.0)
    trader.order(conid=265598, orderType="MKT", quantity=10)
    assert requests.post(f"{sim_shared.url}/__sim/reset", timeout=5).json() == {"reset": True}
    assert sim_shared.orders() == [] and sim_shared.stats()["orders_accepted"] == 0
    assert trader.get("/iserver/accounts").status_code == 400
    trader.init()
    pos = trader.get("/portfolio/DU1234567/positions/0").json()[0]
    assert pos["position"] == 100.0
    summary = trader.get("/portfolio/DU1234567/summary").json()
    assert summary["totalcashvalue"]["amount"] == 1_000_000.0


def test_unknown_paths(sim_shared: Simulator, trader: Trader) -> None:
    """Unknown trading and admin paths are 404 JSON."""
    assert trader.get("/nope").status_code == 404
    assert requests.get(f"{sim_shared.url}/__sim/nope", timeout=5).status_code == 404


def test_keep_alive_and_content_length(sim_shared: Simulator) -> None:
    """Several requests share one HTTP/1.1 connection and every answer has Content-Length."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", sim_shared.port, timeout=5)
    ports = set()
    for path in ("/__sim/stats", "/v1/api/tickle", "/__sim/orders"):
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        assert int(resp.getheader("Content-Length") or -1) == len(body)
        assert conn.sock is not None
        ports.add(conn.sock.getsockname()[1])
    assert len(ports) == 1
    conn.close()
