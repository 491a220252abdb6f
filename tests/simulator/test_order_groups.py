"""Brackets and OCA groups in the simulator, as IBKR plays them: children held until the parent
fills, one-cancels-all, parent cancel takes the children, one leg refused by a fault."""

from __future__ import annotations

from typing import Any

from noetl_ib_plugin.simulator import Simulator

from .clients import Trader

AAPL = 265598
MSFT = 272093


def _ticket(t: Trader, **fields: Any) -> dict[str, Any]:
    """A DAY ticket for the trader's account."""
    return {"acctId": t.account, "conid": AAPL, "tif": "DAY", "quantity": 10, **fields}


def _bracket(t: Trader, entry: dict[str, Any], coid: str = "br") -> Any:
    """POST parent + take-profit LMT + stop-loss STP (children name the parent's cOID)."""
    orders = [
        _ticket(t, cOID=coid, side="BUY", **entry),
        _ticket(t, cOID=f"{coid}-tp", parentId=coid, side="SELL", orderType="LMT", price=102.0),
        _ticket(t, cOID=f"{coid}-sl", parentId=coid, side="SELL", orderType="STP", price=98.0),
    ]
    resp = t.post(f"/iserver/account/{t.account}/orders", json={"orders": orders})
    assert resp.status_code == 200, resp.text
    return t.confirm_all(resp.json())


def _book(sim: Simulator) -> dict[str, dict[str, Any]]:
    """The simulator's orders by cOID."""
    return {str(o["cOID"]): o for o in sim.orders()}


def _status(sim: Simulator) -> dict[str, str]:
    """Status by cOID after the book was evaluated."""
    sim.engine.broker.evaluate()
    return {coid: str(o["status"]) for coid, o in _book(sim).items()}


def test_bracket_answers_one_entry_per_leg_and_holds_children(sim_shared: Simulator,
                                                              t: Trader) -> None:
    """A resting parent: three order ids in request order; children PreSubmitted and held."""
    answer = _bracket(t, {"orderType": "LMT", "price": 99.0})
    book = _book(sim_shared)
    assert [a["order_id"] for a in answer] == [str(book[c]["order_id"])
                                              for c in ("br", "br-tp", "br-sl")]
    assert [book[c]["held"] for c in ("br", "br-tp", "br-sl")] == [False, True, True]
    assert book["br-tp"]["parent_id"] == book["br"]["order_id"]
    assert book["br-tp"]["oca_group"] == book["br-sl"]["oca_group"] is not None
    sim_shared.set_price(AAPL, 103.0)  # would fill the take-profit if it were working
    assert _status(sim_shared) == {"br": "Submitted", "br-tp": "PreSubmitted",
                                   "br-sl": "PreSubmitted"}


def test_parent_fill_releases_children_and_a_child_fill_cancels_its_sibling(
        sim_shared: Simulator, t: Trader) -> None:
    """Parent fills -> children work; the take-profit fills -> the stop-loss is cancelled."""
    _bracket(t, {"orderType": "MKT"})
    assert _status(sim_shared) == {"br": "Filled", "br-tp": "Submitted", "br-sl": "PreSubmitted"}
    sim_shared.set_price(AAPL, 102.5)
    assert _status(sim_shared) == {"br": "Filled", "br-tp": "Filled", "br-sl": "Cancelled"}


def test_stop_loss_fill_cancels_take_profit(sim_shared: Simulator, t: Trader) -> None:
    """The stop triggers below 98 and fills; the take-profit sibling is cancelled."""
    _bracket(t, {"orderType": "MKT"})
    sim_shared.set_price(AAPL, 97.0)
    assert _status(sim_shared) == {"br": "Filled", "br-tp": "Cancelled", "br-sl": "Filled"}


def test_cancelling_the_parent_cancels_the_children(sim_shared: Simulator, t: Trader) -> None:
    """DELETE of an unfilled parent leaves no child behind."""
    answer = _bracket(t, {"orderType": "LMT", "price": 99.0})
    t.delete(f"/iserver/account/{t.account}/order/{answer[0]['order_id']}")
    assert _status(sim_shared) == {"br": "Cancelled", "br-tp": "Cancelled", "br-sl": "Cancelled"}


def test_cancelling_one_child_cancels_its_sibling(sim_shared: Simulator, t: Trader) -> None:
    """IBKR: cancelling one bracket child cancels the other; the parent keeps working."""
    answer = _bracket(t, {"orderType": "LMT", "price": 99.0})
    t.delete(f"/iserver/account/{t.account}/order/{answer[1]['order_id']}")
    assert _status(sim_shared) == {"br": "Submitted", "br-tp": "Cancelled", "br-sl": "Cancelled"}


