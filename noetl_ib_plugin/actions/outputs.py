"""Output models: the one published schema of every action's result.

The runner validates each action's dict with its `Action.output_model` and hands the playbook the
model's JSON dump (`model_dump(mode="json")`): numbers stay numbers, timestamps are ISO-8601 UTC
strings. Every model allows extra fields, so an action may add a field before its model names it.
Field meanings follow IBKR's Web API (the endpoint is named on each model).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "AccountInfo",
    "AccountSummaryOutput",
    "AccountsOutput",
    "AuthStatusOutput",
    "Bar",
    "CancelOrderOutput",
    "Execution",
    "HistoryOutput",
    "LedgerCurrency",
    "LedgerOutput",
    "OpenOrdersOutput",
    "Order",
    "OrderStatusOutput",
    "PlaceOrderOutput",
    "Position",
    "PositionsOutput",
    "Quote",
    "SnapshotOutput",
    "TradesOutput",
    "dump_output",
    "load_output",
]

log = logging.getLogger(__name__)

Number = int | float

# defer_build: a CLI step validates one action's output, so only that model builds its schema.
_OUT = ConfigDict(extra="allow", defer_build=True)


class _Output(BaseModel):
    """Base of every output: unknown fields are kept (forward compatible)."""

    model_config = _OUT


# -- the six original actions -------------------------------------------------------------------


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


class Position(_Output):
    """One position (`GET /portfolio/{accountId}/positions/{pageId}`), numbers as numbers."""

    symbol: str | None = None
    conid: int | None = None
    position: float | None = Field(default=None, description="shares; negative when short")
    avg_price: float | None = None
    avg_cost: float | None = None
    market_price: float | None = None
    market_value: float | None = None
    unrealized_pnl: float | None = None
    realized_pnl: float | None = None
    currency: str | None = None
    asset_class: str | None = None
    exchange: str | None = None


class PositionsOutput(_Output):
    """`get_positions`: every page of the account's positions."""

    account_id: str
    positions: list[Position] = Field(default_factory=list)
    count: int


class AccountSummaryOutput(_Output):
    """`account_summary` (`GET /portfolio/{accountId}/summary`), amounts in `currency`."""

    account_id: str
    net_liquidation: Number | None = None
    available_funds: Number | None = None
    buying_power: Number | None = None
    total_cash: Number | None = None
    settled_cash: Number | None = None
    excess_liquidity: Number | None = None
    equity_with_loan: Number | None = None
    gross_position_value: Number | None = None
    init_margin: Number | None = None
    maint_margin: Number | None = None
    accrued_cash: Number | None = None
    cushion: Number | None = None
    leverage: Number | None = None
    currency: str | None = None
    values: dict[str, Any] = Field(
        default_factory=dict, description="every summary key IBKR sent: number, text or null"
    )


class Quote(_Output):
    """One conid of `snapshot` (`GET /iserver/marketdata/snapshot`).

    The requested fields (last, bid, ask, ... or raw field ids) are extra keys holding numbers,
    text or null.
    """

    conid: int
    symbol: str | None = None
    last_is_prior_close: bool = Field(default=False, description="field 31 had the C prefix")
    halted: bool = Field(default=False, description="field 31 had the H prefix")
    updated: int | None = Field(default=None, description="IBKR's _updated, epoch milliseconds")
    missing: list[str] = Field(default_factory=list, description="fields still absent")

    def value(self, name: str) -> Any:
        """A requested field by name ("last", "bid", ... or a raw id); None when absent."""
        return (self.model_extra or {}).get(name)


class SnapshotOutput(_Output):
    """`snapshot`."""

    snapshots: list[Quote] = Field(default_factory=list)
    complete: bool = True
    attempts: int = 0


# -- the new actions ----------------------------------------------------------------------------


class Bar(_Output):
    """One history bar; `time` is the bar's start, ISO-8601 UTC."""

    time: datetime
    open: float | None = None
    high: float | None = None
    low: float | None = None
    close: float | None = None
    volume: float | None = None


class HistoryOutput(_Output):
    """`history` (`GET /iserver/marketdata/history`)."""

    conid: int
    symbol: str | None = None
    period: str = Field(description="IBKR period, e.g. 1d, 1w, 6m")
    bar: str = Field(description="IBKR bar size, e.g. 5min, 1h, 1d")
    outside_rth: bool = False
    start: datetime | None = Field(default=None, description="IBKR's startTime, ISO-8601 UTC")
    bars: list[Bar] = Field(default_factory=list)
    count: int = 0


class LedgerCurrency(_Output):
    """One currency of `GET /portfolio/{accountId}/ledger` (BASE is the base-currency total)."""

    currency: str
    cash: float | None = Field(default=None, description="cashbalance")
    settled_cash: float | None = None
    net_liquidation: float | None = Field(default=None, description="netliquidationvalue")
    stock_market_value: float | None = None
    unrealized_pnl: float | None = None
    realized_pnl: float | None = None
    exchange_rate: float | None = Field(default=None, description="to the base currency")
    interest: float | None = None
    dividends: float | None = None
    timestamp: datetime | None = None


class LedgerOutput(_Output):
    """`ledger`: cash balances per currency."""

    account_id: str
    base_currency: str | None = None
    currencies: list[LedgerCurrency] = Field(default_factory=list)


class AccountInfo(_Output):
    """One tradeable account (`GET /iserver/accounts` + `GET /portfolio/accounts`)."""

    account_id: str
    paper: bool = Field(description="paper (DU...) or live")
    currency: str | None = Field(default=None, description="base currency")
    type: str | None = Field(default=None, description="IBKR account type, e.g. INDIVIDUAL, DEMO")
    alias: str | None = None
    title: str | None = None
    selected: bool = Field(default=False, description="IBKR's selectedAccount")
    default: bool = Field(default=False, description="the account actions use without account_id")


class AccountsOutput(_Output):
    """`accounts`: what the credential can trade."""

    accounts: list[AccountInfo] = Field(default_factory=list)
    selected_account: str | None = None
    default_account: str | None = None


class AuthStatusOutput(_Output):
    """`auth_status` (`POST /iserver/auth/status`), answered without refreshing a token."""

    authenticated: bool
    connected: bool
    competing: bool = False
    token_valid: bool = Field(description="a cached token is outside its refresh buffer")
    token_expires_in: float | None = Field(default=None, description="seconds")
    session_age: float | None = Field(
        default=None, description="seconds since this package opened the brokerage session"
    )
    message: str | None = None


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


# -- the boundary -------------------------------------------------------------------------------

_M = TypeVar("_M", bound=BaseModel)


def load_output(model: type[_M], result: dict[str, Any], action: str) -> _M:
    """The typed result; a result the model refuses is kept unvalidated (logged), never lost.

    An order IBKR accepted must reach the caller even if its dict grew a surprising field type,
    so a schema mismatch is a logged bug, not an exception after the order was placed.
    """
    try:
        return model.model_validate(result)
    except ValidationError as exc:
        log.error("%s: result does not match %s (%d problems); returned unvalidated",
                  action, model.__name__, exc.error_count())
        return model.model_construct(**result)


def dump_output(model: type[BaseModel] | None, result: dict[str, Any], action: str) -> dict[str, Any]:
    """The JSON dump of the typed result (the raw dict when there is no model or it refuses)."""
    if model is None:
        return result
    try:
        return model.model_validate(result).model_dump(mode="json")
    except ValidationError as exc:
        log.error("%s: result does not match %s (%d problems); returned unvalidated",
                  action, model.__name__, exc.error_count())
        return result
