"""The pure parts of an order: the derived cOID, the ticket-vs-broker comparison, the state table."""

from __future__ import annotations

import re
from typing import Any

import pytest

from noetl_ib_plugin.actions.models import PlaceOrderInput
from noetl_ib_plugin.actions.order_states import STATES, filter_tokens, order_type_name
from noetl_ib_plugin.actions.order_ticket import derive_client_order_id, differences

PARAMS: dict[str, Any] = {"symbol": "AAPL", "side": "BUY", "quantity": 1, "order_type": "LMT",
                          "limit_price": 187.0}


def test_derived_coid_is_stable_for_a_redriven_step() -> None:
    """Same execution, step and order: the same cOID (digits pinned, so a change is noticed)."""
    first = derive_client_order_id("exec-1", "buy", PARAMS)
    again = derive_client_order_id("exec-1", "buy", {**PARAMS, "side": "buy", "quantity": 1.0,
                                                     "confirm": ["o163"]})
    assert first == again == "nib-" + first[4:] and len(first) == 28
    assert re.fullmatch(r"[A-Za-z0-9._:\-]+", first)
    PlaceOrderInput(**PARAMS, client_order_id=first)  # the input model accepts it


@pytest.mark.parametrize("change", [
    {"execution_id": "exec-2"}, {"step": "sell"}, {"quantity": 2}, {"limit_price": 187.01},
    {"side": "SELL"}, {"symbol": "MSFT"}, {"tif": "GTC"},
])
def test_derived_coid_changes_with_execution_step_or_order(change: dict[str, Any]) -> None:
    """Another execution, step, or any order parameter gives another cOID."""
    change = dict(change)  # the parametrized dict is shared between runs
    execution = change.pop("execution_id", "exec-1")
    step = change.pop("step", "buy")
    assert derive_client_order_id(execution, step, {**PARAMS, **change}) != \
        derive_client_order_id("exec-1", "buy", PARAMS)


TICKET = {"conid": 265598, "side": "BUY", "quantity": 3.0, "orderType": "LMT", "price": 99.0,
          "tif": "DAY", "cOID": "k"}


def test_same_order_within_ibkrs_price_rounding_is_no_difference() -> None:
    """IBKR prints 2 decimals: 99.004 vs 99.00 is the same price; fields it omits are skipped."""
    record = {"conid": 265598, "side": "BUY", "quantity": 3.0, "order_type": "LMT",
              "limit_price": 99.0, "tif": "DAY"}
    assert differences({**TICKET, "price": 99.004}, record) == []
    assert differences(TICKET, {"conid": 265598, "side": "BUY", "quantity": None}) == []


def test_trade_record_compares_side_conid_and_filled_quantity() -> None:
    """From executions only conid, side and filled <= requested can be checked."""
    record = {"conid": 265598, "side": "BUY", "filled_quantity": 3.0}
    assert differences(TICKET, record) == []
    assert differences(TICKET, {**record, "filled_quantity": 4.0}) == [
        "quantity: request 3.0, broker 4 filled"]
    assert differences(TICKET, {**record, "side": "SELL"}) == ["side: request BUY, broker SELL"]


def test_one_state_table_classifies_inactive_as_not_working() -> None:
    """Inactive is its own kind (not working, not filled); every IBKR status has a token."""
    assert STATES["Inactive"] == ("inactive", "inactive")
    assert {kind for kind, _ in STATES.values()} == {"working", "filled", "cancelled", "inactive"}
    assert filter_tokens(["PreSubmitted", "pre_submitted", "Pending Cancel"]) == [
        "pre_submitted", "pending_cancel"]


@pytest.mark.parametrize(("raw", "name"), [("Limit", "LMT"), ("STOP_LIMIT", "STOP_LIMIT"),
                                           ("STP LMT", "STOP_LIMIT"), ("MARKET", "MKT"),
                                           ("Stop", "STP"), ("", None)])
def test_order_type_names_map_to_the_tickets(raw: str, name: str | None) -> None:
    """IBKR's long and short order-type names map to the ticket's four."""
    assert order_type_name(raw) == name


def test_stop_price_is_compared_for_stop_orders() -> None:
    """A STOP_LIMIT whose stop differs at IBKR is a difference named stop_price."""
    ticket = {**TICKET, "orderType": "STOP_LIMIT", "price": 99.0, "auxPrice": 98.0}
    record = {"conid": 265598, "side": "BUY", "quantity": 3.0, "order_type": "STOP_LIMIT",
              "limit_price": 99.0, "stop_price": 97.5, "tif": "DAY"}
    assert differences(ticket, record) == ["stop_price: request 98.0, broker 97.5"]
    assert differences(ticket, {**record, "stop_price": 98.0}) == []
    assert differences(TICKET, {**record, "order_type": "LMT", "stop_price": 97.5}) == [
        "stop_price: request none, broker 97.5"]


@pytest.mark.parametrize(("want", "have", "same"), [
    (1.004, 1.0, True), (1.006, 1.0, False), (0.50004, 0.5, True), (0.5001, 0.5, False),
])
def test_price_rounding_follows_ibkrs_printed_decimals(want: float, have: float, same: bool) -> None:
    """2 decimals from 1 up, 4 below: within half a printed unit is the same price."""
    record = {"conid": 265598, "limit_price": have}
    assert (differences({**TICKET, "price": want}, record) == []) is same
