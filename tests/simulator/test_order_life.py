"""Orders as in real life: session-scoped live orders, PendingSubmit, partial fills, order status,
IBKR's question wording, suppression and IBKR's answer to a bad account."""

from __future__ import annotations

from typing import Any

import pytest

from noetl_ib_plugin.simulator import Simulator

from .clients import Trader
from .conftest import Clocked

AAPL = 265598
ACCT = "DU1234567"


def _live(t: Trader) -> list[dict[str, Any]]:
    """Live orders after the session's pre-flight answer."""
    for _ in range(3):
        body = t.get("/iserver/account/orders").json()
        if body["snapshot"]:
            return list(body["orders"])
    raise AssertionError("live orders never left the pre-flight")


def _refs(t: Trader) -> list[str]:
    """The cOIDs (order_ref) of the live orders, sorted."""
    return sorted(o["order_ref"] for o in _live(t))


def test_live_orders_are_session_scoped(t: Trader) -> None:
    """A new brokerage session lists working orders but not those filled in an earlier one."""
    t.order(conid=AAPL, orderType="MKT", quantity=1, cOID="filled-before")
    t.order(conid=AAPL, orderType="LMT", price=99.0, quantity=1, cOID="working")
    assert _refs(t) == ["filled-before", "working"]
    t.init()
    assert _refs(t) == ["working"]
    t.order(conid=AAPL, orderType="MKT", quantity=1, cOID="filled-now")
    assert _refs(t) == ["filled-now", "working"]
    assert sorted(x["order_ref"] for x in t.get("/iserver/account/trades").json()) == \
        ["filled-before", "filled-now"]


def test_cancel_in_this_session_stays_listed(t: Trader) -> None:
    """An order cancelled in this session is listed; after a new session it is not."""
    placed = t.order(conid=AAPL, orderType="LMT", price=99.0, quantity=1, cOID="c1")
    t.init()
    t.delete(f"/iserver/account/{ACCT}/order/{placed[0]['order_id']}")
    assert [(o["order_ref"], o["status"]) for o in _live(t)] == [("c1", "Cancelled")]
    t.init()
    assert _live(t) == []


def test_day_scope_relaxes_session_scope(sim_shared: Simulator, t: Trader) -> None:
    """live_orders_scope="day" lists every order of the day, whatever the session."""
    sim_shared.set_order_options(live_orders_scope="day")
    t.order(conid=AAPL, orderType="MKT", quantity=1, cOID="filled-before")
    t.init()
    assert _refs(t) == ["filled-before"]


def test_pending_submit_before_submitted(clocked: Clocked) -> None:
    """With pending_submit_s an order answers PendingSubmit and neither works nor fills until then."""
    sim_shared, t = clocked.sim, clocked.trader
    sim_shared.set_price(AAPL, 100.0)
    sim_shared.set_order_options(pending_submit_s=2.0)
    mkt = t.order(conid=AAPL, orderType="MKT", quantity=2, cOID="mkt")
    lmt = t.order(conid=AAPL, orderType="LMT", price=99.0, quantity=1, cOID="lmt")
    assert [mkt[0]["order_status"], lmt[0]["order_status"]] == ["PendingSubmit", "PendingSubmit"]
    assert {o["status"] for o in _live(t)} == {"PendingSubmit"}
    assert t.get("/iserver/account/trades").json() == []
    clocked.advance(2.5)
    status = {o["order_ref"]: o["status"] for o in _live(t)}
    assert status == {"mkt": "Filled", "lmt": "Submitted"}


def test_pending_submit_ioc_is_cancelled_only_once_submitted(clocked: Clocked) -> None:
    """An unmarketable IOC waits in PendingSubmit, then is cancelled when it reaches the market."""
    sim_shared, t = clocked.sim, clocked.trader
    sim_shared.set_price(AAPL, 100.0)
    sim_shared.set_order_options(pending_submit_s=1.0)
    placed = t.order(conid=AAPL, orderType="LMT", price=99.0, quantity=1, tif="IOC")
    assert placed[0]["order_status"] == "PendingSubmit"
    clocked.advance(1.5)
    assert [o["status"] for o in sim_shared.orders()] == ["Cancelled"]


