"""wait_order and wait_price: a playbook step that waits on IBKR's WebSocket (ibkr-web-api.md
s.12) instead of polling REST, then answers with what IBKR holds.

A step cannot keep a socket across steps, so each wait opens a `StreamClient` over the step's
`IBClient` (same token, brokerage session and pacer), waits for its condition or `timeout`, and
closes it. The stream is built by the host (`Host.stream`, the composition root) and handed in
as `open_stream` (the action is registered with `streams=True`); a wait never builds one
itself. `wait_order` confirms the condition with one REST read (`order_status`); a timeout is
an outcome (`timed_out: true`), not an error.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..client import IBClient
from ..common.quote_fields import FIELD_IDS
from ..errors import OrderNotFound
from ..streaming import (
    OrderEvent,
    QuoteEvent,
    ResyncedEvent,
    StreamClient,
    StreamClosed,
    StreamEvent,
    StreamSettings,
)
from .derivative_parts import DerivativeFields
from .derivatives import contract_fields
from .executions import OrderStatusInput, order_status
from .field_errors import field_error
from .instruments import resolve_instrument
from .models import SecType
from .order_lookup import find_order_by_coid
from .order_states import CAN_FILL, CANCELLED, FILLED, INACTIVE, WORKING
from .outputs.base import load_output, output_json
from .outputs.waits import WaitOrderOutput, WaitPriceOutput

__all__ = ["WaitOrderInput", "WaitPriceInput", "wait_order", "wait_price"]

_CONFIG = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)
#: IBKR statuses after which an order never changes again (a pending cancel can still fill).
DONE = FILLED | INACTIVE | (CANCELLED - CAN_FILL - {"PreCancelled"})
#: The order reached IBKR's book (or already went past it by filling).
REACHED = WORKING | FILLED
_UNTIL: dict[str, Callable[[str | None], bool]] = {
    "filled": lambda s: s in FILLED,
    "done": lambda s: s in DONE,
    "working": lambda s: s in REACHED,
}
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq,
}
_CONDITION = re.compile(r"^\s*([a-z_]+)\s*(>=|<=|==|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")


#: The host's StreamClient factory for the step's client (`Host.stream` bound to it).
StreamOpener = Callable[[StreamSettings], StreamClient]


def _settings(timeout: float) -> StreamSettings:
    """A step's stream deadlines, inside the step's timeout."""
    bound = max(1.0, min(10.0, timeout))
    return StreamSettings(open_timeout=bound, auth_timeout=bound, max_failures=3)


def _events(client: IBClient, stream: StreamClient, deadline: float) -> Iterator[StreamEvent]:
    """The stream's events until `deadline` (the stream's typed error if it stops for good)."""
    while (left := deadline - client.clock()) > 0:
        try:
            event = stream.get(min(left, 1.0))
        except StreamClosed:
            if stream.error is not None:
                raise stream.error from None
            return
        if event is not None:
            yield event


class WaitOrderInput(BaseModel):
    """Wait until an order is filled, done or working (by order_id or client_order_id)."""

    model_config = _CONFIG
    order_id: str | None = Field(default=None, max_length=20, pattern=r"^\d+$",
                                 description="IBKR order id (digits)")
    client_order_id: str | None = Field(default=None, min_length=1, max_length=64,
                                        description="the cOID the order was placed with")
    until: Literal["filled", "done", "working"] = Field(
        default="filled", description="filled; done (Filled, Cancelled or Inactive); working "
        "(PreSubmitted/Submitted, or already filled)")
    timeout: float = Field(default=60.0, gt=0, le=3600, description="seconds to wait at most")

    @field_validator("order_id", mode="before")
    @classmethod
    def _digits(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _one_key(self) -> WaitOrderInput:
        if (self.order_id is None) == (self.client_order_id is None):
            raise ValueError("give exactly one of order_id and client_order_id, e.g. "
                             "order_id=1234567890")
        return self


def _order_id(client: IBClient, inp: WaitOrderInput) -> str:
    """The IBKR order id of the order to wait for."""
    if inp.order_id is not None:
        return inp.order_id
    found = find_order_by_coid(client, str(inp.client_order_id))
    if found is None or not found.get("order_id"):
        raise OrderNotFound(f"IBKR holds no order with client_order_id "
                            f"{inp.client_order_id!r}", order_id="")
    return str(found["order_id"])


def wait_order(client: IBClient, inp: WaitOrderInput, *,
               open_stream: StreamOpener) -> WaitOrderOutput:
    """Wait for the order's `until` condition on the orders stream, confirmed by one REST read.

    Returns `{"order": <order_status output>, "condition_met": bool, "timed_out": bool,
    "until", "waited_seconds", "stream_events"}`; `order` is the state IBKR holds (the last REST
    read). Raises OrderNotFound for an unknown order, the stream's typed errors (AuthError,
    SessionTakenOver) when it cannot stream.
    """
    started = client.clock()
    deadline = started + inp.timeout
    oid = _order_id(client, inp)
    holds = _UNTIL[inp.until]

    def read() -> dict[str, Any]:
        return output_json(order_status(client, OrderStatusInput(order_id=oid)))

    def result(order: dict[str, Any], met: bool, events: int) -> WaitOrderOutput:
        return load_output(WaitOrderOutput, {
            "order": order, "condition_met": met, "timed_out": not met, "until": inp.until,
            "waited_seconds": round(client.clock() - started, 3), "stream_events": events},
            "wait_order")

    order = read()
    if holds(order.get("status")):
        return result(order, True, 0)
    events = 0
    stream = open_stream(_settings(inp.timeout))
    stream.subscribe("orders")
    with stream:
        order = read()  # a change between the first read and the subscription is not missed
        if holds(order.get("status")):
            return result(order, True, 0)
        for event in _events(client, stream, deadline):
            seen: str | None = None
            if isinstance(event, OrderEvent) and str(event.order_id) == oid:
                events += 1
                seen = event.order.get("status")
            elif isinstance(event, ResyncedEvent):
                seen = next((o.get("status") for o in event.orders
                             if str(o.get("orderId")) == oid), None)
            if seen is not None and holds(seen):
                order = read()
                if holds(order.get("status")):
                    return result(order, True, events)
    order = read()
    return result(order, holds(order.get("status")), events)


class WaitPriceInput(DerivativeFields):
    """Wait until a quote meets a condition such as `last >= 190` or `bid <= 185`; the contract
    is named as for place_order (an option or future also by its parts: DerivativeFields)."""

    model_config = _CONFIG
    symbol: str | None = Field(default=None, min_length=1, max_length=32,
                               description="ticker (or give conid)")
    conid: int | None = Field(default=None, gt=0, lt=2**31, description="IBKR contract id")
    exchange: str | None = Field(default=None, max_length=16, description="listing exchange")
    currency: str | None = Field(default=None, max_length=3, description="trading currency")
    sec_type: SecType | None = Field(
        default=None,
        description="security type the contract must have (STK for a symbol when absent; a "
        "bare conid is unchecked when absent); OPT by month/expiry, strike and right, FUT by "
        "month")
    condition: str = Field(description="FIELD OP NUMBER, e.g. 'last >= 190' (fields: last, bid, "
                           "ask, ...; OP one of >=, <=, >, <, ==)")
    timeout: float = Field(default=60.0, gt=0, le=3600, description="seconds to wait at most")

    @field_validator("condition")
    @classmethod
    def _condition(cls, value: str) -> str:
        match = _CONDITION.match(value)
        if match is None or match.group(1) not in FIELD_IDS:
            raise ValueError("must read FIELD OP NUMBER with a snapshot field name, e.g. "
                             "condition='last >= 190'")
        return value

    @model_validator(mode="after")
    def _one_contract(self) -> WaitPriceInput:
        if self.symbol is None and self.conid is None:
            raise field_error("symbol", "give symbol (e.g. AAPL) or conid")
        return self


def _waited_on(client: IBClient, inp: WaitPriceInput) -> tuple[int, dict[str, Any]]:
    """(conid, output fields naming the contract): the one contract the inputs name
    (`resolve_instrument`, as place_order and snapshot), or a bare conid (nothing else asked
    of it) streamed as given without a request (as snapshot's conids; its type and parts
    unknown, so left out); an exchange or currency asked of a conid is checked."""
    if inp.conid is not None and inp.symbol is None and inp.sec_type is None \
            and inp.exchange is None and inp.currency is None:
        return inp.conid, {}
    contract = resolve_instrument(client, symbol=inp.symbol, conid=inp.conid,
                                  exchange=inp.exchange, currency=inp.currency,
                                  sec_type=inp.sec_type or "STK", parts=inp.parts())
    return contract.conid, {**contract_fields(contract), "symbol": contract.symbol or inp.symbol}


def wait_price(client: IBClient, inp: WaitPriceInput, *,
               open_stream: StreamOpener) -> WaitPriceOutput:
    """Stream market data for the named contract until the condition holds; returns
    `{"conid", "symbol", "sec_type", "month", "expiry", "strike", "right", "multiplier",
    "condition", "condition_met", "timed_out", "quote": {fields by name}, "waited_seconds"}`
    (`conid` and the parts: the contract waited on, parts null for a bare conid; `quote`: the
    quote that met the condition, else the last one seen, else null).

    An option or future by its parts resolves as for place_order (`resolve_instrument`): a
    missing or unlisted part is an InputError naming it, a wrong contract ContractMismatch,
    several AmbiguousContract, all before any subscription.
    """
    started = client.clock()
    deadline = started + inp.timeout
    match = _CONDITION.match(inp.condition)
    assert match is not None  # validated
    name, op, number = match.group(1), _OPS[match.group(2)], float(match.group(3))
    conid, named = _waited_on(client, inp)
    last: QuoteEvent | None = None
    met = False
    stream = open_stream(_settings(inp.timeout))
    stream.subscribe_quotes([conid], dict.fromkeys(["last", "bid", "ask", name]))
    with stream:
        for event in _events(client, stream, deadline):
            if isinstance(event, QuoteEvent) and event.conid == conid:
                last = event
                value = event.fields.get(name)
                met = isinstance(value, (int, float)) and op(float(value), number)
                if met:
                    break
    quote = None if last is None else {
        **last.fields, "last_is_prior_close": last.last_is_prior_close, "halted": last.halted,
        "delayed": last.delayed, "updated": last.updated}
    return load_output(WaitPriceOutput, {
        "conid": conid, "symbol": inp.symbol, **named, "condition": inp.condition,
        "condition_met": met, "timed_out": not met, "quote": quote,
        "waited_seconds": round(client.clock() - started, 3)},
        "wait_price")
