"""Probe findings that need exact server answers: a lookup that fails after a lost order answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses

from noetl_ib_plugin.actions.orders import place_order
from noetl_ib_plugin.cli._io import error_exit_code
from noetl_ib_plugin.errors import OrderUnconfirmed
from tests.actions.test_order_reconcile_unit import COID, LIVE, LMT, ORDERS, TRADES, _settings
from tests.client.fakes import make_client, order_desk


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """Bootstrap and the AAPL contract search answered; everything else per test."""
    with order_desk() as mock:
        yield mock


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_while_looking_up_a_lost_order_is_outcome_unknown(rsps: Any,
                                                                       status: int) -> None:
    """POST reset, then live orders and trades refuse the token: exit 6 naming the cOID, no resend."""
    rsps.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    rsps.add(responses.GET, LIVE, status=status, json={"error": "not authenticated"})
    rsps.add(responses.GET, TRADES, status=status, json={"error": "not authenticated"})
    with pytest.raises(OrderUnconfirmed) as info:
        place_order(make_client(), LMT, _settings())
    exc = info.value
    assert error_exit_code(exc) == 6 and exc.client_order_id == COID and COID in str(exc)
    posts = [c for c in rsps.calls if c.request.method == "POST" and c.request.url == ORDERS]
    assert len(posts) == 1


@pytest.mark.parametrize("resend_answer", [
    {"status": 429, "json": {"error": "Too many requests"}, "headers": {"Retry-After": "1"}},
    {"status": 401, "json": {"error": "not authenticated"}},
])
def test_failed_resend_after_an_unknown_first_send_is_outcome_unknown(
        rsps: Any, resend_answer: dict[str, Any]) -> None:
    """POST reset, lookup misses it (lag), resend 429/401: exit 6 naming the cOID, not exit 5/3."""
    rsps.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    rsps.add(responses.GET, LIVE, json={"orders": [], "snapshot": True})
    rsps.add(responses.GET, TRADES, json=[])
    rsps.add(responses.POST, ORDERS, **resend_answer)
    with pytest.raises(OrderUnconfirmed) as info:
        place_order(make_client(), LMT, _settings())
    exc = info.value
    assert error_exit_code(exc) == 6 and exc.client_order_id == COID and COID in str(exc)
    assert "new client_order_id" not in (exc.fix or "").replace("never with a new", "")


def test_order_of_another_account_under_the_same_coid_is_not_ours(rsps: Any) -> None:
    """Lost answer; live orders hold the cOID only on another account: never reported as ours."""
    other = {"orderId": 7, "order_ref": COID, "status": "Submitted", "conid": 265598,
             "side": "BUY", "totalSize": 3.0, "origOrderType": "LIMIT", "price": "99.00",
             "timeInForce": "DAY", "acct": "DU9999999"}
    rsps.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    rsps.add(responses.GET, LIVE, json={"orders": [other], "snapshot": True})
    rsps.add(responses.GET, TRADES, json=[{"order_ref": COID, "order_id": 7, "conid": 265598,
                                           "side": "B", "size": 3, "price": "99",
                                           "account": "DU9999999"}])
    rsps.add(responses.POST, ORDERS, json=[{"order_id": "9", "order_status": "Submitted"}])
    out = place_order(make_client(), LMT, _settings())
    assert out["order_id"] == "9" and out["account_id"] == "DU1110001"


def test_trades_find_with_an_odd_order_id_keeps_the_trades_record(rsps: Any) -> None:
    """A broker order id too long for the status endpoint: no crash, the trades record is used."""
    rsps.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    rsps.add(responses.GET, LIVE, json={"orders": [], "snapshot": True})
    rsps.add(responses.GET, TRADES, json=[{"order_ref": COID, "order_id": "1" * 25,
                                           "conid": 265598, "side": "B", "size": 3,
                                           "price": "99", "account": "DU1110001"}])
    out = place_order(make_client(), LMT, _settings())
    assert out["order_id"] == "1" * 25 and out["source"] == "trades"
    assert out["status"] == "Filled" and out["filled_quantity"] == 3.0
