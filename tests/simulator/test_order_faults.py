"""Order fault kinds: accept-then-garbage, live-orders lag, session change, Inactive, cOID relax."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.simulator.faults import FaultPlan

from .clients import Trader
from .conftest import Clocked

AAPL = 265598
ACCT = "DU1234567"


def _post_order(t: Trader, **ticket: Any) -> requests.Response:
    """Place one order and return the raw response (garbage answers do not decode)."""
    ticket = {"acctId": ACCT, "conid": AAPL, "side": "BUY", "tif": "DAY", **ticket}
    return t.post(f"/iserver/account/{ACCT}/orders", json={"orders": [ticket]})


def _live(t: Trader) -> list[dict[str, Any]]:
    """Live orders after the session's pre-flight answer."""
    for _ in range(3):
        body = t.get("/iserver/account/orders").json()
        if body["snapshot"]:
            return list(body["orders"])
    raise AssertionError("live orders never left the pre-flight")


@pytest.mark.parametrize(("kind", "status", "content_type", "body"), [
    ("garbage_html", 200, "text/html", b"<!DOCTYPE html>"),
    ("garbage_empty", 200, "application/json", b""),
    ("garbage_shape", 200, "application/json", b'{"foo":1}'),
    ("garbage_408", 408, "application/json", b'{"error":"Request Timeout"'),
    ("garbage_501", 501, "application/json", b'{"error":"Not Implemented"'),
    ("garbage_524", 524, "text/html", b"<!DOCTYPE html>"),
])
def test_accept_then_garbage_records_the_order(sim_shared: Simulator, t: Trader, kind: str, status: int,
                                               content_type: str, body: bytes) -> None:
    """Each garbage kind replaces the answer of an order POST that the broker did record."""
    sim_shared.set_faults({kind: 1.0})
    resp = _post_order(t, orderType="MKT", quantity=2, cOID=f"g-{kind}")
    assert resp.status_code == status
    assert resp.headers["Content-Type"].startswith(content_type)
    assert resp.content.startswith(body) and (body or resp.content == b"")
    orders = sim_shared.orders()
    assert [(o["cOID"], o["status"]) for o in orders] == [(f"g-{kind}", "Filled")]
    assert sim_shared.stats()["faults_injected"] == {kind: 1}


def test_garbage_spares_other_requests_by_default(sim_shared: Simulator, t: Trader) -> None:
    """Garbage targets order POSTs (placement and reply) only, unless garbage_paths say more."""
    sim_shared.set_faults({"garbage_html": 1.0})
    assert t.get("/iserver/accounts").json()["accounts"] == [ACCT, "DU2345678"]
    assert t.post("/iserver/auth/status").json()["authenticated"] is True
    assert t.get("/iserver/account/trades").json() == []
    sim_shared.set_faults({"garbage_shape": 1.0, "garbage_paths": ["/v1/api/portfolio/"],
                    "garbage_methods": ["GET"], "wrong_shape_body": "maintenance"})
    resp = t.get(f"/portfolio/{ACCT}/positions/0")
    assert resp.status_code == 200 and resp.json() == "maintenance"
    assert _post_order(t, orderType="MKT", quantity=1).json()[0]["order_status"] == "Filled"


def test_garbage_on_the_reply_that_places(sim_shared: Simulator, t: Trader) -> None:
    """A question is answered normally; the confirming reply gets the garbage, the order exists."""
    q = t.order(conid=AAPL, orderType="LMT", price=90.0, quantity=1, cOID="far")
    assert q[0]["messageIds"] == ["o163"]
    sim_shared.set_faults({"garbage_empty": 1.0})
    resp = t.post(f"/iserver/reply/{q[0]['id']}", json={"confirmed": True})
    assert resp.status_code == 200 and resp.content == b""
    assert [o["cOID"] for o in sim_shared.orders()] == ["far"]


def test_live_orders_lag_hides_new_orders_then_shows_them(clocked: Clocked) -> None:
    """With live_orders_lag_s the list is real but lacks orders accepted within the lag."""
    t = clocked.trader
    clocked.sim.set_price(AAPL, 100.0)
    t.order(conid=AAPL, orderType="LMT", price=99.0, quantity=1, cOID="old")
    clocked.advance(30)
    clocked.sim.set_faults({"live_orders_lag_s": 10})
    t.order(conid=AAPL, orderType="LMT", price=99.0, quantity=2, cOID="new")
    assert [o["order_ref"] for o in _live(t)] == ["old"]
    assert {o["cOID"] for o in clocked.sim.orders()} == {"old", "new"}
    clocked.advance(9)
    assert [o["order_ref"] for o in _live(t)] == ["old"]
    clocked.advance(2)
    assert sorted(o["order_ref"] for o in _live(t)) == ["new", "old"]


def test_session_change_after_placement(sim_shared: Simulator, t: Trader) -> None:
    """session_change closes the bridge after an accept; the filled order is then only a trade."""
    sim_shared.set_faults({"session_change": 1.0})
    placed = t.order(conid=AAPL, orderType="MKT", quantity=3, cOID="moved")
    assert placed[0]["order_status"] == "Filled"
    sim_shared.set_faults({})
    gone = t.get("/iserver/account/orders")
    assert gone.status_code == 400 and gone.json()["error"] == "Bad Request: no bridge"
    t.init()
    assert _live(t) == []
    trades = t.get("/iserver/account/trades").json()
    assert [(x["order_ref"], x["size"], x["order_id"]) for x in trades] == \
        [("moved", 3.0, int(placed[0]["order_id"]))]
    assert sim_shared.stats()["faults_injected"] == {"session_change": 1}


