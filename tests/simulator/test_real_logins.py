"""What real logins hold and do (issue 23, ibkr-web-api.md s.13): several accounts with a
selected one, cached positions, incomplete live orders, history's 5 in flight, delayed quotes,
base currencies, fractional sizes, maintenance and reply faults, the endpoints ibind calls."""

from __future__ import annotations

import threading
from typing import Any

import requests

from noetl_ib_plugin.simulator import Simulator

from .clients import Trader

AAPL, BHP_ASX = 265598, 4036818
OWN, LINKED = "DU1234567", "DU2345678"


def _rest(t: Trader, coid: str, account: str = OWN) -> str:
    """A BUY 1 AAPL LMT 1.0 resting order (confirming the price question); its order id."""
    resp = t.post(f"/iserver/account/{account}/orders",
                  json={"orders": [{"acctId": account, "conid": AAPL, "orderType": "LMT",
                                    "price": 180.0, "quantity": 1, "side": "BUY", "tif": "DAY",
                                    "cOID": coid}]})
    placed = t.confirm_all(resp.json())
    return str(placed[0]["order_id"])


def _live(t: Trader, **params: str) -> dict[str, Any]:
    """Live orders after the session's pre-flight answer."""
    t.get("/iserver/account/orders", params=params)
    body: dict[str, Any] = t.get("/iserver/account/orders", params=params).json()
    return body


def test_login_holds_a_linked_account_and_switches_the_selected_one(sim_shared: Simulator,
                                                                   trader: Trader) -> None:
    """Own + linked accounts, own selected; POST /iserver/account switches; another login's: 400."""
    sim_shared.set_price(AAPL, 190.0)
    body = trader.get("/iserver/accounts").json()
    assert body["accounts"] == [OWN, LINKED] and body["selectedAccount"] == OWN
    _rest(trader, "own-1")
    _rest(trader, "lnk-1", LINKED)
    assert [o["order_ref"] for o in _live(trader)["orders"]] == ["own-1"]
    switched = trader.post("/iserver/account", json={"acctId": LINKED})
    assert switched.json() == {"set": True, "acctId": LINKED}
    assert trader.get("/iserver/accounts").json()["selectedAccount"] == LINKED
    assert [o["order_ref"] for o in _live(trader)["orders"]] == ["lnk-1"]
    assert [o["order_ref"] for o in _live(trader, accountId=OWN)["orders"]] == ["own-1"]
    assert trader.post("/iserver/account", params={"acctId": OWN}).json()["acctId"] == OWN
    refused = trader.post("/iserver/account", json={"acctId": "DU7654321"})
    assert refused.status_code == 400
    assert trader.get("/iserver/account/orders",
                      params={"accountId": "DU7654321"}).status_code == 400


def test_single_account_logins_on_request(sim_shared: Simulator, trader: Trader) -> None:
    """linked_accounts=0: the login holds only its own account."""
    sim_shared.set_order_options(linked_accounts=0)
    assert trader.get("/iserver/accounts").json()["accounts"] == [OWN]
    assert trader.get(f"/portfolio/{LINKED}/positions/0").status_code == 500


def test_positions_are_cached_until_invalidated_and_portfolio2_is_fresh(
        sim_shared: Simulator, trader: Trader) -> None:
    """A fill is missing from /portfolio/positions until POST .../invalidate; portfolio2 has it."""
    def aapl(rows: list[dict[str, Any]]) -> float:
        return float(next(r["position"] for r in rows if str(r["conid"]) == str(AAPL)))

    assert aapl(trader.get(f"/portfolio/{OWN}/positions/0").json()) == 100.0
    assert trader.order(conid=AAPL, orderType="MKT", quantity=3)[0]["order_status"] == "Filled"
    assert aapl(trader.get(f"/portfolio/{OWN}/positions/0").json()) == 100.0
    assert aapl(trader.get(f"/portfolio2/{OWN}/positions").json()) == 103.0
    assert trader.post(f"/portfolio/{OWN}/positions/invalidate").json() == {"message": "success"}
    assert aapl(trader.get(f"/portfolio/{OWN}/positions/0").json()) == 103.0


def test_incomplete_live_orders_mode(sim_shared: Simulator, trader: Trader) -> None:
    """incomplete_live_orders: account-less answers empty, filtered answers one; accountId whole."""
    sim_shared.set_price(AAPL, 190.0)
    sim_shared.set_order_options(incomplete_live_orders=True)
    _rest(trader, "inc-1")
    _rest(trader, "inc-2")
    assert _live(trader) == {"orders": [], "snapshot": True}
    assert len(_live(trader, accountId=OWN, filters="submitted")["orders"]) == 1
    assert len(_live(trader, accountId=OWN)["orders"]) == 2


def test_pending_cancel_can_still_fill(sim_shared: Simulator, trader: Trader) -> None:
    """A cancel not yet confirmed (cancel_delay) leaves PendingCancel, and the order can fill."""
    sim_shared.engine.broker.cancel_delay = 600.0
    try:
        sim_shared.set_price(AAPL, 190.0)
        order_id = _rest(trader, "pc-1")
        assert trader.delete(f"/iserver/account/{OWN}/order/{order_id}").json()["order_id"]
        assert [o["status"] for o in sim_shared.orders()] == ["PendingCancel"]
        sim_shared.set_price(AAPL, 179.0)
        assert [o["status"] for o in sim_shared.orders()] == ["Filled"]
    finally:
        sim_shared.engine.broker.cancel_delay = 0.0


