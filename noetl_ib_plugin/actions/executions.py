"""order_status and trades: what happened to an order, so a playbook can confirm a fill.

Sources: `GET /iserver/account/order/status/{orderId}` (one order, any state) and
`GET /iserver/account/trades` (the account's executions of the last days, paced 1 per 5 s).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..client import IBClient
from ..common.quote_fields import as_float, as_int
from ..credentials.urls import path_segment
from ..errors import BrokerError, OrderNotFound
from .account_scope import another_account, entries_of
from .history import epoch_iso, iso_utc
from .models import _not_bool
from .order_states import order_type_name
from .outputs.base import load_output
from .outputs.orders import OrderStatusOutput, TradesOutput

__all__ = ["OrderStatusInput", "TradesInput", "order_status", "trades"]

#: IBKR's words for an order id it does not know ("OrderID 1 doesn't exist"); no code exists.
_UNKNOWN_ORDER = re.compile(r"\bdoes(?:n't| not) exist\b|\bnot found\b", re.IGNORECASE)

_SIDES = {"B": "BUY", "BUY": "BUY", "BOT": "BUY", "S": "SELL", "SELL": "SELL", "SLD": "SELL"}


def _side(value: Any) -> str | None:
    return _SIDES.get(str(value).upper(), str(value)) if value else None


def _digits(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class OrderStatusInput(BaseModel):
    """One order by IBKR order id."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    order_id: str = Field(min_length=1, max_length=20, pattern=r"^\d+$",
                          description="IBKR order id (digits)")

    @field_validator("order_id", mode="before")
    @classmethod
    def _str(cls, value: Any) -> Any:
        return _digits(value)


class TradesInput(BaseModel):
    """Recent executions, optionally only those of one order (by order_id or client_order_id)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    days: int = Field(default=1, ge=1, le=7, description="how many days back (IBKR: up to 7)")
    order_id: str | None = Field(default=None, max_length=20, pattern=r"^\d+$",
                                 description="only executions of this IBKR order id")
    client_order_id: str | None = Field(default=None, min_length=1, max_length=64,
                                        description="only executions of this cOID (order_ref)")

    @field_validator("order_id", mode="before")
    @classmethod
    def _str(cls, value: Any) -> Any:
        return _digits(value)

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> Any:
        return _not_bool(value, whole=True)


def order_status(client: IBClient, inp: OrderStatusInput) -> OrderStatusOutput:
    """The order's state (`GET /iserver/account/order/status/{orderId}`).

    Raises OrderNotFound (field order_id, exit 4) when IBKR says the id does not exist for the
    account, BrokerError for any other refusal.
    """
    status: int | None = 200
    try:
        body = client.get(f"/iserver/account/order/status/{path_segment(inp.order_id)}")
    except BrokerError as exc:
        if exc.status not in (400, 404, 500) or type(exc) is not BrokerError:
            raise
        body, status = {"error": exc.message}, exc.status
    if not isinstance(body, dict) or body.get("error"):
        detail = body.get("error") if isinstance(body, dict) else str(body)[:200]
        if isinstance(detail, str) and _UNKNOWN_ORDER.search(detail):
            raise OrderNotFound(f"IBKR knows no order {inp.order_id}: {detail[:200]}",
                                order_id=inp.order_id, status=status)
        raise BrokerError(
            f"order {inp.order_id} status unavailable: {detail}",
            field="order_id",
            fix="use an order_id from place_order or get_open_orders.",
        )
    total = as_float(body.get("total_size"))
    filled = as_float(body.get("cum_fill"))
    remaining = as_float(body.get("size"))
    if remaining is None and total is not None and filled is not None:
        remaining = total - filled
    cannot_cancel = body.get("cannot_cancel_order")
    placed = _order_time(body.get("order_time"))
    return load_output(OrderStatusOutput, {
        "order_id": str(body.get("order_id") or inp.order_id),
        "client_order_id": body.get("order_ref") or None,
        "status": body.get("order_status"),
        "conid": as_int(body.get("conid")),
        "symbol": body.get("symbol"),
        "side": _side(body.get("side")),
        "order_type": order_type_name(body.get("order_type") or body.get("orderType")),
        "quantity": total,
        "filled_quantity": filled,
        "remaining_quantity": remaining,
        "avg_price": as_float(body.get("average_price")),
        "limit_price": as_float(body.get("limit_price")),
        "stop_price": as_float(body.get("stop_price")),
        "tif": body.get("tif"),
        "account_id": body.get("account"),
        "description": body.get("order_description"),
        "can_cancel": None if cannot_cancel is None else not bool(cannot_cancel),
        "time": placed,
        "trailing_amount": as_float(body.get("trailing_amount")),
        "trailing_type": body.get("trailing_type") or None,
        "limit_offset": as_float(body.get("limit_offset")),
        "cash_quantity": as_float(body.get("cash_quantity")),
    }, "order_status")


def _order_time(text: Any) -> str | None:
    """IBKR's `order_time` ("231211180049": yyMMddHHmmss, UTC) as ISO-8601 UTC."""
    if not isinstance(text, str):
        return None
    try:
        return iso_utc(datetime.strptime(text, "%y%m%d%H%M%S").replace(tzinfo=UTC))
    except ValueError:
        return None


def _execution(item: dict[str, Any]) -> dict[str, Any]:
    """One execution in this package's names; `time` from `trade_time_r` (epoch ms)."""
    stamp = as_int(item.get("trade_time_r"))
    when = epoch_iso(stamp / 1000) if stamp else None
    order_id = item.get("order_id")
    return {
        "execution_id": str(item.get("execution_id") or ""),
        "order_id": str(order_id) if order_id not in (None, "") else None,
        "client_order_id": item.get("order_ref") or None,
        "symbol": item.get("symbol"),
        "conid": as_int(item.get("conid")),
        "side": _side(item.get("side")),
        "quantity": as_float(item.get("size")),
        "price": as_float(item.get("price")),
        "commission": as_float(item.get("commission")),
        "time": when,
        "account_id": item.get("account") or item.get("accountCode"),
        "exchange": item.get("exchange"),
    }


def trades(client: IBClient, inp: TradesInput) -> TradesOutput:
    """Executions of the client's account (asked with `accountId`), newest first, filtered by
    order when asked. BrokerError when IBKR answers with another account's executions."""
    account = client.account_id
    params = {"accountId": account, **({"days": str(inp.days)} if inp.days != 1 else {})}
    body = client.get("/iserver/account/trades", params=params)
    if isinstance(body, dict) and body.get("error"):
        raise BrokerError(f"listing trades failed: {body['error']}")
    mine, honest = entries_of(body if isinstance(body, list) else [], account)
    if not honest:
        raise another_account(f"GET /iserver/account/trades?accountId={account}", account,
                              "executions")
    items = [_execution(i) for i in mine]
    if inp.order_id is not None:
        items = [t for t in items if t["order_id"] == inp.order_id]
    if inp.client_order_id is not None:
        items = [t for t in items if t["client_order_id"] == inp.client_order_id]
    items.sort(key=lambda t: t["time"] or "", reverse=True)
    return load_output(TradesOutput, {"trades": items, "count": len(items)}, "trades")
