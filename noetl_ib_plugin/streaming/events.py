"""Typed stream events (IBKR's WebSocket topics, ibkr-web-api.md s.12), each with its receive time."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..common.quote_fields import (
    AVAILABILITY,
    NAME_BY_ID,
    QuoteNumbers,
    as_int,
    is_delayed,
    parse_snapshot_field,
)

__all__ = [
    "ErrorEvent",
    "OrderEvent",
    "PnlEvent",
    "QuoteEvent",
    "ResyncedEvent",
    "StatusEvent",
    "StreamEvent",
    "SystemEvent",
    "TradeEvent",
    "quote_from_fields",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class StreamEvent(BaseModel):
    """Base of every event: `topic` (the event's kind) and `received_at` (epoch seconds)."""

    model_config = _FROZEN
    topic: str
    received_at: float


class SystemEvent(StreamEvent):
    """`system`: the greeting (`username`) after the socket opens."""

    topic: Literal["system"] = "system"
    username: str = ""


class StatusEvent(StreamEvent):
    """`sts`: whether the brokerage session behind the socket is authenticated or competing."""

    topic: Literal["sts"] = "sts"
    authenticated: bool
    competing: bool = False
    message: str = ""


class QuoteEvent(StreamEvent, QuoteNumbers):
    """`smd`: the merged quote of one conid after this message (fields by snapshot name, typed by
    the snapshot parser: numbers as numbers, `last_is_prior_close`/`halted` from 31's prefix,
    `delayed` from 6509). `changed` names the fields this message carried; `merged` counts the
    messages conflated into this event while the consumer was not reading (0: none). Typed
    fields as the snapshot's Quote: `last`, `bid`, `ask`, sizes, `volume`, ... (float or None),
    `availability`; ids without a name stay in `fields` by id."""

    topic: Literal["quote"] = "quote"
    conid: int
    fields: dict[str, Any]
    changed: list[str]
    last_is_prior_close: bool = False
    halted: bool = False
    delayed: bool | None = None
    updated: int | None = None
    merged: int = 0

    def _quote_field(self, name: str) -> Any:
        """A field by snapshot name; None when the stream has not sent it."""
        return self.fields.get(name)


class OrderEvent(StreamEvent):
    """`sor`: one order's full state as IBKR holds it (IBKR's field names; updates merged into
    what the stream and the last resync said), `changed` the fields this message carried."""

    topic: Literal["order"] = "order"
    order_id: int
    order: dict[str, Any]
    changed: list[str]


class TradeEvent(StreamEvent):
    """`str`: one execution (fields as `/iserver/account/trades`)."""

    topic: Literal["trade"] = "trade"
    trade: dict[str, Any]


class PnlEvent(StreamEvent):
    """`spl`: P&L rows by `<account>.Core` (`dpl` daily, `upl` unrealised, `nl` net liquidation)."""

    topic: Literal["pnl"] = "pnl"
    rows: dict[str, Any]


class ResyncedEvent(StreamEvent):
    """After a reconnect: the live orders one REST read found (the stream may have missed
    changes while it was down; these orders are now the merged state)."""

    topic: Literal["resynced"] = "resynced"
    orders: list[dict[str, Any]] = Field(default_factory=list)
    reconnects: int = 0


class ErrorEvent(StreamEvent):
    """Something the stream met and went on from: IBKR's `error` topic, a malformed frame, a
    replaced stale socket, a reconnect (`kind` says which; `message` never holds a secret)."""

    topic: Literal["error"] = "error"
    kind: str
    message: str


def quote_from_fields(conid: int, raw: dict[str, Any], changed: list[str],
                      received_at: float, merged: int = 0) -> QuoteEvent:
    """A QuoteEvent from IBKR's merged raw fields (ids as keys), parsed as `snapshot` parses."""
    fields: dict[str, Any] = {}
    prior = halted = False
    for fid, value in raw.items():
        if not fid.isdigit() or value is None or value == "":
            continue
        parsed = parse_snapshot_field(fid, value)
        fields[NAME_BY_ID.get(fid, fid)] = parsed.value
        if fid == "31":
            prior = parsed.prior_close
        halted = halted or parsed.halted
    # Built from values this function typed itself: no second validation on the hot path.
    return QuoteEvent.model_construct(
        topic="quote", conid=conid, fields=fields,
        changed=[NAME_BY_ID.get(f, f) for f in changed if f.isdigit()],
        last_is_prior_close=prior, halted=halted, delayed=is_delayed(raw.get(AVAILABILITY)),
        updated=as_int(raw.get("_updated")), received_at=received_at, merged=merged)