def test_history_answers_429_past_five_in_flight(sim_shared: Simulator, trader: Trader) -> None:
    """Eight concurrent history requests of one username: five answered, three 429."""
    sim_shared.set_order_options(history_delay_s=0.5)
    codes: list[int] = []
    lock = threading.Lock()

    def ask() -> None:
        resp = trader.http.get(f"{trader.base}/iserver/marketdata/history",
                               params={"conid": str(AAPL), "period": "1d", "bar": "1h"},
                               timeout=10)
        with lock:
            codes.append(resp.status_code)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200] * 5 + [429] * 3
    stats = sim_shared.stats()
    assert stats["history_rate_limited"] == 3 and stats["history_in_flight_max"] == 5


def test_unsubscribed_account_gets_delayed_quotes(sim_shared: Simulator, trader: Trader) -> None:
    """delayed_accounts: 6509 "DPB" and prices of 15 minutes ago (a subscriber gets "RpB")."""
    params = {"conids": str(AAPL), "fields": "31,6509"}
    trader.get("/iserver/marketdata/snapshot", params=params)  # pre-flight
    assert trader.get("/iserver/marketdata/snapshot", params=params).json()[0]["6509"] == "RpB"
    sim_shared.set_order_options(delayed_accounts=[OWN])
    quote = trader.get("/iserver/marketdata/snapshot", params=params).json()[0]
    assert quote["6509"] == "DPB"
    market = sim_shared.engine.market
    assert float(quote["31"]) == market.price(AAPL, market.clock() - 900)


def test_base_currency_need_not_be_usd(sim_shared: Simulator, trader: Trader) -> None:
    """base_currencies: summary amounts and ledger BASE in EUR; /portfolio/accounts says EUR."""
    sim_shared.set_order_options(base_currencies={OWN: "EUR"})
    summary = trader.get(f"/portfolio/{OWN}/summary").json()
    assert summary["totalcashvalue"]["currency"] == "EUR"
    assert summary["totalcashvalue"]["amount"] == round(1_000_000 / 1.08, 2)
    ledger = trader.get(f"/portfolio/{OWN}/ledger").json()
    assert ledger["BASE"]["cashbalance"] == round(1_000_000 / 1.08, 2)
    assert abs(ledger["USD"]["exchangerate"] - 1 / 1.08) < 1e-9
    accounts = trader.get("/portfolio/accounts").json()
    assert accounts[0]["currency"] == "EUR"
    assert trader.get(f"/iserver/account/{OWN}/summary").json()["cashBalances"][0]["currency"] \
        == "EUR"


def test_fractional_sizes_follow_the_contract(sim_shared: Simulator, trader: Trader) -> None:
    """1.5 shares of AAPL (US) are accepted; of BHP on ASX refused (HTTP 200 error)."""
    assert trader.order(conid=AAPL, orderType="MKT", quantity=1.5)[0]["order_status"] == "Filled"
    refused = trader.order(conid=BHP_ASX, orderType="MKT", quantity=1.5)
    assert "whole shares" in refused["error"]


def test_maintenance_and_reply_faults(sim_shared: Simulator, trader: Trader) -> None:
    """http_503_maintenance answers 503 unprocessed; reply_500 records the order then answers 500."""
    sim_shared.set_faults({"http_503_maintenance": 1.0})
    resp = trader.get("/iserver/accounts")
    assert resp.status_code == 503 and "maintenance" in resp.json()["error"]
    sim_shared.set_faults({"reply_500": 1.0})
    assert trader.get("/iserver/accounts").status_code == 200
    question = trader.order(conid=AAPL, orderType="LMT", price=1.0, quantity=1, cOID="r500")
    answer = trader.post(f"/iserver/reply/{question[0]['id']}", json={"confirmed": True})
    assert answer.status_code == 500
    assert [o["cOID"] for o in sim_shared.orders()] == ["r500"]
    assert sim_shared.stats()["faults_injected"] == {"http_503_maintenance": 1, "reply_500": 1}


def test_endpoints_a_ported_ibind_bot_calls(sim_shared: Simulator, trader: Trader) -> None:
    """/iserver/account/{id}/summary and /trsrv/stocks answer in IBKR's shapes (were 404)."""
    summary = trader.get(f"/iserver/account/{OWN}/summary").json()
    assert summary["netLiquidationValue"] > 0 and summary["cashBalances"]
    stocks = trader.get("/trsrv/stocks", params={"symbols": "AAPL,BHP,NOPE"}).json()
    assert stocks["AAPL"][0]["contracts"] == [{"conid": AAPL, "exchange": "NASDAQ",
                                               "isUS": True}]
    assert {e["name"] for e in stocks["BHP"]} == {"BHP GROUP LTD-SPON ADR", "BHP GROUP LTD"}
    assert stocks["NOPE"] == []
    assert requests.get(f"{sim_shared.url}/v1/api/trsrv/stocks", timeout=5).status_code == 401
