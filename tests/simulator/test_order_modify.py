"""The simulator's modify endpoint, trailing stops and cash-quantity orders, seen over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from noetl_ib_plugin.simulator import Simulator

from .clients import Trader
from .test_ws import _greeted, _open, _session, _until

AAPL = 265598


def _admin(sim: Simulator, order_id: str) -> dict[str, Any]:
    """The admin view of one order."""
    return next(o for o in sim.orders() if o["order_id"] == int(order_id))


def _modify(t: Trader, order_id: str, **ticket: Any) -> Any:
    """POST a modification (the ticket's present values come from the caller)."""
    ticket.setdefault("acctId", t.account)
    resp = t.post(f"/iserver/account/{t.account}/order/{order_id}", json=ticket)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _resting(t: Trader) -> str:
    """A BUY 5 LMT 98 that rests."""
    placed = t.order(conid=AAPL, orderType="LMT", price=98.0, quantity=5)
    return str(placed[0]["order_id"])


def test_modify_changes_price_quantity_and_tif_in_the_book(sim_shared: Simulator,
                                                            t: Trader) -> None:
    """A modification answers like a placement and the book holds the new values."""
    oid = _resting(t)
    answer = _modify(t, oid, conid=AAPL, side="BUY", orderType="LMT", price=98.5, quantity=7,
                     tif="GTC")
    assert answer == [{"order_id": oid, "order_status": "Submitted", "encrypt_message": "1"}]
    held = _admin(sim_shared, oid)
    assert (held["price"], held["quantity"], held["tif"]) == (98.5, 7.0, "GTC")
    assert [m["price"] for m in held["modifications"]] == [98.5]
    status = t.get(f"/iserver/account/order/status/{oid}").json()
    assert (status["limit_price"], status["total_size"]) == ("98.50", "7.0")


def test_modified_limit_that_becomes_marketable_fills(sim_shared: Simulator, t: Trader) -> None:
    """Raising a BUY limit through the market executes it at once."""
    oid = _resting(t)
    answer = _modify(t, oid, price=100.5)
    assert answer[0]["order_status"] == "Filled"
    assert _admin(sim_shared, oid)["fills"][0]["price"] == 100.0


def test_modify_refuses_a_contract_side_or_type_change(sim_shared: Simulator, t: Trader) -> None:
    """conid, side and orderType cannot change: HTTP 200 error, the book unchanged."""
    oid = _resting(t)
    for change in ({"conid": 272093}, {"side": "SELL"}, {"orderType": "MKT"}):
        answer = _modify(t, oid, price=98.2, **change)
        assert "cannot be modified" in answer["error"], change
    assert _admin(sim_shared, oid)["modifications"] == []


def test_modify_refuses_orders_that_are_not_working(sim_shared: Simulator, t: Trader) -> None:
    """Filled, cancelled and unknown orders are refused with IBKR's words."""
    filled = str(t.order(conid=AAPL, orderType="MKT", quantity=1)[0]["order_id"])
    assert "cannot be modified, status: Filled" in _modify(t, filled, quantity=2)["error"]
    assert "doesn't exist" in _modify(t, "42", quantity=2)["error"]
    assert sim_shared.stats()["orders_modified"] == 0 if "orders_modified" in \
        sim_shared.stats() else True


def test_modify_quantity_must_exceed_the_filled_part(sim_shared: Simulator, t: Trader) -> None:
    """A quantity at or below what already filled is refused."""
    sim_shared.set_order_options(partial_fill_lot=2)
    placed = t.order(conid=AAPL, orderType="LMT", price=101.0, quantity=10)
    oid = str(placed[0]["order_id"])
    assert "must exceed" in _modify(t, oid, quantity=2)["error"]


def test_big_modification_asks_the_price_question(sim_shared: Simulator, t: Trader) -> None:
    """A new limit more than 3% from the market asks o163; confirming applies it."""
    oid = _resting(t)
    answer = _modify(t, oid, price=90.0)
    assert answer[0]["messageIds"] == ["o163"]
    assert _admin(sim_shared, oid)["price"] == 98.0  # nothing applied before the answer
    done = t.confirm_all(answer)
    assert done[0]["order_id"] == oid and _admin(sim_shared, oid)["price"] == 90.0


def test_fault_modify_lost_applies_then_resets(sim_shared: Simulator, t: Trader) -> None:
    """`modify_lost`: the modification is applied, the connection reset; placement untouched."""
    oid = _resting(t)
    sim_shared.set_faults({"modify_lost": 1.0})
    assert t.order(conid=AAPL, orderType="LMT", price=97.0, quantity=1)[0]["order_id"]
    with pytest.raises(requests.ConnectionError):
        t.post(f"/iserver/account/{t.account}/order/{oid}", json={"price": 98.4})
    sim_shared.set_faults({})
    assert _admin(sim_shared, oid)["price"] == 98.4
    assert sim_shared.stats()["faults_injected"] == {"modify_lost": 1}


def test_fault_modify_fill_race_fills_first(sim_shared: Simulator, t: Trader) -> None:
    """`modify_fill_race`: the order fills at the market, then the modification is refused."""
    oid = _resting(t)
    sim_shared.set_faults({"modify_fill_race": 1.0})
    answer = _modify(t, oid, price=98.3)
    assert "status: Filled" in answer["error"]
    held = _admin(sim_shared, oid)
    assert (held["status"], held["price"], held["modifications"]) == ("Filled", 98.0, [])


def test_trailing_stop_follows_the_price_and_triggers(sim_shared: Simulator, t: Trader) -> None:
    """SELL TRAIL 2 amt: the stop rises with the price, never falls, and triggers a market fill."""
    placed = t.order(conid=AAPL, orderType="TRAIL", side="SELL", quantity=3, trailingAmt=2,
                     trailingType="amt")
    oid = str(placed[0]["order_id"])
    assert _admin(sim_shared, oid)["trailStop"] == 98.0
    sim_shared.set_price(AAPL, 105.0)
    sim_shared.set_price(AAPL, 104.0)
    held = _admin(sim_shared, oid)
    assert (held["trailStop"], held["status"]) == (103.0, "PreSubmitted")
    live = t.get(f"/iserver/account/order/status/{oid}").json()
    assert (live["stop_price"], live["trailing_amount"], live["trailing_type"]) == \
        ("103.00", "2.00", "amt")
    sim_shared.set_price(AAPL, 102.5)
    held = _admin(sim_shared, oid)
    assert held["status"] == "Filled" and held["fills"][0]["price"] == 102.5


def test_trailing_percent_and_trailing_limit(sim_shared: Simulator, t: Trader) -> None:
    """BUY TRAILLMT 1 %: stop 1 % above the low, limit = stop + auxPrice (the offset)."""
    placed = t.order(conid=AAPL, orderType="TRAILLMT", side="BUY", quantity=2, trailingAmt=1,
                     trailingType="%", auxPrice=0.5)
    oid = str(placed[0]["order_id"])
    sim_shared.set_price(AAPL, 90.0)
    assert _admin(sim_shared, oid)["trailStop"] == pytest.approx(90.9)
    status = t.get(f"/iserver/account/order/status/{oid}").json()
    assert (status["limit_price"], status["limit_offset"]) == ("91.40", "0.5000")
    sim_shared.set_price(AAPL, 92.0)  # through the stop, above the limit: no fill yet
    assert _admin(sim_shared, oid)["status"] == "Submitted"
    sim_shared.set_price(AAPL, 91.2)
    assert _admin(sim_shared, oid)["fills"][0]["price"] == 91.2


def test_modify_changes_a_trailing_amount(sim_shared: Simulator, t: Trader) -> None:
    """A new trailingAmt re-anchors the stop at the present price."""
    placed = t.order(conid=AAPL, orderType="TRAIL", side="SELL", quantity=1, trailingAmt=2,
                     trailingType="amt")
    oid = str(placed[0]["order_id"])
    _modify(t, oid, trailingAmt=0.5, trailingType="amt")
    held = _admin(sim_shared, oid)
    assert (held["trailingAmt"], held["trailStop"]) == (0.5, 99.5)


@pytest.mark.parametrize(("ticket", "words"), [
    ({"orderType": "TRAIL", "trailingType": "amt"}, "trailingAmt > 0"),
    ({"orderType": "TRAIL", "trailingAmt": 1, "trailingType": "pips"}, "trailingType"),
    ({"orderType": "TRAILLMT", "trailingAmt": 1, "trailingType": "amt"}, "limit offset"),
    ({"orderType": "LMT", "price": 99, "trailingAmt": 1}, "applies to TRAIL"),
    ({"orderType": "STP", "price": 95, "cashQty": 500, "quantity": None}, "not supported"),
    ({"orderType": "MKT", "cashQty": 500, "quantity": 5}, "either quantity or cashQty"),
])
def test_bad_trailing_and_cash_tickets_are_refused(t: Trader, ticket: dict[str, Any],
                                                   words: str) -> None:
    """Trailing fields only on TRAIL/TRAILLMT, complete; cashQty alone, on MKT/LMT."""
    ticket.setdefault("quantity", 1)
    if ticket["quantity"] is None:
        del ticket["quantity"]
    answer = t.order(conid=AAPL, side="SELL", **ticket)
    assert words in answer["error"]


def test_cash_quantity_buys_whole_shares_for_the_amount(sim_shared: Simulator,
                                                        t: Trader) -> None:
    """BUY MKT cashQty 1050 at 100 buys 10.5 shares (AAPL trades fractions here)."""
    placed = t.order(conid=AAPL, orderType="MKT", cashQty=1050)
    held = _admin(sim_shared, str(placed[0]["order_id"]))
    assert (held["status"], held["quantity"], held["cashQty"]) == ("Filled", 10.5, 1050.0)


def test_modification_is_published_on_the_order_stream(sim_shared: Simulator, t: Trader) -> None:
    """sor: a modification arrives as the changed fields (new price and size) of that order."""
    with _open(sim_shared, _session(t)) as ws:
        _greeted(ws)
        ws.send("sor+{}")
        oid = int(_resting(t))
        _until(ws, lambda m: m.get("topic") == "sor" and m["args"][0].get("orderId") == oid)
        _modify(t, str(oid), price=98.25, quantity=6)
        update = _until(ws, lambda m: m.get("topic") == "sor"
                        and m["args"][0].get("price") == "98.25")["args"][0]
    assert update["orderId"] == oid and update["totalSize"] == 6
