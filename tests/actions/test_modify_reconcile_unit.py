"""Reconciliation of a lost modification with exact server answers (`responses`, fake clock).

The read-back branches the simulator cannot stage on demand: the order status unreadable,
values that are neither the old nor the new ones, old values only until the settle wait ends.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import responses

from noetl_ib_plugin.actions.order_modify import ModifyOrderInput, ModifySettings, modify_order
from noetl_ib_plugin.cli._io import error_exit_code
from noetl_ib_plugin.errors import ModifyUnconfirmed
from tests.client.fakes import BASE, add_bootstrap, calls_to, make_client, order_desk

MODIFY = f"{BASE}/iserver/account/DU1110001/order/8"
STATUS = f"{BASE}/iserver/account/order/status/8"
SETTINGS = ModifySettings(reconcile_polls=4, settle_seconds=0.5, poll_interval=0.25)


def _status(price: str, status: str = "Submitted") -> dict[str, Any]:
    """IBKR's order-status answer for order 8 (BUY 5 AAPL LMT, DAY) at `price`."""
    return {"order_id": 8, "conid": 265598, "symbol": "AAPL", "side": "B", "order_type": "LIMIT",
            "order_status": status, "total_size": "5.0", "cum_fill": "0.0", "size": "5.0",
            "limit_price": price, "tif": "DAY", "account": "DU1110001", "order_ref": "c-8"}


@pytest.fixture
def rsps() -> Any:
    """Bootstrap answered; order status registered per test before the desk's catch-all."""
    with order_desk() as mock:
        yield mock


def _status_answers(rsps: Any, *answers: dict[str, Any]) -> None:
    """Register the order-status answers in order (the last one repeats)."""
    rsps.registered().clear()  # drop the desk's catch-all "doesn't exist" status answer
    add_bootstrap(rsps)
    for answer in answers:
        rsps.add(responses.GET, STATUS, **answer)


def _lost(rsps: Any, times: int = 1) -> None:
    """The modify POST's answer is lost `times` times (a reset after sending), then accepted."""
    for _ in range(times):
        rsps.add(responses.POST, MODIFY, body=requests.ConnectionError("reset by peer"))
    rsps.add(responses.POST, MODIFY, json=[{"order_id": "8", "order_status": "Submitted"}])


def _modify(price: float = 98.5) -> Any:
    """modify_order on order 8 with the test settings."""
    return modify_order(make_client(), ModifyOrderInput(order_id="8", limit_price=price),
                        SETTINGS)


def test_unreadable_order_after_a_loss_is_unknown_exit_6(rsps: Any) -> None:
    """Lost answer and no read-back: ModifyUnconfirmed (exit 6), sent once, never resent."""
    _status_answers(rsps, {"json": _status("98.00")},
                    {"status": 500, "json": {"error": "down"}})
    _lost(rsps)
    with pytest.raises(ModifyUnconfirmed) as info:
        _modify()
    assert error_exit_code(info.value) == 6 and info.value.order_id == "8"
    assert calls_to(rsps, "/order/8", "POST") == 1


def test_values_neither_old_nor_new_are_unknown(rsps: Any) -> None:
    """Someone else changed the order meanwhile: not ours to call applied or not applied."""
    _status_answers(rsps, {"json": _status("98.00")}, {"json": _status("97.10")})
    _lost(rsps)
    with pytest.raises(ModifyUnconfirmed):
        _modify()
    assert calls_to(rsps, "/order/8", "POST") == 1


def test_old_values_are_not_applied_only_after_the_settle_wait(rsps: Any) -> None:
    """Old values read back: resent only once they held for settle_seconds (3 reads, 0.5 s)."""
    _status_answers(rsps, {"json": _status("98.00")}, {"json": _status("98.00")},
                    {"json": _status("98.00")}, {"json": _status("98.00")},
                    {"json": _status("98.50")})
    _lost(rsps)
    out = _modify()
    assert (out.resent, out.reconciled, out.limit_price) == (True, False, 98.5)
    posts = [json.loads(c.request.body) for c in rsps.calls
             if c.request.method == "POST" and c.request.url == MODIFY]
    assert len(posts) == 2 and posts[0] == posts[1]  # the same target values, never a delta
    assert posts[0]["price"] == 98.5 and posts[0]["quantity"] == 5.0
    order = [c.request.method for c in rsps.calls if c.request.url.startswith(
        (MODIFY, STATUS))]
    # before-read, POST (lost), reads at +0, +0.25, +0.5 s (old values held 0.5 s), POST again
    assert order[:6] == ["GET", "POST", "GET", "GET", "GET", "POST"], order


def test_new_values_read_back_are_applied_without_a_resend(rsps: Any) -> None:
    """The lost modification shows in the read-back: applied, reconciled, sent once."""
    _status_answers(rsps, {"json": _status("98.00")}, {"json": _status("98.50")})
    _lost(rsps)
    out = _modify()
    assert (out.reconciled, out.resent, out.limit_price) == (True, False, 98.5)
    assert calls_to(rsps, "/order/8", "POST") == 1
