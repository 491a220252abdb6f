"""Output models of the order actions: place_order, cancel_order, get_open_orders, order_status, trades."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from .base import _Output

__all__ = [
    "CancelOrderOutput",
    "Execution",
    "OpenOrdersOutput",
    "Order",
    "OrderStatusOutput",
    "PlaceOrderOutput",
    "TradesOutput",
]


class PlaceOrderOutput(_Output):
    """`place_order`: the order IBKR accepted (`POST /iserver/account/{accountId}/orders`)."""

    order_id: str = Field(description="IBKR order id (digits)")
    client_order_id: str | None = Field(default=None, description="cOID sent with the order")
    status: str | None = Field(default=None, description="IBKR order status, e.g. Submitted")
    conid: int | None = Field(default=None, description="IBKR contract id")
    symbol: str | None = None
    exchange: str | None = None
    side: str | None = Field(default=None, description="BUY or SELL")
    quantity: float | None = None
    order_type: str | None = Field(default=None, description="MKT, LMT, STP or STOP_LIMIT")
    limit_price: float | None = None
    stop_price: float | None = None
    tif: str | None = None
    confirmed_message_ids: list[str] = Field(
        default_factory=list, description="IBKR question ids answered yes"
    )
    account_id: str | None = None
    reconciled: bool = Field(
        default=False, description="true when the outcome was read back from live orders"
    )


class CancelOrderOutput(_Output):
    """`cancel_order`: IBKR acknowledged the request (`DELETE /iserver/account/{acct}/order/{id}`)."""

    order_id: str
    status: str = Field(description="cancel_requested: IBKR only acknowledges the request")
    message: str | None = None
    conid: int | None = None
    account_id: str | None = None


class Order(_Output):
    """One order of the day as `GET /iserver/account/orders` lists it, in this package's names."""

    order_id: str
    client_order_id: str | None = None
    account_id: str | None = None
    conid: int | None = None
    symbol: str | None = None
    side: str | None = None
    order_type: str | None = None
    status: str | None = None
    quantity: float | None = None
    filled_quantity: float | None = None
    remaining_quantity: float | None = None
    price: float | None = None
    stop_price: float | None = None
    avg_price: float | None = None
    tif: str | None = None
    exchange: str | None = None
    currency: str | None = None


class OpenOrdersOutput(_Output):
    """`get_open_orders` (`GET /iserver/account/orders`)."""

    account_id: str | None = None
    orders: list[Order] = Field(default_factory=list)
    complete: bool = Field(default=True, description="false when IBKR kept answering pre-flight")


class OrderStatusOutput(_Output):
    """`order_status` (`GET /iserver/account/order/status/{orderId}`)."""

    order_id: str
    client_order_id: str | None = Field(default=None, description="order_ref (the cOID)")
    status: str | None = None
    conid: int | None = None
    symbol: str | None = None
    side: str | None = Field(default=None, description="BUY or SELL")
    order_type: str | None = None
    quantity: float | None = None
    filled_quantity: float | None = None
    remaining_quantity: float | None = None
    avg_price: float | None = None
    limit_price: float | None = None
    stop_price: float | None = None
    tif: str | None = None
    account_id: str | None = None
    description: str | None = None
    can_cancel: bool | None = None
    time: datetime | None = Field(default=None, description="IBKR's order_time, ISO-8601 UTC")


class Execution(_Output):
    """One execution of `GET /iserver/account/trades`."""

    execution_id: str
    order_id: str | None = None
    client_order_id: str | None = Field(default=None, description="order_ref (the cOID)")
    symbol: str | None = None
    conid: int | None = None
    side: str | None = Field(default=None, description="BUY or SELL")
    quantity: float | None = None
    price: float | None = None
    commission: float | None = None
    time: datetime | None = None
    account_id: str | None = None
    exchange: str | None = None


class TradesOutput(_Output):
    """`trades`: recent executions, optionally for one order."""

    trades: list[Execution] = Field(default_factory=list)
    count: int = 0
