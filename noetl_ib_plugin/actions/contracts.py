"""Symbol -> contract lookup: filter by type, exchange and currency; never pick silently."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from ..client import IBClient
from ..common.quote_fields import as_float, as_int
from ..errors import AmbiguousContract, BrokerError, ContractMismatch, ContractNotFound, InputError
from .contract_match import Asked, check_info, refuse_derivative_by_symbol
from .shapes import expect_list, get_json

__all__ = ["Contract", "contract_info", "resolve_contract", "search"]

CACHE_TTL = 3600.0


@dataclass(frozen=True)
class Contract:
    """One listing the order or quote refers to."""

    conid: int
    symbol: str | None
    exchange: str | None = None
    currency: str | None = None
    company: str | None = None
    sec_type: str = "STK"
    # A derivative's parts (actions/derivatives.py): contract month (MMMYY), last trading date
    # (YYYYMMDD), strike, right (C/P), multiplier, trading class and the underlying's conid.
    month: str | None = None
    expiry: str | None = None
    strike: float | None = None
    right: str | None = None
    multiplier: float | None = None
    trading_class: str | None = None
    underlying_conid: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (candidates in errors, action outputs)."""
        return asdict(self)


def search(client: IBClient, symbol: str, sec_type: str = "STK") -> list[dict[str, Any]]:
    """`GET /iserver/secdef/search` (cached in `client.lookups`)."""
    key = (client.trading_base_url, "search", symbol.upper(), sec_type.upper())

    def load() -> list[dict[str, Any]]:
        endpoint = "/iserver/secdef/search"
        body = get_json(client, endpoint, params={"symbol": symbol.upper(), "secType": sec_type})
        if isinstance(body, dict) and body.get("error"):
            raise BrokerError(f"contract search for {symbol!r} failed: {body['error']}")
        return expect_list([] if body is None else body, endpoint)

    result: list[dict[str, Any]] = client.lookups.get_or_load(key, CACHE_TTL, load)
    return result


def contract_info(client: IBClient, conid: int) -> dict[str, Any]:
    """`GET /iserver/contract/{conid}/info` (cached per process); ContractNotFound if unknown."""
    key = (client.trading_base_url, "info", str(conid))

    def load() -> dict[str, Any]:
        try:
            body = client.get(f"/iserver/contract/{conid}/info")
        except BrokerError as exc:
            if exc.status in (400, 404, 500):
                raise ContractNotFound(
                    f"no contract with conid {conid} ({exc.message})", field="conid",
                    fix="check the conid, or pass symbol= instead.",
                ) from None
            raise
        if not isinstance(body, dict) or body.get("error"):
            raise ContractNotFound(
                f"no contract with conid {conid}", field="conid",
                fix="check the conid, or pass symbol= instead.",
            )
        return body

    result: dict[str, Any] = client.lookups.get_or_load(key, CACHE_TTL, load)
    return result


def _sec_types(item: dict[str, Any]) -> set[str]:
    """Security types a search result offers (its `sections`)."""
    sections = item.get("sections")
    if not isinstance(sections, list):
        return set()
    return {str(s.get("secType", "")).upper() for s in sections if isinstance(s, dict)}


def _from_search(item: dict[str, Any], sec_type: str) -> Contract | None:
    """A Contract from one search result; `description` is the primary exchange."""
    conid = as_int(item.get("conid"))
    if conid is None:
        return None
    currency = item.get("currency")
    return Contract(
        conid=conid,
        symbol=str(item.get("symbol") or "") or None,
        exchange=str(item.get("description") or "").upper() or None,
        currency=str(currency).upper() if currency else None,
        company=str(item.get("companyName") or "") or None,
        sec_type=sec_type,
    )


def _with_currency(client: IBClient, contract: Contract) -> Contract:
    """Fill in the currency from contract info when the search result did not carry it."""
    if contract.currency:
        return contract
    try:
        info = contract_info(client, contract.conid)
    except ContractNotFound:
        return contract
    currency = info.get("currency")
    return replace(contract, currency=str(currency).upper() if currency else None)


