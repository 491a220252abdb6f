"""Output models of the group placements: place_bracket and place_oca (one POST, several legs)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import _Output

__all__ = ["OrderGroupOutput", "OrderLeg"]

#: How a leg ended: IBKR holds it working/filled (placed), holds it Inactive (not working),
#: does not hold it (refused, proven by IBKR's answer and a complete cOID lookup), or unknown.
LegOutcome = Literal["placed", "inactive", "refused", "unknown"]


class OrderLeg(_Output):
    """One leg of a bracket or OCA group as IBKR holds it (`POST /iserver/account/{acct}/orders`)."""

    role: str = Field(description="parent, take_profit, stop_loss, or oca (an OCA member)")
    outcome: LegOutcome = Field(description="placed, inactive, refused or unknown")
    client_order_id: str = Field(description="the leg's own cOID (IBKR's order_ref)")
    parent_client_order_id: str | None = Field(
        default=None, description="the parent's cOID (IBKR's parentId) for a bracket child")
    order_id: str | None = Field(default=None, description="IBKR order id (digits) when held")
    status: str | None = Field(
        default=None, description="IBKR status, e.g. PreSubmitted (a child held until the "
        "parent fills), Submitted, Filled, Inactive")
    conid: int | None = Field(default=None, description="IBKR contract id")
    symbol: str | None = Field(default=None, description="ticker")
    side: str | None = Field(default=None, description="BUY or SELL")
    quantity: float | None = Field(default=None, description="shares")
    order_type: str | None = Field(default=None, description="MKT, LMT, STP or STOP_LIMIT")
    limit_price: float | None = Field(default=None, description="limit price")
    stop_price: float | None = Field(default=None, description="stop trigger price")
    tif: str | None = Field(default=None, description="time in force")
    filled_quantity: float | None = Field(default=None, description="shares filled when read back")
    avg_price: float | None = Field(default=None, description="average fill price")
    reason: str | None = Field(default=None, description="IBKR's text for a refused or Inactive leg")
    reconciled: bool = Field(
        default=False, description="true when found by its cOID after a lost or unclear answer")


class OrderGroupOutput(_Output):
    """`place_bracket` / `place_oca`: every leg IBKR accepted, in the order sent."""

    group_type: Literal["bracket", "oca"] = Field(description="bracket or oca")
    client_order_id: str = Field(
        description="the group's key: the parent's cOID (bracket) or the OCA group's key; each "
        "leg's cOID is derived from it unless given")
    account_id: str = Field(description="IBKR account id")
    legs: list[OrderLeg] = Field(description="one entry per leg, in the order sent")
    confirmed_message_ids: list[str] = Field(
        default_factory=list, description="IBKR question ids answered yes")

    @property
    def order_id(self) -> str | None:
        """The first leg's IBKR order id (the parent's, for a bracket)."""
        return self.legs[0].order_id if self.legs else None
