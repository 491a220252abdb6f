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