def test_partial_fills(sim_shared: Simulator, t: Trader) -> None:
    """partial_fill_lot fills one lot per evaluation; each lot is its own execution."""
    sim_shared.set_order_options(partial_fill_lot=2)
    placed = t.order(conid=AAPL, orderType="MKT", quantity=5, cOID="lots")
    assert placed[0]["order_status"] == "Submitted"
    oid = placed[0]["order_id"]
    first = t.get(f"/iserver/account/order/status/{oid}").json()
    assert first["order_status"] == "Submitted" and first["cum_fill"] == "4.0"
    assert first["size"] == "1.0" and first["size_and_fills"] == "4/5"
    [order] = sim_shared.orders()
    assert order["status"] == "Filled" and [f["quantity"] for f in order["fills"]] == [2, 2, 1]
    trades = t.get("/iserver/account/trades").json()
    assert [x["size"] for x in trades] == [2.0, 2.0, 1.0]
    assert len({x["execution_id"] for x in trades}) == 3
    assert sim_shared.stats()["orders_partially_filled"] == 2 and sim_shared.stats()["orders_filled"] == 1


def test_order_status_shape(t: Trader) -> None:
    """GET /iserver/account/order/status/{id} answers IBKR's fields for a resting limit."""
    placed = t.order(conid=AAPL, orderType="LMT", price=99.0, quantity=3, cOID="st-1")
    oid = placed[0]["order_id"]
    body = t.get(f"/iserver/account/order/status/{oid}").json()
    expected = {
        "order_id": int(oid), "conid": AAPL, "conidex": str(AAPL), "symbol": "AAPL",
        "side": "B", "order_type": "LIMIT", "order_status": "Submitted",
        "total_size": "3.0", "cum_fill": "0.0", "size": "3.0", "limit_price": "99.00",
        "tif": "DAY", "account": ACCT, "currency": "USD", "sec_type": "STK",
        "order_not_editable": False, "cannot_cancel_order": False,
        "order_description": "Buy 3 Limit, Day", "order_ref": "st-1",
        "order_status_description": "Order Submitted",
    }
    assert {k: body[k] for k in expected} == expected
    assert "average_price" not in body


def test_order_status_after_fill_and_for_stops(t: Trader) -> None:
    """A filled order shows average_price; a stop shows stop_price; SELL reads 'S'/'Sold'."""
    filled = t.order(conid=AAPL, orderType="MKT", side="SELL", quantity=2)
    body = t.get(f"/iserver/account/order/status/{filled[0]['order_id']}").json()
    assert body["order_status"] == "Filled" and body["average_price"] == "100.00"
    assert body["side"] == "S" and body["order_description"] == "Sold 2 Market, Day"
    assert body["cannot_cancel_order"] is True
    stop = t.order(conid=AAPL, orderType="STP", side="SELL", price=95.0, quantity=1)
    body = t.get(f"/iserver/account/order/status/{stop[0]['order_id']}").json()
    assert body["stop_price"] == "95.00" and "limit_price" not in body
    assert body["order_status"] == "PreSubmitted"


def test_order_status_unknown_or_foreign(sim_shared: Simulator, t: Trader, trader1a: Trader) -> None:
    """An unknown id, or another account's order, is a 400 naming the id."""
    placed = t.order(conid=AAPL, orderType="LMT", price=99.0, quantity=1)
    oid = placed[0]["order_id"]
    foreign = trader1a.get(f"/iserver/account/order/status/{oid}")
    assert foreign.status_code == 400
    assert foreign.json() == {"error": f"OrderID {oid} doesn't exist", "statusCode": 400}
    assert t.get("/iserver/account/order/status/1").status_code == 400
    assert t.get("/iserver/account/order/status/abc").status_code == 400


