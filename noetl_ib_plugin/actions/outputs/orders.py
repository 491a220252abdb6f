"""Output models of the order actions: place_order, cancel_order, get_open_orders, order_status, trades."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from .base import _Output
from .contracts import ContractParts

__all__ = [
    "CancelOrderOutput",
    "Execution",
    "ModifyOrderOutput",
    "OpenOrdersOutput",
    "Order",
    "OrderStatusOutput",
    "PlaceOrderOutput",
    "TradesOutput",
]


class PlaceOrderOutput(ContractParts):
    """`place_order`: the order IBKR accepted (`POST /iserver/account/{accountId}/orders`), and
    the contract traded as resolved (ContractParts)."""

    order_id: str = Field(description="IBKR order id (digits)")
    client_order_id: str | None = Field(default=None, description="cOID sent with the order")
    status: str | None = Field(default=None, description="IBKR order status, e.g. Submitted")
    conid: int | None = Field(default=None, description="IBKR contract id")
    symbol: str | None = Field(default=None, description="ticker")
    exchange: str | None = Field(default=None, description="listing exchange, e.g. NASDAQ")
    side: str | None = Field(default=None, description="BUY or SELL")
    quantity: float | None = Field(default=None, description="shares")
    order_type: str | None = Field(default=None, description="MKT, LMT, STP, STOP_LIMIT, TRAIL or TRAILLMT")
    limit_price: float | None = Field(
        default=None, description="limit price, in the contract's currency"
    )
    stop_price: float | None = Field(default=None, description="stop trigger price")
    tif: str | None = Field(default=None, description="time in force, e.g. DAY, GTC")
    filled_quantity: float | None = Field(
        default=None, description="shares filled when read back after placement (order status)"
    )
    avg_price: float | None = Field(default=None, description="average fill price")
    confirmed_message_ids: list[str] = Field(
        default_factory=list, description="IBKR question ids answered yes"
    )
    account_id: str | None = Field(default=None, description="IBKR account id")
    reconciled: bool = Field(
        default=False, description="true when the outcome was read back from live orders"
    )
    trailing_amount: float | None = Field(
        default=None, description="TRAIL/TRAILLMT: how far the stop trails (IBKR trailingAmt)")
    trailing_type: str | None = Field(
        default=None, description="TRAIL/TRAILLMT: 'amt' (currency) or '%' (percent)")
    limit_offset: float | None = Field(
        default=None, description="TRAILLMT: the limit trails the stop by this much")
    cash_quantity: float | None = Field(
        default=None, description="the order's size in currency (IBKR cashQty), when given so")


class ModifyOrderOutput(_Output):
    """`modify_order`: the order as IBKR holds it after the modification, read back with
    `GET /iserver/account/order/status/{orderId}` (`POST /iserver/account/{acct}/order/{id}`)."""

    order_id: str = Field(description="IBKR order id (digits)")
    outcome: str = Field(description="applied, or unchanged (it already held every target "
                         "value: nothing was sent)")
    changed: list[str] = Field(default_factory=list, description="the fields asked for")
    client_order_id: str | None = Field(default=None, description="cOID (IBKR's order_ref)")
    status: str | None = Field(default=None, description="IBKR order status, e.g. Submitted")
    conid: int | None = Field(default=None, description="IBKR contract id")
    symbol: str | None = Field(default=None, description="ticker")
    side: str | None = Field(default=None, description="BUY or SELL")
    order_type: str | None = Field(default=None, description="LMT, STP, TRAIL, ...")
    quantity: float | None = Field(default=None, description="total quantity, filled included")
    filled_quantity: float | None = Field(default=None, description="shares filled so far")
    remaining_quantity: float | None = Field(default=None, description="shares still working")
    avg_price: float | None = Field(default=None, description="average fill price")
    limit_price: float | None = Field(default=None, description="limit price")
    stop_price: float | None = Field(default=None, description="stop trigger price (a trailing "
                                     "stop's present stop)")
    tif: str | None = Field(default=None, description="time in force, e.g. DAY, GTC")
    trailing_amount: float | None = Field(default=None, description="TRAIL/TRAILLMT amount")
    trailing_type: str | None = Field(default=None, description="'amt' or '%'")
    limit_offset: float | None = Field(default=None, description="TRAILLMT limit offset")
    cash_quantity: float | None = Field(default=None, description="IBKR cashQty, when sized so")
    account_id: str | None = Field(default=None, description="IBKR account id")
    confirmed_message_ids: list[str] = Field(default_factory=list,
                                             description="IBKR question ids answered yes")
    reconciled: bool = Field(default=False, description="decided by reading the order back "
                             "after a lost answer")
    resent: bool = Field(default=False, description="sent a second time after the order showed "
                         "its old values (target values: never applied twice)")
    read_back: bool = Field(default=True, description="false when reading the order back "
                            "failed: values are IBKR's accept plus the targets")


class CancelOrderOutput(_Output):
    """`cancel_order`: IBKR acknowledged the request (`DELETE /iserver/account/{acct}/order/{id}`)."""

    order_id: str = Field(description="IBKR order id (digits)")
    status: str = Field(description="cancel_requested: IBKR only acknowledges the request")
    message: str | None = Field(default=None, description="IBKR's message")
    conid: int | None = Field(default=None, description="IBKR contract id")
    account_id: str | None = Field(default=None, description="IBKR account id")


class Order(_Output):
    """One order of the day as `GET /iserver/account/orders` lists it, in this package's names."""

    order_id: str = Field(description="IBKR order id (digits)")
    client_order_id: str | None = Field(default=None, description="cOID (IBKR's order_ref)")
    account_id: str | None = Field(default=None, description="IBKR account id")
    conid: int | None = Field(default=None, description="IBKR contract id")
    symbol: str | None = Field(default=None, description="ticker")
    side: str | None = Field(default=None, description="BUY or SELL")
    order_type: str | None = Field(default=None, description="MKT, LMT, STP, STOP_LIMIT, TRAIL or TRAILLMT")
    status: str | None = Field(
        default=None, description="IBKR status: PreSubmitted, Submitted, Filled, Cancelled, Inactive, ..."
    )
    quantity: float | None = Field(default=None, description="shares")
    filled_quantity: float | None = Field(default=None, description="shares filled so far")
    remaining_quantity: float | None = Field(default=None, description="shares still working")
    price: float | None = Field(default=None, description="price, in the contract's currency")
    stop_price: float | None = Field(default=None, description="stop trigger price")
    avg_price: float | None = Field(default=None, description="average fill price")
    tif: str | None = Field(default=None, description="time in force, e.g. DAY, GTC")
    exchange: str | None = Field(default=None, description="listing exchange, e.g. NASDAQ")
    currency: str | None = Field(default=None, description="ISO currency code, e.g. USD")
    trailing_amount: float | None = Field(
        default=None, description="TRAIL/TRAILLMT: how far the stop trails (IBKR trailingAmt)")
    trailing_type: str | None = Field(
        default=None, description="TRAIL/TRAILLMT: 'amt' (currency) or '%' (percent)")
    limit_offset: float | None = Field(
        default=None, description="TRAILLMT: the limit trails the stop by this much")
    cash_quantity: float | None = Field(
        default=None, description="the order's size in currency (IBKR cashQty), when given so")


