"""Symbol -> contract lookup: filter by type, exchange and currency; never pick silently."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..client import IBClient
from ..errors import AmbiguousContract, BrokerError, ContractNotFound, InputError
from .parse import as_int
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
    return Contract(
        conid=contract.conid,
        symbol=contract.symbol,
        exchange=contract.exchange,
        currency=str(currency).upper() if currency else None,
        company=contract.company,
        sec_type=contract.sec_type,
    )


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

    `conid_argument` is how the calling action spells its conid input, so the ambiguity hint
    names an argument the user can pass as written (`conid=` for orders, `conids=` for quotes).
    """
    sec_type = sec_type.upper()
    if symbol is None:
        if conid is None:
            raise InputError("give symbol or conid", field="symbol")
        info = contract_info(client, conid)
        cur = info.get("currency")
        return Contract(
            conid=conid,
            symbol=str(info.get("symbol") or info.get("local_symbol") or "") or None,
            exchange=str(info.get("exchange") or info.get("listing_exchange") or "").upper()
            or None,
            currency=str(cur).upper() if cur else None,
            company=str(info.get("company_name") or "") or None,
            sec_type=str(info.get("instrument_type") or sec_type).upper(),
        )
    symbol = symbol.upper()
    found = search(client, symbol, sec_type)
    candidates = [
        c
        for item in found
        if (not _sec_types(item) or sec_type in _sec_types(item))
        and str(item.get("symbol") or symbol).upper() == symbol
        for c in [_from_search(item, sec_type)]
        if c is not None
    ]
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
    return candidates[0]