def test_bad_account_on_order_endpoints(t: Trader) -> None:
    """Placing or cancelling on another account is IBKR's 400 "accountId is not valid"."""
    bad = {"error": "accountId is not valid", "statusCode": 400}
    placed = t.post("/iserver/account/DU0000000/orders",
                    json={"orders": [{"conid": AAPL, "orderType": "MKT", "side": "BUY",
                                      "quantity": 1}]})
    assert (placed.status_code, placed.json()) == (400, bad)
    cancel = t.delete("/iserver/account/DU7654321/order/1370093239")
    assert (cancel.status_code, cancel.json()) == (400, bad)


def test_trades_shape(t: Trader) -> None:
    """Executions carry IBKR's fields, order_ref included, and respect days=."""
    t.order(conid=AAPL, orderType="MKT", quantity=2, cOID="tr-1")
    [trade] = t.get("/iserver/account/trades", params={"days": "3"}).json()
    expected = {"symbol": "AAPL", "side": "B", "size": 2.0, "price": "100.00",
                "order_ref": "tr-1", "conid": AAPL, "conidEx": str(AAPL), "account": ACCT,
                "sec_type": "STK", "commission": "0.00", "net_amount": -200.0,
                "order_description": "Bot 2 @ 100.00 on NASDAQ"}
    assert {k: trade[k] for k in expected} == expected
    assert isinstance(trade["trade_time_r"], int) and len(trade["trade_time"]) == 17


# -- questions --------------------------------------------------------------------------------


@pytest.mark.parametrize(("ticket", "mid", "phrase"), [
    ({"conid": AAPL, "orderType": "LMT", "price": 90.0, "quantity": 1}, "o163",
     "price exceeds \nthe Percentage constraint of 3%"),
    ({"conid": 13109, "orderType": "MKT", "quantity": 1}, "o354",
     "You are submitting an order without market data. We strongly recommend against this as "
     "it may result in erroneous and unexpected trades."),
    ({"conid": AAPL, "orderType": "STP", "price": 99.0, "quantity": 1}, "o403",
     "This order will most likely trigger and fill immediately."),
    ({"conid": AAPL, "orderType": "LMT", "price": 99.0, "quantity": 5001}, "o383",
     "size exceeds the Size Limit of 5000"),
])
def test_question_wording(t: Trader, ticket: dict[str, Any], mid: str, phrase: str) -> None:
    """Each question carries IBKR's phrase, which text-matching clients look for."""
    q = t.order(**ticket)
    assert q[0]["messageIds"] == [mid]
    assert phrase in q[0]["message"][0]
    assert q[0]["message"][0].endswith("Are you sure you want to submit this order?")


def test_o163_quotes_the_order(t: Trader) -> None:
    """o163 quotes the order as IBKR does: side, size, symbol, venue and price."""
    q = t.order(conid=AAPL, orderType="LMT", price=90.0, quantity=1)
    assert q[0]["message"][0].startswith('The following order "BUY 1 AAPL NASDAQ.NMS @ 90.0" ')


def test_total_value_limit(sim_shared: Simulator, t: Trader) -> None:
    """o451 when the order's value passes 1,000,000 USD, quoting the estimate; not below it."""
    sim_shared.set_price(AAPL, 300.0)
    q = t.order(conid=AAPL, orderType="LMT", price=299.0, quantity=4000)
    assert q[0]["messageIds"] == ["o451"]
    assert q[0]["message"][0] == (
        'The following order "BUY 4000 AAPL NASDAQ.NMS @ 299.0" value estimate of '
        "1,196,000.00 USD exceeds \nthe Total Value Limit of 1,000,000 USD.\n"
        "Are you sure you want to submit this order?")
    below = t.order(conid=AAPL, orderType="LMT", price=299.0, quantity=3344)
    assert below[0]["order_status"] == "Submitted"


