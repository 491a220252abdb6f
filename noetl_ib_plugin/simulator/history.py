"""`GET /iserver/marketdata/history` in IBKR's shape: bars sampled from the seeded price paths."""

from __future__ import annotations

import re
import time
from typing import Any

from .common import ApiError
from .market import Market

__all__ = ["MAX_POINTS", "history"]

#: IBKR returns at most 1000 data points per request.
MAX_POINTS = 1000
_UNIT_SECONDS = {"min": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "m": 30 * 86400,
                 "y": 365 * 86400}
_SPEC = re.compile(r"^(\d+)(min|h|d|w|m|y)$")
#: Regular trading hours in UTC seconds of the day (US equities 09:30-16:00 New York, EST).
_RTH = (14 * 3600 + 1800, 21 * 3600)


def _seconds(text: str, what: str) -> int:
    """Length of an IBKR period or bar spec; 400 like IBKR for anything else."""
    found = _SPEC.match(text.strip().lower())
    if not found or int(found.group(1)) <= 0:
        raise ApiError(400, {"error": f"Bad Request: invalid {what} '{text}'", "statusCode": 400})
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2)]


def _bar(market: Market, conid: int, start: float, length: int) -> dict[str, Any]:
    """One bar from up to 5 samples of the price path (prices in dollars, volume in shares)."""
    samples = [market.price(conid, start + length * k / 4) for k in range(5)]
    step = max(1, length // 60)
    volume = sum(100 + int(market.price(conid, start + i) * 7) % 900 for i in range(0, 3 * step, step))
    return {"o": samples[0], "c": samples[-1], "h": max(samples), "l": min(samples),
            "v": float(volume), "t": int(start * 1000)}


def history(market: Market, params: dict[str, str]) -> dict[str, Any]:
    """Bars ending now, oldest first, `period` long; regular hours only unless outsideRth."""
    try:
        conid = int(params.get("conid", ""))
    except ValueError:
        raise ApiError(400, {"error": "Bad Request: conid required", "statusCode": 400}) from None
    contract = market.contracts.get(conid)
    if contract is None:
        raise ApiError(400, {"error": f"Bad Request: invalid conid {conid}", "statusCode": 400})
    if not contract.market_data:
        return {"error": "Chart data unavailable: no market data permissions"}
    period = _seconds(params.get("period", "1d"), "period")
    bar = _seconds(params.get("bar", "5min"), "bar")
    outside_rth = params.get("outsideRth", "false").lower() == "true"
    started = time.perf_counter()
    now = market.clock()
    end = now - now % bar
    first = max(end - period, end - bar * (MAX_POINTS - 1))
    data = []
    t = first
    while t <= end:
        second_of_day = t % 86400
        if outside_rth or bar >= 86400 or _RTH[0] <= second_of_day < _RTH[1]:
            data.append(_bar(market, conid, t, bar))
        t += bar
    prices = [d["h"] for d in data] + [d["l"] for d in data]
    start_text = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(first))
    return {
        "serverId": f"h{conid % 97}", "symbol": contract.symbol, "text": contract.company,
        "priceFactor": 100, "startTime": start_text,
        "high": f"{int(max(prices, default=0) * 100)}/0/0",
        "low": f"{int(min(prices, default=0) * 100)}/0/0",
        "timePeriod": params.get("period", "1d"), "barLength": bar, "mdAvailability": "S",
        "mktDataDelay": 0, "outsideRth": outside_rth, "volumeFactor": 1, "priceDisplayRule": 1,
        "priceDisplayValue": "2", "negativeCapable": False, "messageVersion": 2,
        "data": data, "points": len(data),
        "travelTime": int((time.perf_counter() - started) * 1000),
    }
