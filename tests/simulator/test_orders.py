"""Order placement, questions, replies, live orders, cancels and their effect on the book."""

from __future__ import annotations

from typing import Any

import pytest

from noetl_ib_plugin.simulator import Simulator

from .clients import Trader

AAPL = 265598


def _admin(sim_shared: Simulator, order_id: str) -> dict[str, Any]:
    """The admin view of one order."""
    return next(o for o in sim_shared.orders() if o["order_id"] == int(order_id))


def test_market_order_fills_and_moves_book(sim_shared: Simulator, t: Trader) -> None:
    """MKT fills at the simulated price; position, avg cost and cash follow."""
    placed = t.order(conid=AAPL, orderType="MKT", quantity=10, cOID="m1")
    assert placed[0]["order_status"] == "Filled" and placed[0]["order_id"].isdigit()
    assert placed[0]["encrypt_message"] == "1"
    pos = t.get("/portfolio/DU1234567/positions/0").json()[0]
    assert pos["position"] == 110.0
    assert pos["avgCost"] == pytest.approx((100 * 150.0 + 10 * 100.0) / 110, rel=1e-4)
    summary = t.get("/portfolio/DU1234567/summary").json()
    assert summary["totalcashvalue"]["amount"] == 1_000_000.0 - 1000.0
    sell = t.order(conid=AAPL, orderType="MKT", side="SELL", quantity=110)
    assert sell[0]["order_status"] == "Filled"
    t.post("/portfolio/DU1234567/positions/invalidate")  # IBKR caches positions until then
    pos = t.get("/portfolio/DU1234567/positions/0").json()[0]
    assert pos["position"] == 0.0 and pos["realizedPnl"] < 0
    assert sim_shared.stats()["orders_accepted"] == 2


def test_limit_rests_then_triggers_on_price(sim_shared: Simulator, t: Trader) -> None:
    """A BUY LMT below market rests as Submitted and fills when the price drops to it."""
    placed = t.order(conid=AAPL, orderType="LMT", price=99.0, quantity=5)
    assert placed[0]["order_status"] == "Submitted"
    sim_shared.set_price(AAPL, 98.5)
    order = _admin(sim_shared, placed[0]["order_id"])
    assert order["status"] == "Filled" and order["fills"][0]["price"] == 98.5


def test_stop_and_stop_limit(sim_shared: Simulator, t: Trader) -> None:
    """STP and STOP_LIMIT ("STP LMT" accepted) wait as PreSubmitted and trigger on price."""
    stp = t.order(conid=AAPL, orderType="STP", side="SELL", price=97.0, quantity=5)
    assert stp[0]["order_status"] == "PreSubmitted"
    stl = t.order(conid=AAPL, orderType="STP LMT", price=102.5, auxPrice=102.0, quantity=5)
    assert stl[0]["order_status"] == "PreSubmitted"
    sim_shared.set_price(AAPL, 102.2)
    assert _admin(sim_shared, stl[0]["order_id"])["status"] == "Filled"
    assert _admin(sim_shared, stp[0]["order_id"])["status"] == "PreSubmitted"
    sim_shared.set_price(AAPL, 96.0)
    assert _admin(sim_shared, stp[0]["order_id"])["status"] == "Filled"


def test_far_limit_question_then_confirm(sim_shared: Simulator, t: Trader) -> None:
    """A limit more than 3% away asks o163; confirming places the order."""
    q = t.order(conid=AAPL, orderType="LMT", price=90.0, quantity=1)
    assert q[0]["messageIds"] == ["o163"] and q[0]["isSuppressed"] is False
    assert isinstance(q[0]["message"], list)
    placed = t.post(f"/iserver/reply/{q[0]['id']}", json={"confirmed": True}).json()
    assert placed[0]["order_status"] == "Submitted"


def test_question_chain(t: Trader) -> None:
    """Far limit plus big size asks o163 then o383 before placing."""
    q1 = t.order(conid=AAPL, orderType="LMT", price=90.0, quantity=6000)
    assert q1[0]["messageIds"] == ["o163"]
    q2 = t.post(f"/iserver/reply/{q1[0]['id']}", json={"confirmed": True}).json()
    assert q2[0]["messageIds"] == ["o383"] and q2[0]["id"] != q1[0]["id"]
    placed = t.post(f"/iserver/reply/{q2[0]['id']}", json={"confirmed": True}).json()
    assert placed[0]["order_status"] == "Submitted"


def test_other_questions(t: Trader) -> None:
    """o354 for a contract without market data, o403 for a stop that triggers at once."""
    q = t.order(conid=13109, orderType="MKT", quantity=10)
    assert q[0]["messageIds"] == ["o354"]
    q = t.order(conid=AAPL, orderType="STP", price=99.0, quantity=1)
    assert q[0]["messageIds"] == ["o403"]


