"""Output model of preview_order (IBKR's what-if: `POST /iserver/account/{accountId}/orders/whatif`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .base import _Output

__all__ = ["PreviewChange", "PreviewOrderOutput"]


class PreviewChange(_Output):
    """One figure of the preview before the order, its change, and after it (IBKR's
    `current`/`change`/`after`); null where IBKR's text is not a single number."""

    current: float | None = Field(default=None, description="before the order")
    change: float | None = Field(default=None, description="what the order changes")
    after: float | None = Field(default=None, description="after the order")


class PreviewOrderOutput(_Output):
    """`preview_order`: what placing the order would do; nothing was placed.

    Order amounts (`amount`, `commission`, `total`) are in `currency`, the currency IBKR's
    amount text names (the contract's); `equity`, `initial_margin` and `maintenance_margin` are
    in the account's base currency (IBKR's what-if texts carry no currency for them).
    """

    account_id: str = Field(description="IBKR account id")
    conid: int | None = Field(default=None, description="IBKR contract id previewed")
    symbol: str | None = Field(default=None, description="ticker")
    side: str | None = Field(default=None, description="BUY or SELL")
    quantity: float | None = Field(default=None, description="shares (contracts)")
    order_type: str | None = Field(default=None, description="MKT, LMT, STP or STOP_LIMIT")
    limit_price: float | None = Field(default=None, description="limit price, in the "
                                      "contract's currency")
    stop_price: float | None = Field(default=None, description="stop trigger price")
    tif: str | None = Field(default=None, description="time in force, e.g. DAY, GTC")
    currency: str | None = Field(default=None, description="ISO currency code IBKR's amount "
                                 "text names, e.g. USD")
    amount: float | None = Field(default=None, description="order value (quantity x price), "
                                 "in `currency`")
    commission: float | None = Field(default=None, description="estimated commission, in "
                                     "`currency`")
    total: float | None = Field(default=None, description="amount plus commission, in "
                                "`currency`")
    equity: PreviewChange = Field(default_factory=PreviewChange, description=(
        "equity with loan value, in the account's base currency"))
    initial_margin: PreviewChange = Field(default_factory=PreviewChange, description=(
        "initial margin requirement, in the account's base currency"))
    maintenance_margin: PreviewChange = Field(default_factory=PreviewChange, description=(
        "maintenance margin requirement, in the account's base currency"))
    position: PreviewChange = Field(default_factory=PreviewChange, description=(
        "position in the contract, shares (contracts)"))
    warnings: list[str] = Field(default_factory=list, description=(
        "IBKR's warning texts (`warn`) and the texts of questions it asked"))
    question_ids: list[str] = Field(default_factory=list, description=(
        "ids of questions IBKR asked instead of previewing (e.g. o163): place_order needs them "
        "confirmed; the preview never answers them, so its figures are null"))
    placed: bool = Field(default=False, description="always false: a preview places nothing")
    texts: dict[str, Any] = Field(default_factory=dict, description=(
        "IBKR's answer as it came (texts such as '1,000.00 USD (10 Shares)'), for a figure "
        "this model could not read as one number"))