def test_oca_group_fill_cancels_the_others(sim_shared: Simulator, t: Trader) -> None:
    """isSingleGroup on every ticket: one OCA id; the member that fills cancels the rest."""
    orders = [_ticket(t, cOID="o1", side="BUY", orderType="LMT", price=99.0, isSingleGroup=True),
              _ticket(t, cOID="o2", side="BUY", orderType="LMT", price=98.0, isSingleGroup=True,
                      conid=MSFT)]
    sim_shared.set_price(MSFT, 100.0)
    answer = t.post(f"/iserver/account/{t.account}/orders", json={"orders": orders}).json()
    assert len(answer) == 2 and all(a.get("order_id") for a in answer)
    book = _book(sim_shared)
    assert book["o1"]["oca_group"] == book["o2"]["oca_group"] is not None
    sim_shared.set_price(AAPL, 98.5)
    assert _status(sim_shared) == {"o1": "Filled", "o2": "Cancelled"}


def test_several_orders_that_are_neither_bracket_nor_oca_are_refused(t: Trader) -> None:
    """Two unrelated tickets in one request: IBKR's one-order-per-request rule, nothing held."""
    orders = [_ticket(t, cOID="a", side="BUY", orderType="MKT"),
              _ticket(t, cOID="b", side="BUY", orderType="MKT")]
    answer = t.post(f"/iserver/account/{t.account}/orders", json={"orders": orders}).json()
    assert "bracket" in answer["error"]


def test_leg_refused_fault_holds_the_rest(sim_shared: Simulator, t: Trader) -> None:
    """`leg_refused`: parent and take-profit accepted, the stop-loss answered with an error."""
    sim_shared.set_faults({"leg_refused": 1.0, "paths": ["/v1/api/iserver/account/"]})
    answer = _bracket(t, {"orderType": "LMT", "price": 99.0})
    assert [bool(a.get("order_id")) for a in answer] == [True, True, False]
    assert "error" in answer[2]
    assert set(_book(sim_shared)) == {"br", "br-tp"}


def test_bracket_questions_are_answered_by_id_for_the_group(sim_shared: Simulator,
                                                            t: Trader) -> None:
    """A far take-profit asks o163 once; confirming it places all three legs."""
    orders = [_ticket(t, cOID="q", side="BUY", orderType="LMT", price=99.0),
              _ticket(t, cOID="q-tp", parentId="q", side="SELL", orderType="LMT", price=150.0),
              _ticket(t, cOID="q-sl", parentId="q", side="SELL", orderType="STP", price=90.0)]
    first = t.post(f"/iserver/account/{t.account}/orders", json={"orders": orders}).json()
    assert first[0]["messageIds"] == ["o163"] and _book(sim_shared) == {}
    answer = t.confirm_all(first)
    assert len(answer) == 3 and set(_book(sim_shared)) == {"q", "q-tp", "q-sl"}


def test_reused_child_coid_refuses_the_whole_request(sim_shared: Simulator, t: Trader) -> None:
    """A child's cOID already registered: IBKR's duplicate error and no leg placed."""
    _bracket(t, {"orderType": "LMT", "price": 99.0})
    answer = _bracket(t, {"orderType": "LMT", "price": 99.0}, coid="br")
    assert "Local order ID=br" in answer["error"]
    assert len(sim_shared.orders()) == 3


def test_parent_filled_by_the_modify_race_releases_its_children(sim_shared: Simulator,
                                                                t: Trader) -> None:
    """`modify_fill_race` on a bracket parent fills it as any fill does: its children work."""
    _bracket(t, {"orderType": "LMT", "price": 99.0})
    parent = _book(sim_shared)["br"]["order_id"]
    sim_shared.set_faults({"modify_fill_race": 1.0})
    resp = t.post(f"/iserver/account/{t.account}/order/{parent}",
                  json={**_ticket(t, side="BUY", orderType="LMT", price=98.5), "cOID": "br"})
    sim_shared.set_faults({})
    assert "Filled" in resp.text
    assert _status(sim_shared) == {"br": "Filled", "br-tp": "Submitted", "br-sl": "PreSubmitted"}
    assert [_book(sim_shared)[c]["held"] for c in ("br-tp", "br-sl")] == [False, False]


def test_held_child_is_never_filled_by_the_modify_race(sim_shared: Simulator, t: Trader) -> None:
    """A child held for its parent cannot execute, so the race fault leaves it held."""
    _bracket(t, {"orderType": "LMT", "price": 99.0})
    child = _book(sim_shared)["br-tp"]["order_id"]
    sim_shared.set_faults({"modify_fill_race": 1.0})
    t.post(f"/iserver/account/{t.account}/order/{child}",
           json={**_ticket(t, side="SELL", orderType="LMT", price=102.5), "cOID": "br-tp"})
    sim_shared.set_faults({})
    assert _status(sim_shared)["br-tp"] == "PreSubmitted" and _book(sim_shared)["br-tp"]["held"]
