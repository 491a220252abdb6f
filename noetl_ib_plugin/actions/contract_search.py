"""The search_contracts action: what a symbol names at IBKR and the derivatives it has.

`GET /iserver/secdef/search` answers the underlying with `sections` (each security type it has,
with months and exchanges); with `sec_type=OPT` and a `month`, `GET /iserver/secdef/strikes`
adds that month's strikes; with `sec_type=FUT`, `GET /trsrv/futures` adds the listed futures
(expired ones left out). ibkr-web-api.md s.5, s.13.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..client import IBClient
from ..common.quote_fields import as_int
from ..errors import AmbiguousContract, ContractNotFound, InputError
from .contracts import search
from .derivative_parts import checked_month, digits_as_text, month_of
from .derivatives import utc_today
from .field_errors import field_error
from .models import EXCHANGE_PATTERN, SEC_TYPE_PATTERN, SYMBOL_PATTERN
from .outputs.base import load_output
from .outputs.contracts import ContractSearchOutput
from .secdef import futures, section_months, strikes

__all__ = ["SearchContractsInput", "search_contracts"]


class SearchContractsInput(BaseModel):
    """A symbol's listings and derivative sections; a month's strikes (OPT) or futures (FUT)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    symbol: str = Field(min_length=1, max_length=32, pattern=SYMBOL_PATTERN,
                        description="ticker of the underlying, e.g. AAPL or ES")
    sec_type: str = Field(default="STK", min_length=1, max_length=8, pattern=SEC_TYPE_PATTERN,
                          description="security type to search for (STK, OPT, FUT, ...)")
    month: str | None = Field(default=None, min_length=1, max_length=16,
                              description="contract month (JAN30): OPT lists its strikes, "
                              "FUT its futures")
    exchange: str | None = Field(default=None, min_length=1, max_length=16,
                                 pattern=EXCHANGE_PATTERN,
                                 description="options exchange for the strikes (default SMART)")

    @field_validator("symbol", "sec_type", "exchange", mode="after")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else value

    @field_validator("month", mode="before")
    @classmethod
    def _digits(cls, value: Any) -> Any:
        return digits_as_text(value)

    @field_validator("month", mode="after")
    @classmethod
    def _month(cls, value: str | None) -> str | None:
        return checked_month(value)

    @model_validator(mode="after")
    def _month_needs_a_derivative(self) -> SearchContractsInput:
        if self.month is not None and self.sec_type not in ("OPT", "FUT"):
            raise field_error("sec_type", "month lists an option month's strikes or a future "
                              "month: pass sec_type=OPT or sec_type=FUT")
        return self


def _section(item: dict[str, Any]) -> dict[str, Any]:
    """One `sections` entry in this package's names."""
    def words(key: str) -> list[str]:
        text = item.get(key)
        return [w.strip().upper() for w in text.split(";") if w.strip()] \
            if isinstance(text, str) else []

    return {"sec_type": str(item.get("secType") or "").upper(), "months": words("months"),
            "exchanges": words("exchange")}


def _underlying(item: dict[str, Any]) -> dict[str, Any]:
    """One search result in this package's names."""
    return {"conid": as_int(item.get("conid")), "symbol": item.get("symbol"),
            "company": item.get("companyName"), "exchange": item.get("description"),
            "sections": [_section(s) for s in item.get("sections") or [] if isinstance(s, dict)]}


def _strikes(client: IBClient, found: list[dict[str, Any]], inp: SearchContractsInput,
             month: str) -> dict[str, Any]:
    """The strikes of the one underlying with options in `month`."""
    named = [i for i in found if str(i.get("symbol") or "").upper() == inp.symbol
             and section_months(i, "OPT") is not None]
    if not named:
        raise ContractNotFound(f"IBKR lists no options for symbol {inp.symbol}", field="symbol",
                               fix="check the symbol; search without month to see its types.")
    if len(named) > 1:
        raise AmbiguousContract(
            f"symbol {inp.symbol} names {len(named)} underlyings with options",
            candidates=[{"conid": as_int(i.get("conid")), "exchange": i.get("description")}
                        for i in named[:10]],
            fix="search without month to see them; pass the option's own conid to the order.")
    months = section_months(named[0], "OPT") or []
    if month not in months:
        raise InputError(f"{inp.symbol} has no options in {month} (IBKR lists: "
                         f"{', '.join(months)})", field="month",
                         fix=f"pass month={months[0]} or another listed month.")
    under = as_int(named[0].get("conid")) or 0
    listed = strikes(client, under, month, inp.exchange)
    return {"underlying_conid": under, "month": month, "call": listed["C"], "put": listed["P"]}


def _futures(client: IBClient, inp: SearchContractsInput) -> list[dict[str, Any]]:
    """The futures of the symbol that have not expired (of `month` when given)."""
    today = utc_today().strftime("%Y%m%d")
    out = []
    for item in futures(client, inp.symbol):
        expiry = str(item.get("expirationDate") or "")
        if len(expiry) != 8 or not expiry.isdigit() or expiry < today:
            continue
        month = month_of(expiry)
        if inp.month is None or inp.month == month:
            out.append({"conid": as_int(item.get("conid")), "symbol": item.get("symbol"),
                        "month": month, "expiry": expiry,
                        "underlying_conid": as_int(item.get("underlyingConid"))})
    return out


def search_contracts(client: IBClient, inp: SearchContractsInput) -> ContractSearchOutput:
    """`GET /iserver/secdef/search` (+ `/iserver/secdef/strikes` for OPT with month,
    `/trsrv/futures` for FUT): ContractSearchOutput `{symbol, sec_type, underlyings: [{conid,
    symbol, company, exchange, sections: [{sec_type, months, exchanges}]}], strikes: {
    underlying_conid, month, call, put} | null, futures: [{conid, symbol, month, expiry,
    underlying_conid}]}`. Raises InputError for a month IBKR does not list, ContractNotFound
    when the symbol has no options, AmbiguousContract when several underlyings have them."""
    found = search(client, inp.symbol, inp.sec_type)
    out: dict[str, Any] = {"symbol": inp.symbol, "sec_type": inp.sec_type,
                           "underlyings": [_underlying(i) for i in found], "strikes": None,
                           "futures": []}
    if inp.sec_type == "OPT" and inp.month is not None:
        out["strikes"] = _strikes(client, found, inp, inp.month)
    if inp.sec_type == "FUT":
        out["futures"] = _futures(client, inp)
    return load_output(ContractSearchOutput, out, "search_contracts")
