"""Output model of get_pnl (`GET /iserver/account/pnl/partitioned`)."""

from __future__ import annotations

from pydantic import Field

from .base import _Output

__all__ = ["PnlOutput"]


class PnlOutput(_Output):
    """`get_pnl`: the account's profit and loss as IBKR's `upnl["<account>.Core"]` row gives it,
    amounts in the account's base currency (IBKR's row names none). Only the account asked for:
    another account's row is never read as this one's."""

    account_id: str = Field(description="IBKR account id")
    daily_pnl: float | None = Field(default=None, description="P&L since the previous close "
                                    "(IBKR's dpl)")
    unrealized_pnl: float | None = Field(default=None, description="unrealized P&L of open "
                                         "positions (IBKR's upl)")
    net_liquidation: float | None = Field(default=None, description="net liquidation value "
                                          "(IBKR's nl)")
    excess_liquidity: float | None = Field(default=None, description="excess liquidity "
                                           "(IBKR's el)")
    values: dict[str, float | None] = Field(default_factory=dict, description=(
        "every numeric key of IBKR's row (dpl, upl, nl, uel, el, mv, ...) as it came"))
