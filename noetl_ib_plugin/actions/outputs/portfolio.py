"""Output models of the account actions: get_positions, account_summary, ledger, accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from .base import Number, _Output

__all__ = [
    "AccountInfo",
    "AccountSummaryOutput",
    "AccountsOutput",
    "LedgerCurrency",
    "LedgerOutput",
    "Position",
    "PositionsOutput",
]


class Position(_Output):
    """One position (`GET /portfolio/{accountId}/positions/{pageId}`), numbers as numbers."""

    symbol: str | None = Field(default=None, description="ticker")
    conid: int | None = Field(default=None, description="IBKR contract id")
    position: float | None = Field(default=None, description="shares; negative when short")
    avg_price: float | None = Field(default=None, description="average fill price")
    avg_cost: float | None = Field(default=None, description="average cost per share")
    market_price: float | None = Field(default=None, description="last price IBKR used")
    market_value: float | None = Field(default=None, description="position x market price")
    unrealized_pnl: float | None = Field(default=None, description="unrealized profit and loss")
    realized_pnl: float | None = Field(default=None, description="realized profit and loss")
    currency: str | None = Field(default=None, description="ISO currency code, e.g. USD")
    asset_class: str | None = Field(default=None, description="e.g. STK")
    exchange: str | None = Field(default=None, description="listing exchange, e.g. NASDAQ")
    # Derivatives: market_value and avg_cost include the multiplier, market_price and
    # avg_price are per unit (IBKR's convention).
    sec_type: str | None = Field(default=None, description="security type: STK, OPT, FUT")
    multiplier: float | None = Field(
        default=None, description="contract multiplier (100 for most equity options)")
    expiry: str | None = Field(default=None, description="last trading date YYYYMMDD")
    strike: float | None = Field(default=None, description="option strike price")
    right: str | None = Field(default=None, description="option right: C or P")
    underlying_conid: int | None = Field(default=None, description="the underlying's conid")


class PositionsOutput(_Output):
    """`get_positions`: every page of the account's positions."""

    account_id: str = Field(description="IBKR account id")
    positions: list[Position] = Field(default_factory=list)
    count: int = Field(description="number of items")


class AccountSummaryOutput(_Output):
    """`account_summary` (`GET /portfolio/{accountId}/summary`), amounts in `currency`."""

    account_id: str = Field(description="IBKR account id")
    net_liquidation: Number | None = Field(default=None, description="net liquidation value")
    available_funds: Number | None = Field(default=None, description="available funds")
    buying_power: Number | None = Field(default=None, description="buying power")
    total_cash: Number | None = Field(default=None, description="total cash value")
    settled_cash: Number | None = Field(default=None, description="settled cash")
    excess_liquidity: Number | None = Field(default=None, description="excess liquidity")
    equity_with_loan: Number | None = Field(default=None, description="equity with loan value")
    gross_position_value: Number | None = Field(default=None, description="gross position value")
    init_margin: Number | None = Field(default=None, description="initial margin requirement")
    maint_margin: Number | None = Field(default=None, description="maintenance margin requirement")
    accrued_cash: Number | None = Field(default=None, description="accrued cash")
    cushion: Number | None = Field(
        default=None, description="excess liquidity / net liquidation (fraction)"
    )
    leverage: Number | None = Field(
        default=None, description="gross position value / net liquidation"
    )
    currency: str | None = Field(default=None, description="ISO currency code, e.g. USD")
    values: dict[str, Any] = Field(
        default_factory=dict, description="every summary key IBKR sent: number, text or null"
    )


class LedgerCurrency(_Output):
    """One currency of `GET /portfolio/{accountId}/ledger` (BASE is the base-currency total)."""

    currency: str = Field(description="ISO currency code, e.g. USD")
    cash: float | None = Field(default=None, description="cashbalance")
    settled_cash: float | None = Field(default=None, description="settled cash")
    net_liquidation: float | None = Field(default=None, description="netliquidationvalue")
    stock_market_value: float | None = Field(default=None, description="stock market value")
    unrealized_pnl: float | None = Field(default=None, description="unrealized profit and loss")
    realized_pnl: float | None = Field(default=None, description="realized profit and loss")
    exchange_rate: float | None = Field(default=None, description="to the base currency")
    interest: float | None = Field(default=None, description="accrued interest")
    dividends: float | None = Field(default=None, description="accrued dividends")
    timestamp: datetime | None = Field(default=None, description="as of, ISO-8601 UTC")


class LedgerOutput(_Output):
    """`ledger`: cash balances per currency."""

    account_id: str = Field(description="IBKR account id")
    base_currency: str | None = Field(default=None, description="the account's base currency")
    currencies: list[LedgerCurrency] = Field(default_factory=list)


class AccountInfo(_Output):
    """One tradeable account (`GET /iserver/accounts` + `GET /portfolio/accounts`)."""

    account_id: str = Field(description="IBKR account id")
    paper: bool = Field(description="IBKR's isPaper for an account it lists for this "
                        "credential (the trading guard's rule; never the DU prefix)")
    currency: str | None = Field(default=None, description="base currency")
    type: str | None = Field(default=None, description="IBKR account type, e.g. INDIVIDUAL, DEMO")
    alias: str | None = Field(default=None, description="IBKR account alias")
    title: str | None = Field(default=None, description="account title")
    selected: bool = Field(default=False, description="IBKR's selectedAccount")
    default: bool = Field(default=False, description="the account actions use without account_id")


class AccountsOutput(_Output):
    """`accounts`: what the credential can trade."""

    accounts: list[AccountInfo] = Field(default_factory=list)
    selected_account: str | None = Field(default=None, description="IBKR's selectedAccount")
    default_account: str | None = Field(
        default=None, description="what actions use without account_id"
    )
