"""place_order's exactly-once paths that need precise server answers (`responses`, fake clock)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import responses

from noetl_ib_plugin.actions.models import PlaceOrderInput
from noetl_ib_plugin.actions.orders import OrderSettings, place_order
from noetl_ib_plugin.errors import OrderRejected, OrderUnconfirmed
from tests.client.fakes import BASE, FakeClock, calls_to, make_client, order_desk

ORDERS = f"{BASE}/iserver/account/DU1110001/orders"
LIVE = f"{BASE}/iserver/account/orders"

_MKT_ORDER = PlaceOrderInput(symbol="AAPL", side="BUY", quantity=1, order_type="MKT")


@pytest.fixture(autouse=True)
def _mocked() -> Any:
    """Bootstrap and contract search answers shared by every test here."""
    with order_desk() as rsps:
        yield rsps


def _settings() -> OrderSettings:
    return OrderSettings(reconcile_polls=4, settle_seconds=0.5, poll_interval=0.25,
                         coid_factory=lambda: "nib-fixed")


def _posted_coids(rsps: Any) -> list[str]:
    return [json.loads(c.request.body)["orders"][0]["cOID"] for c in rsps.calls
            if c.request.method == "POST" and c.request.url.endswith("/DU1110001/orders")]


def test_undecidable_reconciliation_raises_order_unconfirmed(_mocked: Any) -> None:
    """Connection lost after sending and live orders never give a real answer -> OrderUnconfirmed."""
    _mocked.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    _mocked.add(responses.GET, LIVE, json={"orders": [], "snapshot": False})
    clock = FakeClock()
    client = make_client(clock=clock)
    with pytest.raises(OrderUnconfirmed) as info:
        place_order(client, _MKT_ORDER, _settings())
    assert "nib-fixed" in str(info.value)
    assert _posted_coids(_mocked) == ["nib-fixed"]  # never resent while undecided
    assert calls_to(_mocked, "/iserver/account/orders") == 4


def test_rate_limited_placement_is_resent_with_same_coid(_mocked: Any) -> None:
    """A 429 on placement (not processed) is resent once, after Retry-After, with the same cOID."""
    _mocked.add(responses.POST, ORDERS, status=429, headers={"Retry-After": "3"},
                json={"error": "too many requests"})
    _mocked.add(responses.POST, ORDERS,
                json=[{"order_id": "42", "order_status": "Submitted"}])
    clock = FakeClock()
    client = make_client(clock=clock)
    out = place_order(client, _MKT_ORDER, _settings())
    assert out.order_id == "42"
    assert _posted_coids(_mocked) == ["nib-fixed", "nib-fixed"]
    assert clock.sleeps == [3.0]


def test_found_after_reset_returns_the_live_order(_mocked: Any) -> None:
    """After a lost answer the pre-flight is asked again and the cOID's order is returned."""
    _mocked.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    _mocked.add(responses.GET, LIVE, json={"orders": [], "snapshot": False})
    _mocked.add(responses.GET, LIVE, json={"orders": [
        {"orderId": 7, "order_ref": "other", "status": "Filled"},
        {"orderId": 8, "order_ref": "nib-fixed", "status": "Submitted"}], "snapshot": True})
    out = place_order(make_client(), _MKT_ORDER,
                      _settings())
    assert out.order_id == "8" and out.status == "Submitted" and out.reconciled
    assert _posted_coids(_mocked) == ["nib-fixed"]


def test_question_without_ids_is_declined(_mocked: Any) -> None:
    """A question carrying no message id cannot be judged, so it is declined, not guessed."""
    _mocked.add(responses.POST, ORDERS, json=[{"id": "q1", "message": ["Sure?"]}])
    _mocked.add(responses.POST, f"{BASE}/iserver/reply/q1", json={"error": "dropped"})
    with pytest.raises(OrderRejected):
        place_order(make_client(), _MKT_ORDER,
                    _settings())
    reply = [c for c in _mocked.calls if c.request.url.endswith("/iserver/reply/q1")]
    assert json.loads(reply[0].request.body) == {"confirmed": False}


def test_ibkr_rejection_is_order_rejected(_mocked: Any) -> None:
    """An HTTP 200 {"error": ...} answer becomes OrderRejected carrying IBKR's words."""
    _mocked.add(responses.POST, ORDERS, json={"error": "We cannot accept an order at the limit"})
    with pytest.raises(OrderRejected, match="cannot accept"):
        place_order(make_client(), _MKT_ORDER,
                    _settings())


def test_stale_reply_id_is_order_rejected(_mocked: Any) -> None:
    """A 400 "reply id not found" on the confirmation means nothing was placed: OrderRejected."""
    _mocked.add(responses.POST, ORDERS,
                json=[{"id": "q2", "message": ["Market order"], "messageIds": ["o10151"]}])
    _mocked.add(responses.POST, f"{BASE}/iserver/reply/q2", status=400,
                json={"error": "reply id not found: 'q2'"})
    with pytest.raises(OrderRejected, match="reply id not found"):
        place_order(make_client(), _MKT_ORDER,
                    _settings())
