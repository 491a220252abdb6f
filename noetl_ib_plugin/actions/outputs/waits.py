"""Output models of the streaming waits: wait_order and wait_price (IBKR's WebSocket, s.12)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .base import _Output
from .contracts import ContractParts
from .orders import OrderStatusOutput

__all__ = ["WaitOrderOutput", "WaitPriceOutput"]


class WaitOrderOutput(_Output):
    """`wait_order`: the order as IBKR holds it when the wait ended (one REST read)."""

    order: OrderStatusOutput = Field(description="`order_status` of the order at the end")
    condition_met: bool = Field(description="the `until` condition held (confirmed by REST)")
    timed_out: bool = Field(description="the timeout passed first (an outcome, not an error)")
    until: str = Field(description="filled, done or working")
    waited_seconds: float = Field(description="seconds the step waited")
    stream_events: int = Field(default=0, description="order updates the stream delivered")


class WaitPriceOutput(ContractParts):
    """`wait_price`: the quote that met the condition (or the last one seen), and the contract
    waited on as resolved (ContractParts; null for a bare conid, streamed unchecked)."""

    conid: int = Field(description="IBKR contract id")
    symbol: str | None = Field(default=None, description="ticker")
    condition: str = Field(description="the condition, e.g. 'last >= 190'")
    condition_met: bool = Field(description="a quote met the condition")
    timed_out: bool = Field(description="the timeout passed first (an outcome, not an error)")
    quote: dict[str, Any] | None = Field(
        default=None, description="fields by snapshot name plus last_is_prior_close, halted, "
        "delayed, updated; null when no quote arrived")
    waited_seconds: float = Field(description="seconds the step waited")
