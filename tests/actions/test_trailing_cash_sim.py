"""place_order with trailing stops (TRAIL, TRAILLMT) and cash quantities, against the simulator.

The oracle is the simulator's own order record and the ticket it received, never our parsers.
"""

from __future__ import annotations

from typing import Any

import pytest

from noetl_ib_plugin.actions.contracts import Contract
from noetl_ib_plugin.actions.models import PlaceOrderInput
from noetl_ib_plugin.actions.order_ticket import build_ticket, derive_client_order_id
from noetl_ib_plugin.errors import InputError
from noetl_ib_plugin.simulator import Simulator
from tests.fixtures.simulators import act

AAPL = 265598


def _book(sim: Simulator, order_id: str) -> dict[str, Any]:
    """The simulator's record of one order."""
    return next(o for o in sim.orders() if str(o["order_id"]) == order_id)


def test_trail_by_amount_is_held_and_reported(priced: Simulator) -> None:
    """SELL TRAIL 2 amt: the book holds trailingAmt 2 'amt', stop 98; the result says so."""
    out = act(priced, "sim_oauth2", "place_order", symbol="AAPL", side="SELL", quantity=3,
              order_type="TRAIL", trailing_amount=2, trailing_type="amt")
    held = _book(priced, out["order_id"])
    assert (held["orderType"], held["trailingAmt"], held["trailingType"], held["trailStop"]) == \
        ("TRAIL", 2.0, "amt", 98.0)
    assert (out["order_type"], out["trailing_amount"], out["trailing_type"], out["stop_price"]) \
        == ("TRAIL", 2.0, "amt", 98.0)
    assert out["status"] == "PreSubmitted" and out["limit_price"] is None


def test_traillmt_by_percent_sends_the_offset_and_moves(priced: Simulator) -> None:
    """BUY TRAILLMT 1 % offset 0.5: held with auxPrice 0.5; the stop follows a falling price."""
    out = act(priced, "sim_oauth2", "place_order", symbol="AAPL", side="BUY", quantity=2,
              order_type="traillmt", trailing_amount=1, trailing_type="percent",
              limit_offset=0.5)
    held = _book(priced, out["order_id"])
    assert (held["orderType"], held["trailingType"], held["auxPrice"]) == ("TRAILLMT", "%", 0.5)
    assert out["limit_offset"] == 0.5 and out["trailing_type"] == "%"
    priced.set_price(AAPL, 90.0)
    assert _book(priced, out["order_id"])["trailStop"] == pytest.approx(90.9)
    status = act(priced, "sim_oauth2", "order_status", order_id=out["order_id"])
    assert (status["stop_price"], status["limit_price"]) == (90.9, 91.4)


def test_cash_quantity_market_buy_fills_for_the_amount(priced: Simulator) -> None:
    """BUY MKT cash_quantity 1050 at 100: the book sizes 10.5 shares; the result carries both."""
    out = act(priced, "sim_oauth2", "place_order", symbol="AAPL", side="BUY",
              cash_quantity=1050, order_type="MKT")
    held = _book(priced, out["order_id"])
    assert (held["cashQty"], held["quantity"], held["status"]) == (1050.0, 10.5, "Filled")
    assert (out["cash_quantity"], out["quantity"], out["filled_quantity"]) == (1050.0, 10.5, 10.5)


@pytest.mark.parametrize(("args", "field", "fix_words"), [
    ({"order_type": "TRAIL", "quantity": 1}, "trailing_amount", "trailing_amount=2 trailing_type=amt"),
    ({"order_type": "TRAIL", "quantity": 1, "trailing_amount": 2}, "trailing_type",
     "trailing_type=amt"),
    ({"order_type": "TRAILLMT", "quantity": 1, "trailing_amount": 2, "trailing_type": "amt"},
     "limit_offset", "limit_offset=0.1"),
    ({"order_type": "TRAIL", "quantity": 1, "trailing_amount": 100, "trailing_type": "%"},
     "trailing_amount", "trailing_amount=1.5 trailing_type=%"),
    ({"order_type": "LMT", "quantity": 1, "limit_price": 99, "trailing_amount": 2},
     "trailing_amount", "remove trailing_amount"),
    ({"order_type": "STP", "stop_price": 95, "cash_quantity": 500}, "cash_quantity",
     "quantity=N"),
    ({"order_type": "MKT", "quantity": 5, "cash_quantity": 500}, "cash_quantity", "not both"),
    ({"order_type": "MKT"}, "quantity", "cash_quantity=AMOUNT"),
    ({"order_type": "MKT", "cash_quantity": 500, "sec_type": "OPT", "conid": 1}, "cash_quantity",
     "quantity=N"),
])
def test_misplaced_trailing_or_cash_fields_are_input_errors(
        priced: Simulator, args: dict[str, Any], field: str, fix_words: str) -> None:
    """Each rule names its field and gives a fix to copy; nothing reaches the simulator."""
    base = {"symbol": "AAPL", "side": "SELL"} if "conid" not in args else {"side": "SELL"}
    with pytest.raises(InputError) as info:
        act(priced, "sim_oauth2", "place_order", **base, **args)
    assert info.value.field == field and fix_words in (info.value.fix or "")
    assert priced.orders() == []


def test_ticket_carries_ibkr_field_names() -> None:
    """The ticket: trailingAmt/trailingType, TRAILLMT's offset as auxPrice, cashQty alone."""
    contract = Contract(conid=AAPL, symbol="AAPL", exchange="NASDAQ", currency="USD")
    trail = PlaceOrderInput(symbol="AAPL", side="SELL", quantity=1, order_type="TRAILLMT",
                            trailing_amount=1.5, trailing_type="%", limit_offset=0.2)
    ticket = build_ticket(trail, "DU1", contract, "c1")
    assert {k: ticket[k] for k in ("orderType", "trailingAmt", "trailingType", "auxPrice")} == \
        {"orderType": "TRAILLMT", "trailingAmt": 1.5, "trailingType": "%", "auxPrice": 0.2}
    assert "price" not in ticket
    cash = PlaceOrderInput(symbol="AAPL", side="BUY", cash_quantity=500, order_type="MKT")
    ticket = build_ticket(cash, "DU1", contract, "c2")
    assert ticket["cashQty"] == 500 and "quantity" not in ticket


def test_derived_client_order_id_tells_trailing_amounts_apart() -> None:
    """Two steps differing only in trailing_amount get different derived cOIDs; equal ones the same."""
    base = {"symbol": "AAPL", "side": "SELL", "quantity": 1, "order_type": "TRAIL",
            "trailing_type": "amt"}
    one = derive_client_order_id("e1", "s", {**base, "trailing_amount": 1})
    assert one == derive_client_order_id("e1", "s", {**base, "trailing_amount": "1.0"})
    assert one != derive_client_order_id("e1", "s", {**base, "trailing_amount": 2})


def test_price_modify_of_a_cash_quantity_order_keeps_its_size(priced: Simulator) -> None:
    """A limit-only modify of a cash-quantity order leaves the broker's share count as placed."""
    out = act(priced, "sim_oauth2", "place_order", symbol="AAPL", side="BUY",
              cash_quantity=1000, order_type="LMT", limit_price=98)
    placed = _book(priced, out["order_id"])["quantity"]
    act(priced, "sim_oauth2", "modify_order", order_id=out["order_id"], limit_price=97.5)
    held = _book(priced, out["order_id"])
    assert (held["price"], held["cashQty"]) == (97.5, 1000.0)
    assert held["quantity"] == placed == pytest.approx(1000 / 98, abs=1e-4)
