"""A placed order's result carries IBKR's fills; an order id IBKR does not know is OrderNotFound."""

from __future__ import annotations

import json

import pytest

from noetl_ib_plugin.errors import BrokerError, OrderNotFound
from noetl_ib_plugin.simulator import Simulator
from tests.cli.helpers import cli
from tests.fixtures.simulators import act

CRED = "sim_oauth2"
AAPL = 265598


def _held(sim: Simulator, order_id: str) -> dict[str, object]:
    """The simulator's own record of one order, read without advancing the book."""
    return next(o for o in sim.engine.broker.admin_orders() if str(o["order_id"]) == order_id)


def test_filled_market_order_carries_filled_quantity_and_average_price(
        sim_reset: Simulator) -> None:
    """A MKT order that fills at once comes back Filled with its quantity and fill price."""
    sim_reset.set_price(AAPL, 101.25)
    out = act(sim_reset, CRED, "place_order", symbol="AAPL", side="BUY", quantity=3,
              order_type="MKT")
    held = _held(sim_reset, out["order_id"])
    assert held["status"] == "Filled" and held["avgPrice"] == 101.25
    assert out["status"] == "Filled"
    assert out["filled_quantity"] == 3.0 and out["avg_price"] == 101.25


def test_partially_filled_order_reports_what_the_broker_holds(sim_reset: Simulator) -> None:
    """With fills in lots, the result is the broker's state when read: Submitted, part filled."""
    sim_reset.set_order_options(partial_fill_lot=2)
    sim_reset.set_price(AAPL, 100.0)
    out = act(sim_reset, CRED, "place_order", symbol="AAPL", side="BUY", quantity=10,
              order_type="MKT")
    held = _held(sim_reset, out["order_id"])
    assert 0 < held["filled"] < 10 and held["status"] == "Submitted"  # type: ignore[operator]
    assert (out["status"], out["filled_quantity"], out["avg_price"]) == (
        "Submitted", held["filled"], 100.0)


def test_filled_order_found_after_a_lost_answer_carries_its_fills(sim_reset: Simulator) -> None:
    """An unreadable answer to a filled MKT order: reconciled by cOID, with the broker's fills."""
    sim_reset.set_price(AAPL, 99.5)
    sim_reset.set_faults({"garbage_html": 1.0})
    out = act(sim_reset, CRED, "place_order", symbol="AAPL", side="BUY", quantity=4,
              order_type="MKT", client_order_id="fills-lost-1")
    (held,) = [o for o in sim_reset.engine.broker.admin_orders() if o["cOID"] == "fills-lost-1"]
    assert out["reconciled"] is True and held["status"] == "Filled"
    assert (out["status"], out["filled_quantity"], out["avg_price"]) == ("Filled", 4.0, 99.5)


def test_resting_order_reports_nothing_filled(sim_reset: Simulator) -> None:
    """A LMT under the market rests: filled_quantity 0, no average price."""
    sim_reset.set_price(AAPL, 100.0)
    out = act(sim_reset, CRED, "place_order", symbol="AAPL", side="BUY", quantity=1,
              order_type="LMT", limit_price=99.0)
    assert (out["status"], out["filled_quantity"], out["avg_price"]) == ("Submitted", 0.0, None)


@pytest.mark.parametrize("action", ["cancel_order", "order_status"])
def test_unknown_order_id_is_order_not_found(sim_reset: Simulator, action: str) -> None:
    """cancel_order / order_status on an id IBKR does not know: OrderNotFound naming order_id."""
    with pytest.raises(OrderNotFound) as info:
        act(sim_reset, CRED, action, order_id="987654321")
    error = info.value
    assert error.category == "broker" and error.field == "order_id"
    assert error.order_id == "987654321" and "get_open_orders" in str(error)
    assert sim_reset.orders() == []


def test_cancel_of_a_filled_order_is_not_not_found(sim_reset: Simulator) -> None:
    """A filled order is known: its cancel is refused as filled, never as an unknown id."""
    out = act(sim_reset, CRED, "place_order", symbol="AAPL", side="BUY", quantity=1,
              order_type="MKT")
    with pytest.raises(BrokerError) as info:
        act(sim_reset, CRED, "cancel_order", order_id=out["order_id"])
    assert not isinstance(info.value, OrderNotFound) and "already filled" in str(info.value)


def test_unknown_order_id_exits_4_on_the_cli(sim_env: Simulator) -> None:
    """`noetl-ib run order_status order_id=<unknown>`: exit 4, typed OrderNotFound with a fix."""
    proc = cli("run", "order_status", "--credential", CRED, "order_id=987654321")
    assert proc.returncode == 4, proc.stderr
    error = json.loads(proc.stderr.strip().splitlines()[-1])["error"]
    assert (error["type"], error["field"], error["order_id"]) == (
        "OrderNotFound", "order_id", "987654321")
    assert "noetl-ib run get_open_orders" in error["message"]