@pytest.mark.parametrize(("ticket", "ids", "phrases"), [
    ({"orderType": "MKT", "quantity": 1}, ["o10151", "o10153"],
     ["risks with Market Orders", "To avoid trading at a price that is not consistent with a "
      "fair and orderly market"]),
    ({"orderType": "STP", "side": "SELL", "price": 95.0, "quantity": 1}, ["o10152", "o10331"],
     ["risks associated with stop orders once they become active",
      "You are about to submit a stop order. Please be aware of the various stop order types "
      "available and the risks associated with each one."]),
    ({"orderType": "LMT", "price": 99.0, "quantity": 1}, ["p12"],
     ["If your order is not immediately executable, our systems may, depending on market "
      "conditions, reject your order"]),
])
def test_optional_warnings(sim_shared: Simulator, t: Trader, ticket: dict[str, Any], ids: list[str],
                           phrases: list[str]) -> None:
    """Enabled generic warnings are asked in a chain, each with IBKR's phrase."""
    sim_shared.set_order_options(order_warnings=["o10151", "o10152", "o10153", "o10331", "p12"])
    answer = t.order(conid=AAPL, **ticket)
    seen = []
    for phrase in phrases:
        assert phrase in answer[0]["message"][0]
        seen += answer[0]["messageIds"]
        answer = t.post(f"/iserver/reply/{answer[0]['id']}", json={"confirmed": True}).json()
    assert seen == ids and "order_id" in answer[0]


def test_marketable_limit_gets_no_p12(sim_shared: Simulator, t: Trader) -> None:
    """p12 is only for limits that are not immediately executable."""
    sim_shared.set_order_options(order_warnings=["p12"])
    assert t.order(conid=AAPL, orderType="LMT", price=100.5, quantity=1)[0]["order_status"] == \
        "Filled"


def test_one_question_carrying_several_messages(sim_shared: Simulator, t: Trader) -> None:
    """combine_questions puts every message in one question; one reply places the order."""
    sim_shared.set_order_options(combine_questions=True)
    q = t.order(conid=AAPL, orderType="LMT", price=90.0, quantity=6000)
    assert q[0]["messageIds"] == ["o163", "o383"] and len(q[0]["message"]) == 2
    placed = t.post(f"/iserver/reply/{q[0]['id']}", json={"confirmed": True}).json()
    assert placed[0]["order_status"] == "Submitted"
    assert sim_shared.stats()["questions_asked"] == 1


def test_suppress_and_reset(sim_shared: Simulator, t: Trader) -> None:
    """Suppressed ids are not asked in this session; reset asks them again."""
    ok = t.post("/iserver/questions/suppress", json={"messageIds": ["o163"]})
    assert (ok.status_code, ok.json()) == (200, {"status": "submitted"})
    placed = t.order(conid=AAPL, orderType="LMT", price=90.0, quantity=1)
    assert placed[0]["order_status"] == "Submitted"
    q = t.order(conid=AAPL, orderType="LMT", price=90.0, quantity=6000)
    assert q[0]["messageIds"] == ["o383"]
    assert t.post("/iserver/questions/suppress/reset").json() == {"status": "submitted"}
    assert t.order(conid=AAPL, orderType="LMT", price=90.0, quantity=1)[0]["messageIds"] == \
        ["o163"]


@pytest.mark.parametrize("body", [{}, {"messageIds": []}, {"messageIds": "o163"},
                                  {"messageIds": ["o999999"]}])
def test_suppress_refuses_bad_bodies(t: Trader, body: dict[str, Any]) -> None:
    """A missing, empty, non-list or unknown id list is a 400."""
    resp = t.post("/iserver/questions/suppress", json=body)
    assert resp.status_code == 400 and "error" in resp.json()