class OpenOrdersOutput(_Output):
    """`get_open_orders` (`GET /iserver/account/orders`)."""

    account_id: str | None = Field(default=None, description="IBKR account id")
    orders: list[Order] = Field(default_factory=list)
    complete: bool = Field(default=True, description=(
        "false when IBKR kept answering pre-flight or answered for another account: the list "
        "may miss orders"))


class OrderStatusOutput(_Output):
    """`order_status` (`GET /iserver/account/order/status/{orderId}`)."""

    order_id: str = Field(description="IBKR order id (digits)")
    client_order_id: str | None = Field(default=None, description="order_ref (the cOID)")
    status: str | None = Field(
        default=None, description="IBKR status: PreSubmitted, Submitted, Filled, Cancelled, Inactive, ..."
    )
    conid: int | None = Field(default=None, description="IBKR contract id")
    symbol: str | None = Field(default=None, description="ticker")
    side: str | None = Field(default=None, description="BUY or SELL")
    order_type: str | None = Field(default=None, description="MKT, LMT, STP, STOP_LIMIT, TRAIL or TRAILLMT")
    quantity: float | None = Field(default=None, description="shares")
    filled_quantity: float | None = Field(default=None, description="shares filled so far")
    remaining_quantity: float | None = Field(default=None, description="shares still working")
    avg_price: float | None = Field(default=None, description="average fill price")
    limit_price: float | None = Field(
        default=None, description="limit price, in the contract's currency"
    )
    stop_price: float | None = Field(default=None, description="stop trigger price")
    tif: str | None = Field(default=None, description="time in force, e.g. DAY, GTC")
    account_id: str | None = Field(default=None, description="IBKR account id")
    description: str | None = Field(default=None, description="IBKR's order description")
    can_cancel: bool | None = Field(default=None, description="IBKR would accept a cancel")
    time: datetime | None = Field(default=None, description="IBKR's order_time, ISO-8601 UTC")
    trailing_amount: float | None = Field(
        default=None, description="TRAIL/TRAILLMT: how far the stop trails (IBKR trailingAmt)")
    trailing_type: str | None = Field(
        default=None, description="TRAIL/TRAILLMT: 'amt' (currency) or '%' (percent)")
    limit_offset: float | None = Field(
        default=None, description="TRAILLMT: the limit trails the stop by this much")
    cash_quantity: float | None = Field(
        default=None, description="the order's size in currency (IBKR cashQty), when given so")


class Execution(_Output):
    """One execution of `GET /iserver/account/trades`."""

    execution_id: str = Field(description="IBKR execution id")
    order_id: str | None = Field(default=None, description="IBKR order id (digits)")
    client_order_id: str | None = Field(default=None, description="order_ref (the cOID)")
    symbol: str | None = Field(default=None, description="ticker")
    conid: int | None = Field(default=None, description="IBKR contract id")
    side: str | None = Field(default=None, description="BUY or SELL")
    quantity: float | None = Field(default=None, description="shares")
    price: float | None = Field(default=None, description="price, in the contract's currency")
    commission: float | None = Field(default=None, description="commission charged")
    time: datetime | None = Field(default=None, description="ISO-8601 UTC")
    account_id: str | None = Field(default=None, description="IBKR account id")
    exchange: str | None = Field(default=None, description="listing exchange, e.g. NASDAQ")


class TradesOutput(_Output):
    """`trades`: recent executions, optionally for one order."""

    trades: list[Execution] = Field(default_factory=list)
    count: int = Field(default=0, description="number of items")
