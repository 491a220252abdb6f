"""The contract an action is sent for is the one asked for: type, symbol, exchange and currency.

Sources: IBKR Web API `GET /iserver/secdef/search` (answers the *underlying*, its `sections`
naming the derivative types it has) and `GET /iserver/contract/{conid}/info` (`instrument_type`,
`symbol`, `exchange`, `currency` of one contract). See shared ibkr-web-api.md sections 5 and 13.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ContractMismatch

__all__ = ["DERIVATIVE_TYPES", "Asked", "check_info", "info_type", "refuse_derivative_by_symbol"]

#: Types whose contracts IBKR's search never answers itself: it answers their underlying, and
#: their own conids come from secdef/info, secdef/strikes or trsrv/futures.
DERIVATIVE_TYPES = frozenset({"OPT", "FUT", "FOP", "WAR", "IOPT", "BAG"})


@dataclass(frozen=True)
class Asked:
    """What the caller named: the resolved contract must match every field that is set."""

    symbol: str | None
    conid: int | None
    sec_type: str
    exchange: str | None
    currency: str | None

    def to_dict(self) -> dict[str, Any]:
        """The request as the error's `requested` field shows it."""
        return {k: v for k, v in vars(self).items() if v is not None}


def _upper(value: Any) -> str | None:
    """IBKR's text field upper-cased, None when absent or empty."""
    return str(value).strip().upper() or None if value not in (None, "") else None


def info_type(info: dict[str, Any]) -> str | None:
    """The security type contract info names (`instrument_type`; `secType` in older answers)."""
    return _upper(info.get("instrument_type") or info.get("secType") or info.get("sec_type"))


def refuse_derivative_by_symbol(asked: Asked, conid_argument: str) -> None:
    """A derivative by symbol: IBKR's search would answer the underlying, so trading its conid
    would trade the underlying. Refused before any request."""
    if asked.symbol is None or asked.sec_type not in DERIVATIVE_TYPES:
        return
    by_parts = {"OPT": "month=JAN30 strike=200 right=C (its parts; the search_contracts action "
                       "lists them), or ",
                "FUT": "month=MAR30 (its contract month; the search_contracts action lists "
                       "them), or "}.get(asked.sec_type, "")
    raise ContractMismatch(
        f"sec_type {asked.sec_type} cannot be resolved from symbol {asked.symbol} alone: IBKR's "
        f"contract search answers the underlying {asked.symbol}, not its {asked.sec_type} "
        "contracts, so nothing was sent",
        field="sec_type",
        fix=f"pass {by_parts}{conid_argument}=CONID sec_type={asked.sec_type} with the "
        f"{asked.sec_type} contract's own conid, or sec_type=STK for {asked.symbol} stock.",
        requested=asked.to_dict(),
        resolved={},
    )


def check_info(conid: int, info: dict[str, Any], asked: Asked) -> None:
    """ContractMismatch unless contract info of `conid` is what `asked` names (nothing sent)."""
    have = {
        "conid": conid,
        "sec_type": info_type(info),
        "symbol": _upper(info.get("symbol")),
        "exchange": _upper(info.get("exchange") or info.get("listing_exchange")),
        "currency": _upper(info.get("currency")),
    }
    resolved = {k: v for k, v in have.items() if v is not None}
    kind = have["sec_type"]

    def refuse(field: str, why: str, fix: str) -> ContractMismatch:
        return ContractMismatch(f"conid {conid} {why}; nothing was sent", field=field, fix=fix,
                                requested=asked.to_dict(), resolved=resolved)

    if kind != asked.sec_type:
        if kind is None:
            raise refuse("sec_type", "has no security type in IBKR's contract info, so it cannot "
                         f"be checked against sec_type={asked.sec_type}",
                         "pass the conid of a contract IBKR describes, or check it in IBKR's "
                         "portal.")
        raise refuse("sec_type", f"is a {kind} contract, not {asked.sec_type}",
                     f"pass sec_type={kind} if you mean conid {conid}; otherwise name the "
                     f"{asked.sec_type} contract by its own conid.")
    if asked.symbol is not None and have["symbol"] not in (None, asked.symbol):
        raise refuse("symbol", f"is {have['symbol']}, not {asked.symbol}",
                     f"pass symbol={have['symbol']} or conid={conid} alone if you mean it.")
    listed = {e for e in (_upper(info.get("exchange")), _upper(info.get("listing_exchange"))) if e}
    if asked.exchange is not None and asked.exchange not in listed:
        where = ", ".join(sorted(listed)) or "an exchange IBKR does not name"
        raise refuse("exchange", f"is listed on {where}, not {asked.exchange}",
                     "leave exchange out, or pass the conid of the listing you mean.")
    if asked.currency is not None and have["currency"] != asked.currency:
        raise refuse("currency", f"trades in {have['currency'] or 'a currency IBKR does not name'}"
                     f", not {asked.currency}",
                     "leave currency out, or pass the conid of the listing in that currency.")
