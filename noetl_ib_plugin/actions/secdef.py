"""IBKR's derivative lookups, cached in `client.lookups` like the contract search.

- `GET /iserver/secdef/strikes?conid=&sectype=OPT&month=&exchange=` -> `{"call": [..], "put": [..]}`
- `GET /iserver/secdef/info?conid=&sectype=&month=&strike=&right=&exchange=` -> list of contracts
  (`conid`, `symbol`, `secType`, `exchange`, `right`, `strike`, `currency`, `maturityDate`,
  `multiplier`, `tradingClass`, ...)
- `GET /trsrv/futures?symbols=ES` -> `{"ES": [{"symbol", "conid", "underlyingConid",
  "expirationDate", "ltd", ...}]}`

Source: IBKR Web API reference; shared ibkr-web-api.md s.13.
"""

from __future__ import annotations

from typing import Any

from ..client import IBClient
from ..common.quote_fields import as_float
from .shapes import expect_dict, expect_list, get_json

__all__ = ["CACHE_TTL", "futures", "secdef_info", "section_months", "strikes"]

#: Chains change when a series lists or expires: an hour, as for the contract search.
CACHE_TTL = 3600.0


def section_months(item: dict[str, Any], sec_type: str) -> list[str] | None:
    """The months a search result's `sections` list for `sec_type` (`"JAN30;FEB30"`); None when
    the section names no months (IBKR does not always send them)."""
    for section in item.get("sections") or []:
        if isinstance(section, dict) and str(section.get("secType", "")).upper() == sec_type:
            months = section.get("months")
            if isinstance(months, str) and months.strip():
                return [m.strip().upper() for m in months.split(";") if m.strip()]
    return None


def _numbers(values: Any) -> list[float]:
    """A strike list as floats (IBKR sends numbers; text is read too), junk left out."""
    if not isinstance(values, list):
        return []
    return sorted({n for n in (as_float(v) for v in values) if n is not None})


def strikes(client: IBClient, underlying: int, month: str,
            exchange: str | None = None) -> dict[str, list[float]]:
    """`{"C": [...], "P": [...]}`: the strikes of `underlying`'s options in `month`."""
    params = {"conid": str(underlying), "sectype": "OPT", "month": month}
    if exchange:
        params["exchange"] = exchange
    key = (client.trading_base_url, "strikes", tuple(sorted(params.items())))
    endpoint = "/iserver/secdef/strikes"

    def load() -> dict[str, list[float]]:
        body = expect_dict(get_json(client, endpoint, params=params), endpoint)
        return {"C": _numbers(body.get("call")), "P": _numbers(body.get("put"))}

    result: dict[str, list[float]] = client.lookups.get_or_load(key, CACHE_TTL, load)
    return result


def secdef_info(client: IBClient, underlying: int, sec_type: str, month: str, *,
                strike: float | None = None, right: str | None = None,
                exchange: str | None = None) -> list[dict[str, Any]]:
    """The contracts IBKR lists for (underlying, type, month[, strike, right])."""
    params = {"conid": str(underlying), "sectype": sec_type, "month": month}
    if strike is not None:
        params["strike"] = f"{strike:g}"
    if right is not None:
        params["right"] = right
    if exchange:
        params["exchange"] = exchange
    key = (client.trading_base_url, "secdef_info", tuple(sorted(params.items())))
    endpoint = "/iserver/secdef/info"

    def load() -> list[dict[str, Any]]:
        body = get_json(client, endpoint, params=params)
        return expect_list([] if body is None else body, endpoint)

    result: list[dict[str, Any]] = client.lookups.get_or_load(key, CACHE_TTL, load)
    return result


def futures(client: IBClient, symbol: str) -> list[dict[str, Any]]:
    """The futures IBKR lists for `symbol` (front month first as IBKR orders them)."""
    key = (client.trading_base_url, "futures", symbol)
    endpoint = "/trsrv/futures"

    def load() -> list[dict[str, Any]]:
        body = expect_dict(get_json(client, endpoint, params={"symbols": symbol}), endpoint)
        listed = body.get(symbol)
        return expect_list([] if listed is None else listed, f"{endpoint} ({symbol})")

    result: list[dict[str, Any]] = client.lookups.get_or_load(key, CACHE_TTL, load)
    return result
