"""Output models of the market-data actions: snapshot, history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from ...common.quote_fields import QuoteNumbers
from .base import _Output

__all__ = ["Bar", "HistoryOutput", "Quote", "SnapshotFailure", "SnapshotOutput"]


class Quote(_Output, QuoteNumbers):
    """One conid of `snapshot` (`GET /iserver/marketdata/snapshot`).

    The requested fields (last, bid, ask, ... or raw field ids) are extra keys holding numbers,
    text or null; bots read them typed: `last`, `bid`, `ask`, `bid_size`, `ask_size`,
    `last_size`, `volume`, `open`, `high`, `low`, `close`, `prior_close`, `change`,
    `change_pct` (float or None) and `availability` (text or None), and a raw field id through
    `model_extra` (e.g. `quote.model_extra["7282"]`).
    """

    conid: int = Field(description="IBKR contract id")
    symbol: str | None = Field(default=None, description="ticker")
    last_is_prior_close: bool = Field(default=False, description="field 31 had the C prefix")
    halted: bool = Field(default=False, description="field 31 had the H prefix")
    delayed: bool | None = Field(default=None, description=(
        "field 6509 says delayed (D, Y) or not (R, Z); null when it did not say"))
    updated: int | None = Field(default=None, description="IBKR's _updated, epoch milliseconds")
    missing: list[str] = Field(default_factory=list, description="fields still absent")

    def _quote_field(self, name: str) -> Any:
        """A requested field by snapshot name; None when absent or not requested."""
        return (self.model_extra or {}).get(name)


class SnapshotFailure(_Output):
    """One symbol or conid `snapshot` could not quote (the error's `to_dict()` plus its key)."""

    symbol: str | None = Field(default=None, description="the symbol that failed")
    conid: int | None = Field(default=None, description="the conid that failed")
    type: str = Field(description="error type, e.g. ContractNotFound, AmbiguousContract")
    message: str = Field(description="what went wrong and the fix")


class SnapshotOutput(_Output):
    """`snapshot`."""

    snapshots: list[Quote] = Field(default_factory=list)
    complete: bool = Field(default=True, description="every requested field arrived")
    attempts: int = Field(default=0, description="snapshot polls made")
    partial: bool = Field(default=False, description="some symbols/conids failed; see errors")
    errors: list[SnapshotFailure] = Field(
        default_factory=list, description="one entry per symbol or conid that could not be quoted"
    )


class Bar(_Output):
    """One history bar; `time` is the bar's start, ISO-8601 UTC."""

    time: datetime = Field(description="ISO-8601 UTC")
    open: float | None = Field(default=None, description="first price of the bar")
    high: float | None = Field(default=None, description="highest price")
    low: float | None = Field(default=None, description="lowest price")
    close: float | None = Field(default=None, description="last price of the bar")
    volume: float | None = Field(default=None, description="shares traded in the bar")


class HistoryOutput(_Output):
    """`history` (`GET /iserver/marketdata/history`)."""

    conid: int = Field(description="IBKR contract id")
    symbol: str | None = Field(default=None, description="ticker")
    period: str = Field(description="IBKR period, e.g. 1d, 1w, 6m")
    bar: str = Field(description="IBKR bar size, e.g. 5min, 1h, 1d")
    outside_rth: bool = Field(
        default=False, description="bars outside regular trading hours included"
    )
    start: datetime | None = Field(default=None, description="IBKR's startTime, ISO-8601 UTC")
    bars: list[Bar] = Field(default_factory=list)
    count: int = Field(default=0, description="number of items")
