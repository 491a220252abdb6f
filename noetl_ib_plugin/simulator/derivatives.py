"""Option chains and futures months for a few underlyings, answered as IBKR's secdef endpoints do.

IBKR (shared ibkr-web-api.md s.5, s.13): `secdef/search` answers the *underlying* with
`sections` naming its derivative types (`OPT` with `months`); `secdef/strikes` lists a month's
strikes per right; `secdef/info` answers the contracts of (underlying, month, strike, right)
(one per expiry date: a month may hold weeklies); `/trsrv/futures` lists a symbol's futures.

The calendar is fixed (2030) so tests stay deterministic whatever day they run.
"""

from __future__ import annotations

from typing import Any

from .common import ApiError
from .market import Contract

__all__ = [
    "AAPL_OPTION_CONID",
    "ES_INDEX_CONID",
    "ES_MAR30_CONID",
    "OPTION_EXCHANGES",
    "derivative_contracts",
    "futures",
    "secdef_info",
    "sections",
    "strikes",
]

#: AAPL JAN30 (20300118) 200 C: the first option of the universe, known by conid in tests.
AAPL_OPTION_CONID = 730000001
#: The E-mini S&P 500 index (IND, CME) whose futures /trsrv/futures lists.
ES_INDEX_CONID = 11004968
ES_MAR30_CONID = 750000001
OPTION_EXCHANGES = "SMART;AMEX;BATS;BOX;CBOE"
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

#: underlying conid -> (symbol, company, trading class, multiplier, {expiry: strikes}).
_CHAINS: dict[int, tuple[str, str, str, float, dict[str, tuple[float, ...]]]] = {
    265598: ("AAPL", "APPLE INC", "AAPL", 100.0, {
        "20300111": (190.0, 200.0, 210.0),  # a weekly in the same month as the monthly below
        "20300118": (180.0, 190.0, 200.0, 210.0, 220.0),
        "20300215": (190.0, 200.0, 210.0),
    }),
    756733: ("SPY", "SPDR S&P 500 ETF TRUST", "SPY", 100.0, {
        "20300118": (500.0, 505.0, 510.0, 515.0, 520.0),
    }),
}

#: symbol -> (index conid, company, exchange, multiplier, base price, expiries, first conid).
_FUTURES: dict[str, tuple[int, str, str, float, float, tuple[str, ...], int]] = {
    "ES": (ES_INDEX_CONID, "E-mini S&P 500", "CME", 50.0, 5200.0,
           ("20300315", "20300621", "20300920"), ES_MAR30_CONID),
}


def month_of(expiry: str) -> str:
    """IBKR's contract month (MMMYY) of a YYYYMMDD date."""
    return f"{_MONTHS[int(expiry[4:6]) - 1]}{expiry[2:4]}"


def _option_price(spot: float, strike: float, right: str) -> float:
    """A plausible premium: intrinsic value plus 3 % of the spot as time value."""
    intrinsic = max(0.0, spot - strike) if right == "C" else max(0.0, strike - spot)
    return round(intrinsic + 0.03 * spot, 2)


def derivative_contracts(stocks: dict[int, Contract]) -> list[Contract]:
    """Every option of the chains and every future (plus its index), conids fixed by order."""
    out: list[Contract] = []
    next_conid = AAPL_OPTION_CONID
    for under, (symbol, company, trading_class, multiplier, expiries) in _CHAINS.items():
        spot = stocks[under].base_price
        for expiry, listed in sorted(expiries.items(), key=lambda e: (e[0] != "20300118", e[0])):
            for strike in sorted(listed, key=lambda s: (s != 200.0, s)):
                for right in ("C", "P"):
                    out.append(Contract(
                        next_conid, symbol, company, "SMART", "USD",
                        _option_price(spot, strike, right), search=False, fractions=False,
                        sec_type="OPT", month=month_of(expiry), expiry=expiry, strike=strike,
                        right=right, multiplier=multiplier, underlying=under,
                        trading_class=trading_class))
                    next_conid += 1
    for symbol, (index, company, exchange, multiplier, base, months, first) in _FUTURES.items():
        out.append(Contract(index, symbol, company, exchange, "USD", base, sec_type="IND",
                            fractions=False))
        for n, expiry in enumerate(months):
            out.append(Contract(
                first + n, symbol, company, exchange, "USD", round(base * (1 + 0.01 * n), 2),
                search=False, fractions=False, sec_type="FUT", month=month_of(expiry),
                expiry=expiry, multiplier=multiplier, underlying=index, trading_class=symbol))
    return out


