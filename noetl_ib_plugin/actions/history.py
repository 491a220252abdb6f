"""The history action: `GET /iserver/marketdata/history` bars as numbers with ISO-8601 UTC times.

IBKR allows at most 5 concurrent history requests per username (Web API pacing): every process
and thread using one credential whose token cache is on disk shares 5 slot files
(client/history_slots.py); with an in-memory cache the threads of one process share a gate of 5.
Waiting for a slot times out.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ..client import IBClient
from ..client.history_slots import history_slot
from ..client.lookups import HISTORY_CONCURRENCY
from ..common.quote_fields import as_float, as_int
from ..errors import BrokerError, TransientError
from .derivative_parts import DerivativeFields
from .field_errors import field_error
from .instruments import resolve_instrument
from .models import MAX_CONID, SEC_TYPE_PATTERN
from .outputs.base import load_output
from .outputs.marketdata import HistoryOutput

__all__ = [
    "HISTORY_CONCURRENCY",
    "HistoryInput",
    "epoch_iso",
    "history",
    "iso_utc",
    "parse_start_time",
]

#: Seconds a request waits for one of the 5 slots before giving up.
GATE_TIMEOUT = 120.0

# IBKR's period and bar grammars: {1-30}min, {1-8}h, {1-1000}d, {1-792}w, {1-182}m, {1-15}y.
_PERIOD_LIMITS = {"min": 30, "h": 8, "d": 1000, "w": 792, "m": 182, "y": 15}
_BARS = ("1min", "2min", "3min", "5min", "10min", "15min", "30min",
         "1h", "2h", "3h", "4h", "8h", "1d", "1w", "1m")
_PERIOD = re.compile(r"^(\d+)(min|h|d|w|m|y)$")


class HistoryInput(DerivativeFields):
    """Bars for one contract: `symbol` or `conid` (an option or future also by its parts), a
    period and a bar size in IBKR's notation."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    symbol: str | None = Field(default=None, min_length=1, max_length=32, description="ticker")
    conid: int | None = Field(default=None, gt=0, le=MAX_CONID, description="IBKR contract id")
    period: str = Field(default="1d", description="how far back: 1-30min, 1-8h, 1-1000d, 1-792w, "
                        "1-182m (months), 1-15y")
    bar: str = Field(default="5min", description=f"bar size: {', '.join(_BARS)}")
    outside_rth: bool = Field(default=False, description="include bars outside regular hours")
    exchange: str | None = Field(default=None, description="listing exchange filter for symbol")
    currency: str | None = Field(default=None, description="currency filter for symbol")
    sec_type: str | None = Field(
        default=None, min_length=1, max_length=8, pattern=SEC_TYPE_PATTERN,
        description="security type the contract must have (symbol: STK when absent); OPT/FUT "
        "with month, strike, right")

    @field_validator("conid", mode="before")
    @classmethod
    def _conid(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError("bool_not_number", "must be a number, not a boolean")
        return value

    @field_validator("period", mode="after")
    @classmethod
    def _period(cls, value: str) -> str:
        text = value.lower()
        found = _PERIOD.match(text)
        if not found or not 1 <= int(found.group(1)) <= _PERIOD_LIMITS[found.group(2)]:
            raise PydanticCustomError(
                "period", "'{value}' is not an IBKR period; use e.g. 30min, 8h, 5d, 2w, 6m or 1y",
                {"value": value[:20]},
            )
        return text

    @field_validator("bar", mode="after")
    @classmethod
    def _bar(cls, value: str) -> str:
        text = value.lower().replace("mins", "min").replace("hours", "h").replace("hour", "h")
        if text not in _BARS:
            raise PydanticCustomError(
                "bar", "'{value}' is not an IBKR bar size; use one of {known}",
                {"value": value[:20], "known": ", ".join(_BARS)},
            )
        return text

    @field_validator("symbol", "exchange", "currency", "sec_type", mode="after")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else value

    @model_validator(mode="after")
    def _contract(self) -> HistoryInput:
        if self.symbol is None and self.conid is None:
            raise field_error("symbol", "give symbol (e.g. AAPL) or conid")
        return self


def parse_start_time(text: Any) -> datetime | None:
    """IBKR's `startTime` ("20231211-04:00:00", UTC) as an aware datetime; None if unreadable."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.strptime(text, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def iso_utc(when: datetime | None) -> str | None:
    """ISO-8601 UTC with a `Z`, as the output models dump it."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when is not None else None


def epoch_iso(seconds: float) -> str | None:
    """Epoch seconds from IBKR as ISO-8601 UTC; None when no calendar holds them (a broker's garbage)."""
    try:
        return iso_utc(datetime.fromtimestamp(seconds, tz=UTC))
    except (OverflowError, OSError, ValueError):
        return None


def _bar(item: dict[str, Any]) -> dict[str, Any] | None:
    """One bar `{t (epoch ms), o, h, l, c, v}` in this package's names; None without a time."""
    stamp = as_int(item.get("t"))
    when = epoch_iso(stamp / 1000) if stamp is not None else None
    if when is None:
        return None
    return {
        "time": when,
        "open": as_float(item.get("o")),
        "high": as_float(item.get("h")),
        "low": as_float(item.get("l")),
        "close": as_float(item.get("c")),
        "volume": as_float(item.get("v")),
    }


def history(client: IBClient, inp: HistoryInput) -> HistoryOutput:
    """Bars oldest first; raises BrokerError when IBKR answers with an error."""
    symbol = inp.symbol
    conid = inp.conid
    if conid is None or symbol is not None or inp.exchange or inp.currency or inp.sec_type:
        # A symbol given with a conid must name that conid: bars of one contract under another's
        # name would be wrong data.
        contract = resolve_instrument(
            client, symbol=inp.symbol, conid=conid, exchange=inp.exchange, currency=inp.currency,
            sec_type=inp.sec_type or "STK", parts=inp.parts(),
        )
        conid, symbol = contract.conid, contract.symbol or inp.symbol
    params = {"conid": str(conid), "period": inp.period, "bar": inp.bar,
              "outsideRth": "true" if inp.outside_rth else "false"}
    if client.state_dir is not None:
        # Processes sharing the token cache share the 5 slots too (IBKR counts per username).
        with history_slot(client.state_dir, client.provider.cache_key,
                          slots=HISTORY_CONCURRENCY, timeout=GATE_TIMEOUT):
            body = client.get("/iserver/marketdata/history", params=params)
    else:
        gate = client.history_gate
        if not gate.acquire(timeout=GATE_TIMEOUT):
            raise TransientError(
                f"no history slot free after {GATE_TIMEOUT:.0f}s (IBKR allows "
                f"{HISTORY_CONCURRENCY} concurrent history requests)",
                fix="request fewer histories at once, or retry later.",
            )
        try:
            body = client.get("/iserver/marketdata/history", params=params)
        finally:
            gate.release()
    if not isinstance(body, dict) or body.get("error"):
        detail = body.get("error") if isinstance(body, dict) else str(body)[:200]
        raise BrokerError(f"market data history for conid {conid} failed: {detail}",
                          field="conid", fix="check the conid, period and bar, and the market "
                          "data subscription of the account.")
    bars = [b for b in (_bar(i) for i in body.get("data") or [] if isinstance(i, dict)) if b]
    bars.sort(key=lambda b: b["time"])
    return load_output(HistoryOutput, {
        "conid": conid,
        "symbol": body.get("symbol") or symbol,
        "period": inp.period,
        "bar": inp.bar,
        "outside_rth": inp.outside_rth,
        "start": iso_utc(parse_start_time(body.get("startTime"))),
        "bars": bars,
        "count": len(bars),
    }, "history")