def test_session_change_needs_an_accept(sim_shared: Simulator, t: Trader) -> None:
    """A question or a rejection does not change the session; only an accepted order does."""
    sim_shared.set_faults({"session_change": 1.0})
    assert t.get("/iserver/account/trades").json() == []
    assert "error" in t.order(conid=AAPL, orderType="WHAT", quantity=1)
    assert t.get("/iserver/accounts").status_code == 200
    assert "session_change" not in sim_shared.stats()["faults_injected"]


def test_inactive_at_placement(sim_shared: Simulator, t: Trader) -> None:
    """inactive: the order is recorded but answered Inactive with the plan's reason."""
    sim_shared.set_faults({"inactive": 1.0, "inactive_reason": "Insufficient margin"})
    placed = t.order(conid=AAPL, orderType="MKT", quantity=1, cOID="dead")
    assert placed[0]["order_status"] == "Inactive"
    assert placed[0]["text"] == "Insufficient margin" and placed[0]["order_id"].isdigit()
    sim_shared.set_faults({})
    [order] = sim_shared.orders()
    assert order["status"] == "Inactive" and order["filled"] == 0 and order["cOID"] == "dead"
    cancel = t.delete(f"/iserver/account/{ACCT}/order/{placed[0]['order_id']}").json()
    assert cancel == {"error": f"OrderID {placed[0]['order_id']} cannot be cancelled, "
                               "status: Inactive"}
    status = t.get(f"/iserver/account/order/status/{placed[0]['order_id']}").json()
    assert status["order_status"] == "Inactive"
    assert status["order_status_description"] == "Order Inactive: Insufficient margin"


def test_inactive_after_acceptance(sim_shared: Simulator, t: Trader) -> None:
    """inactive_later: answered Submitted, Inactive from the next request on."""
    sim_shared.set_faults({"inactive_later": 1.0})
    placed = t.order(conid=AAPL, orderType="LMT", price=99.0, quantity=1, cOID="fade")
    assert placed[0]["order_status"] == "Submitted"
    sim_shared.set_faults({})
    assert [o["status"] for o in _live(t)] == ["Inactive"]
    assert sim_shared.stats()["faults_injected"] == {"inactive_later": 1}


def test_fault_plan_refuses_bad_order_keys() -> None:
    """Typos and negative lags are refused; describe() shows the order keys that are set."""
    with pytest.raises(ValueError, match="unknown fault keys"):
        FaultPlan.parse({"garbage_htm": 1.0})
    with pytest.raises(ValueError, match="live_orders_lag_s"):
        FaultPlan.parse({"live_orders_lag_s": -1})
    described = FaultPlan.parse({"garbage_shape": 0.5, "live_orders_lag_s": 2}).describe()
    assert described["garbage_shape"] == 0.5 and described["live_orders_lag_s"] == 2.0
    assert described["wrong_shape_body"] == {"foo": 1}
    assert described["garbage_paths"] == ["/v1/api/iserver/account/", "/v1/api/iserver/reply/"]


def test_relaxed_coid_check_lets_a_blind_resend_double_the_trade(sim_shared: Simulator,
                                                                 t: Trader) -> None:
    """enforce_coid_unique=False accepts a resent cOID; the logical counts show the double."""
    sim_shared.set_order_options(enforce_coid_unique=False)
    t.order(conid=AAPL, orderType="LMT", price=99.0, quantity=7, cOID="same")
    again = t.order(conid=AAPL, orderType="LMT", price=99.0, quantity=7, cOID="same")
    assert again[0]["order_status"] == "Submitted"
    t.order(conid=AAPL, orderType="LMT", price=99.0, quantity=8, cOID="other")
    stats = sim_shared.stats()
    assert stats["logical_requests"] == 2 and stats["logical_duplicates"] == 1
    assert stats["orders_rejected_duplicate_coid"] == 0
    logical = requests.get(f"{sim_shared.url}/__sim/logical", timeout=5).json()
    key = f"{ACCT}|{AAPL}|BUY|7|LMT|99.0|None|DAY"
    assert logical["orders_per_logical_request"][key]["orders"] == 2
    assert logical["orders_per_logical_request"][key]["cOIDs"] == ["same", "same"]


def test_logical_counts_ignore_the_coid(sim_shared: Simulator, t: Trader) -> None:
    """A resend with a fresh cOID is still the same logical request (the client cannot hide it)."""
    t.order(conid=AAPL, orderType="MKT", quantity=4, cOID="first")
    t.order(conid=AAPL, orderType="MKT", quantity=4, cOID="fresh-id")
    assert sim_shared.stats()["logical_duplicates"] == 1
    assert {o["logical_key"] for o in sim_shared.orders()} == {f"{ACCT}|{AAPL}|BUY|4|MKT|None|None|DAY"}


def test_options_admin_endpoint(sim_shared: Simulator) -> None:
    """GET/POST /__sim/options read and change order options; bad names and values are 400."""
    url = f"{sim_shared.url}/__sim/options"
    assert requests.get(url, timeout=5).json()["enforce_coid_unique"] is True
    changed = requests.post(url, json={"enforce_coid_unique": False}, timeout=5).json()
    assert changed["enforce_coid_unique"] is False
    assert requests.post(url, json={"coid_check": False}, timeout=5).status_code == 400
    assert requests.post(url, json={"live_orders_scope": "week"}, timeout=5).status_code == 400
    assert requests.post(url, json={"order_warnings": ["o163"]}, timeout=5).status_code == 400