def resolve_contract(
    client: IBClient,
    *,
    symbol: str | None = None,
    conid: int | None = None,
    exchange: str | None = None,
    currency: str | None = None,
    sec_type: str = "STK",
    conid_argument: str = "conid",
) -> Contract:
    """The single contract the caller means; AmbiguousContract / ContractNotFound otherwise.

    The result is always of `sec_type` (checked in `/iserver/contract/{conid}/info`), carries
    exactly `symbol` when one is given, and for a bare conid is listed on `exchange` and trades
    in `currency` when those are given; anything else is ContractMismatch (input error, nothing
    sent). A derivative type by symbol is refused before any request: IBKR's search answers
    the underlying (ibkr-web-api.md s.13).

    `conid_argument` is how the calling action spells its conid input, so the ambiguity hint
    names an argument the user can pass as written (`conid=` for orders, `conids=` for quotes).
    An option or future named by its parts goes through actions/instruments.py instead.
    """
    sec_type = sec_type.upper()
    asked = Asked(symbol=symbol.upper() if symbol else None, conid=conid, sec_type=sec_type,
                  exchange=exchange.upper() if exchange else None,
                  currency=currency.upper() if currency else None)
    if symbol is None:
        if conid is None:
            raise InputError("give symbol or conid", field="symbol")
        info = contract_info(client, conid)
        check_info(conid, info, asked)
        cur = info.get("currency")
        maturity = str(info.get("maturity_date") or "") or None
        return Contract(
            conid=conid,
            symbol=str(info.get("symbol") or info.get("local_symbol") or "") or None,
            exchange=str(info.get("exchange") or info.get("listing_exchange") or "").upper()
            or None,
            currency=str(cur).upper() if cur else None,
            company=str(info.get("company_name") or "") or None,
            sec_type=sec_type,
            expiry=maturity,
            multiplier=as_float(info.get("multiplier")),
            underlying_conid=as_int(info.get("underlying_con_id")),
        )
    refuse_derivative_by_symbol(asked, conid_argument)
    symbol = symbol.upper()
    found = search(client, symbol, sec_type)
    # Only a listing IBKR names with exactly this symbol: "BRK.B" is not "BRK B", and a
    # listing without a symbol cannot be told apart.
    named = [item for item in found if str(item.get("symbol") or "").upper() == symbol]
    candidates = [
        c
        for item in named
        if not _sec_types(item) or sec_type in _sec_types(item)
        for c in [_from_search(item, sec_type)]
        if c is not None
    ]
    if not named and found:
        _refuse_other_symbols(found, asked, conid_argument)
    if conid is not None:
        match = [c for c in candidates if c.conid == conid]
        if not match:
            listed = ", ".join(str(c.conid) for c in candidates) or "none"
            raise InputError(
                f"conid {conid} is not a {sec_type} listing of {symbol} (its listings: {listed})",
                field="conid",
                fix="pass only one of symbol and conid, or make them agree.",
            )
        candidates = match
    if exchange:
        candidates = [c for c in candidates if (c.exchange or "") == exchange.upper()]
    if currency:
        candidates = [_with_currency(client, c) for c in candidates]
        candidates = [c for c in candidates if (c.currency or "") == currency.upper()]
    if not candidates:
        filters = ", ".join(
            f"{k}={v}" for k, v in (("secType", sec_type), ("exchange", exchange),
                                   ("currency", currency)) if v
        )
        raise ContractNotFound(
            f"no contract found for symbol {symbol} ({filters})",
            field="symbol",
            fix=f"check the symbol, relax exchange/currency, or pass {conid_argument}= with its "
            "IBKR contract id.",
        )
    if len(candidates) > 1:
        enriched = [_with_currency(client, c) for c in candidates[:10]]
        listing = "; ".join(
            f"conid {c.conid} {c.exchange or '?'} {c.currency or ''}".strip() for c in enriched
        )
        raise AmbiguousContract(
            f"symbol {symbol} matches {len(candidates)} {sec_type} listings: {listing}",
            candidates=[c.to_dict() for c in enriched],
            conid_argument=conid_argument,
        )
    chosen = candidates[0]
    # The search names listings, not their type: contract info must confirm the type and symbol
    # (exchange and currency were matched above, from the search and the same info).
    check_info(chosen.conid, contract_info(client, chosen.conid),
               Asked(symbol=symbol, conid=chosen.conid, sec_type=sec_type, exchange=None,
                     currency=None))
    return chosen


def _refuse_other_symbols(found: list[dict[str, Any]], asked: Asked, conid_argument: str) -> None:
    """The search answered listings of other symbols only (a class share, a near spelling)."""
    others = [(as_int(i.get("conid")), str(i.get("symbol") or "?"), str(i.get("description") or "?"))
              for i in found[:10]]
    listing = "; ".join(f"{sym} conid {cid} {where}" for cid, sym, where in others)
    first = next((cid for cid, _, _ in others if cid is not None), None)
    pick = f"{conid_argument}={first}" if first is not None else f"{conid_argument}=CONID"
    raise ContractMismatch(
        f"IBKR's search for symbol {asked.symbol} answered other symbols only ({listing}); "
        "nothing was sent",
        field="symbol",
        fix=f"pass {pick} (without symbol) if you mean that listing, or check the symbol's "
        "spelling as IBKR lists it.",
        requested=asked.to_dict(),
        resolved={"candidates": [{"conid": c, "symbol": s, "exchange": e} for c, s, e in others]},
    )