def test_confirmed_false_and_stale_reply(sim_shared: Simulator, t: Trader) -> None:
    """confirmed:false drops the order; a used or unknown reply id is a 400."""
    q = t.order(conid=AAPL, orderType="LMT", price=90.0, quantity=1)
    dropped = t.post(f"/iserver/reply/{q[0]['id']}", json={"confirmed": False})
    assert dropped.status_code == 200 and "error" in dropped.json()
    again = t.post(f"/iserver/reply/{q[0]['id']}", json={"confirmed": True})
    assert again.status_code == 400
    assert again.json() == {"error": f"reply id not found: '{q[0]['id']}'"}
    assert t.post("/iserver/reply/nope", json={"confirmed": True}).status_code == 400
    assert sim_shared.orders() == []


def test_duplicate_coid_rejected_and_counted(sim_shared: Simulator, t: Trader) -> None:
    """Reusing a cOID is a 200 error mentioning Local order ID and is counted."""
    t.order(conid=AAPL, orderType="LMT", price=99.5, quantity=1, cOID="dup-1")
    again = t.order(conid=AAPL, orderType="LMT", price=99.5, quantity=1, cOID="dup-1")
    assert "Local order ID=dup-1 is already registered" in again["error"]
    assert sim_shared.stats()["orders_rejected_duplicate_coid"] == 1
    assert len(sim_shared.orders()) == 1


def test_bare_list_body_accepted(t: Trader) -> None:
    """The newer bare-list body works like {"orders": [...]}."""
    ticket = {"acctId": "DU1234567", "conid": AAPL, "orderType": "MKT", "side": "BUY",
              "quantity": 1, "tif": "DAY"}
    resp = t.post("/iserver/account/DU1234567/orders", json=[ticket]).json()
    assert resp[0]["order_status"] == "Filled"


@pytest.mark.parametrize("ticket", [
    {"orderType": "MKT", "quantity": -1},
    {"orderType": "LMT", "quantity": 1},
    {"orderType": "STOP_LIMIT", "quantity": 1, "price": 100},
    {"orderType": "WHAT", "quantity": 1},
    {"orderType": "MKT", "quantity": 1, "side": "HOLD"},
    {"orderType": "MKT", "quantity": 1, "conid": 1},
])
def test_validation_rejections(t: Trader, ticket: dict[str, Any]) -> None:
    """Invalid tickets are HTTP 200 {"error": ...} rejections."""
    ticket.setdefault("conid", AAPL)
    assert "error" in t.order(**ticket)


def test_live_orders_preflight_force_filters(t: Trader) -> None:
    """First call is an empty pre-flight; force=true answers empty once; filters apply."""
    t.order(conid=AAPL, orderType="LMT", price=99.0, quantity=2, cOID="live-1")
    t.order(conid=AAPL, orderType="MKT", quantity=1)
    assert t.get("/iserver/account/orders").json() == {"orders": [], "snapshot": False}
    full = t.get("/iserver/account/orders").json()
    assert full["snapshot"] is True and len(full["orders"]) == 2
    lmt = next(o for o in full["orders"] if o["order_ref"] == "live-1")
    assert lmt["status"] == "Submitted" and lmt["price"] == "99.00"
    assert lmt["orderType"] == "Limit" and lmt["origOrderType"] == "LIMIT"
    assert isinstance(lmt["orderId"], int) and lmt["remainingQuantity"] == 2.0
    assert t.get("/iserver/account/orders", params={"force": "true"}).json()["orders"] == []
    assert len(t.get("/iserver/account/orders", params={"force": "true"}).json()["orders"]) == 2
    filled = t.get("/iserver/account/orders", params={"filters": "filled"}).json()["orders"]
    assert [o["status"] for o in filled] == ["Filled"]


def test_cancel(sim_shared: Simulator, t: Trader) -> None:
    """DELETE acknowledges, the order ends Cancelled; unknown ids get an error."""
    placed = t.order(conid=AAPL, orderType="LMT", price=99.0, quantity=2)
    oid = placed[0]["order_id"]
    resp = t.delete(f"/iserver/account/DU1234567/order/{oid}").json()
    assert resp == {"msg": "Request was submitted", "order_id": int(oid), "conid": AAPL,
                    "account": "DU1234567"}
    assert _admin(sim_shared, oid)["status"] == "Cancelled"
    assert sim_shared.stats()["orders_cancelled"] == 1
    unknown = t.delete("/iserver/account/DU1234567/order/1")
    assert unknown.status_code == 200 and unknown.json() == {"error": "OrderID 1 doesn't exist"}


def test_ioc_unfilled_is_cancelled(sim_shared: Simulator, t: Trader) -> None:
    """An IOC limit that cannot trade at once is cancelled."""
    placed = t.order(conid=AAPL, orderType="LMT", price=99.0, quantity=1, tif="IOC")
    assert placed[0]["order_status"] == "Cancelled"


def test_oauth1a_orders_use_own_account(sim_shared: Simulator, trader1a: Trader) -> None:
    """OAuth 1.0a principals trade their own account; another id is IBKR's 400, not a 500."""
    sim_shared.set_price(AAPL, 100.0)
    assert trader1a.order(conid=AAPL, orderType="MKT", quantity=1)[0]["order_status"] == "Filled"
    resp = trader1a.post("/iserver/account/DU1234567/orders", json={"orders": []})
    assert resp.status_code == 400
    assert resp.json() == {"error": "accountId is not valid", "statusCode": 400}
