"""The WebSocket order topic (`sor`) reports every change of a bracket: the three legs when placed,
the parent's fill with the take-profit's release, then the take-profit's fill with the stop-loss
cancelled by the one-cancels-all rule."""

from __future__ import annotations

from typing import Any

from noetl_ib_plugin.simulator import Simulator

from .clients import Trader
from .test_ws import _greeted, _open, _session, _until, fast

__all__ = ["fast"]  # the stream-period fixture, shared with test_ws

AAPL = 265598


def _statuses(ws: Any, want: dict[int, str]) -> None:
    """Read `sor` messages until each order id in `want` was last reported in its status."""
    seen: dict[int, str] = {}

    def done(msg: dict[str, Any]) -> bool:
        if msg.get("topic") == "sor":
            seen.update({a["orderId"]: a["status"] for a in msg["args"] if "status" in a})
        return all(seen.get(k) == v for k, v in want.items())

    _until(ws, done)


def test_order_stream_reports_each_bracket_change(fast: Simulator, trader: Trader) -> None:
    """Placed (3 legs), parent Filled + take-profit Submitted, take-profit Filled + stop Cancelled."""
    fast.set_price(AAPL, 100.0)
    with _open(fast, _session(trader)) as ws:
        _greeted(ws)
        ws.send("sor+{}")
        orders = [{"acctId": trader.account, "conid": AAPL, "tif": "DAY", "quantity": 2, **t}
                  for t in ({"cOID": "w", "side": "BUY", "orderType": "LMT", "price": 99.0},
                            {"cOID": "w-tp", "parentId": "w", "side": "SELL",
                             "orderType": "LMT", "price": 101.0},
                            {"cOID": "w-sl", "parentId": "w", "side": "SELL",
                             "orderType": "STP", "price": 97.0})]
        answer = trader.post(f"/iserver/account/{trader.account}/orders",
                             json={"orders": orders}).json()
        parent, tp, sl = (int(a["order_id"]) for a in answer)
        _statuses(ws, {parent: "Submitted", tp: "PreSubmitted", sl: "PreSubmitted"})
        fast.set_price(AAPL, 98.5)
        _statuses(ws, {parent: "Filled", tp: "Submitted"})
        fast.set_price(AAPL, 101.5)
        _statuses(ws, {tp: "Filled", sl: "Cancelled"})