def sections(contract: Contract, universe: dict[int, Contract]) -> list[dict[str, str]]:
    """The `sections` of a search result: the contract's own type, then its derivatives."""
    if contract.sec_type == "IND":
        months = sorted({c.expiry or "" for c in universe.values()
                         if c.underlying == contract.conid and c.sec_type == "FUT"})
        return [{"secType": "IND"},
                {"secType": "FUT", "months": ";".join(month_of(m) for m in months),
                 "exchange": contract.exchange}]
    if contract.currency != "USD":
        return [{"secType": "STK"}]
    out = [{"secType": "STK"}]
    chain = _CHAINS.get(contract.conid)
    if chain is not None:
        months = list(dict.fromkeys(month_of(e) for e in sorted(chain[4])))
        out.append({"secType": "OPT", "months": ";".join(months), "exchange": OPTION_EXCHANGES})
    out += [{"secType": "WAR", "exchange": "FWB;SWB"}, {"secType": "BAG"}]
    return out


def _underlying(params: dict[str, str]) -> int:
    """The `conid` query parameter (the underlying), refused like IBKR when missing or junk."""
    text = params.get("conid", "")
    if not text.isdigit():
        raise ApiError(400, {"error": "Bad Request: conid required", "statusCode": 400})
    return int(text)


def _of(universe: dict[int, Contract], params: dict[str, str]) -> list[Contract]:
    """Derivatives of the asked underlying, type and month (IBKR's `sectype`, `month`)."""
    under = _underlying(params)
    sec_type = params.get("sectype", "").upper()
    month = params.get("month", "").upper()
    exchange = params.get("exchange", "SMART").upper() or "SMART"
    if sec_type not in ("OPT", "FUT"):
        raise ApiError(400, {"error": "Bad Request: sectype must be OPT or FUT", "statusCode": 400})
    return [c for c in universe.values()
            if c.underlying == under and c.sec_type == sec_type and c.month == month
            and (sec_type == "FUT" or exchange in OPTION_EXCHANGES.split(";"))]


def strikes(universe: dict[int, Contract], params: dict[str, str]) -> dict[str, list[float]]:
    """GET /iserver/secdef/strikes?conid=&sectype=OPT&month=: `{"call": [...], "put": [...]}`."""
    found = _of(universe, params)
    return {"call": sorted({c.strike for c in found if c.right == "C" and c.strike}),
            "put": sorted({c.strike for c in found if c.right == "P" and c.strike})}


def secdef_info(universe: dict[int, Contract], params: dict[str, str]) -> list[dict[str, Any]]:
    """GET /iserver/secdef/info?conid=&sectype=&month=&strike=&right=: the matching contracts."""
    found = _of(universe, params)
    if params.get("sectype", "").upper() == "OPT":
        try:
            strike = float(params.get("strike", ""))
        except ValueError:
            raise ApiError(400, {"error": "Bad Request: strike required", "statusCode": 400}) \
                from None
        right = params.get("right", "").upper()[:1]
        found = [c for c in found if c.strike == strike and c.right == right]
    return [_info_item(c, params.get("exchange", "SMART").upper() or "SMART") for c in found]


def _info_item(c: Contract, exchange: str) -> dict[str, Any]:
    """One secdef/info item in IBKR's field names."""
    kind = "Call" if c.right == "C" else "Put"
    expiry = c.expiry or ""
    return {
        "conid": c.conid, "symbol": c.symbol, "secType": c.sec_type,
        "exchange": exchange if c.sec_type == "OPT" else c.exchange, "listingExchange": None,
        "right": c.right, "strike": c.strike or 0.0, "currency": c.currency, "cusip": None,
        "coupon": "No Coupon", "desc1": c.symbol,
        "desc2": f"{month_of(expiry)[:3]} {expiry[6:]} '{expiry[2:4]}"
        + (f" {c.strike:g} {kind}" if c.sec_type == "OPT" else ""),
        "maturityDate": expiry, "multiplier": f"{c.multiplier:g}",
        "tradingClass": c.trading_class, "validExchanges": OPTION_EXCHANGES.replace(";", ",")
        if c.sec_type == "OPT" else c.exchange,
    }


def futures(universe: dict[int, Contract], params: dict[str, str]) -> dict[str, Any]:
    """GET /trsrv/futures?symbols=ES: per symbol its listed (not expired) futures."""
    symbols = [s.strip().upper() for s in params.get("symbols", "").split(",") if s.strip()]
    if not symbols:
        raise ApiError(400, {"error": "Bad Request: symbols required", "statusCode": 400})
    out: dict[str, Any] = {}
    for symbol in symbols:
        listed = sorted((c for c in universe.values() if c.symbol == symbol
                         and c.sec_type == "FUT"), key=lambda c: c.expiry or "")
        out[symbol] = [{"symbol": c.symbol, "conid": c.conid, "underlyingConid": c.underlying,
                        "expirationDate": int(c.expiry or 0), "ltd": int(c.expiry or 0),
                        "shortFuturesCutOff": int(c.expiry or 0),
                        "longFuturesCutOff": int(c.expiry or 0)} for c in listed]
    return out
