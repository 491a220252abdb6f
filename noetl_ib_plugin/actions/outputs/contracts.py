"""Output models of `search_contracts`: an underlying's derivative sections, a month's strikes,
a symbol's futures (IBKR `GET /iserver/secdef/search`, `/iserver/secdef/strikes`,
`/trsrv/futures`)."""

from __future__ import annotations

from pydantic import Field

from .base import _Output

__all__ = ["ContractParts", "ContractSearchOutput", "FutureListing", "OptionStrikes",
           "SearchSection", "Underlying"]


class ContractParts(_Output):
    """The resolved contract's type and an option's or future's parts (None for a stock), as
    the outputs that name one show them (`derivatives.contract_fields` fills them)."""

    sec_type: str | None = Field(default=None, description="security type: STK, OPT, FUT")
    month: str | None = Field(default=None, description="contract month, MMMYY (OPT, FUT)")
    expiry: str | None = Field(default=None, description="last trading date YYYYMMDD")
    strike: float | None = Field(default=None, description="option strike price")
    right: str | None = Field(default=None, description="option right: C or P")
    multiplier: float | None = Field(
        default=None, description="contract multiplier (100 for most equity options)")


class SearchSection(_Output):
    """One `sections` entry of a search result: a security type the underlying has."""

    sec_type: str = Field(description="IBKR security type: STK, OPT, FUT, WAR, IND, ...")
    months: list[str] = Field(default_factory=list, description="contract months, MMMYY")
    exchanges: list[str] = Field(default_factory=list, description="exchanges IBKR names")


class Underlying(_Output):
    """One search result: the underlying and the types of contract it has."""

    conid: int | None = Field(default=None, description="the underlying's IBKR contract id")
    symbol: str | None = Field(default=None, description="ticker")
    company: str | None = Field(default=None, description="IBKR's companyName")
    exchange: str | None = Field(default=None, description="primary exchange (description)")
    sections: list[SearchSection] = Field(default_factory=list)


class OptionStrikes(_Output):
    """The strikes of one underlying's options in one month (`/iserver/secdef/strikes`)."""

    underlying_conid: int = Field(description="the underlying's IBKR contract id")
    month: str = Field(description="contract month, MMMYY")
    call: list[float] = Field(default_factory=list, description="call strikes")
    put: list[float] = Field(default_factory=list, description="put strikes")


class FutureListing(_Output):
    """One future of `/trsrv/futures` that has not expired."""

    conid: int | None = Field(default=None, description="the future's IBKR contract id")
    symbol: str | None = Field(default=None, description="ticker")
    month: str | None = Field(default=None, description="contract month, MMMYY")
    expiry: str | None = Field(default=None, description="expiration date YYYYMMDD")
    underlying_conid: int | None = Field(default=None, description="the index's IBKR contract id")


class ContractSearchOutput(_Output):
    """`search_contracts`: what a symbol names, its derivative sections, and on request a
    month's strikes (sec_type=OPT) or its futures (sec_type=FUT)."""

    symbol: str = Field(description="the symbol searched")
    sec_type: str = Field(description="the security type searched")
    underlyings: list[Underlying] = Field(default_factory=list)
    strikes: OptionStrikes | None = Field(
        default=None, description="sec_type=OPT with month: that month's strikes")
    futures: list[FutureListing] = Field(
        default_factory=list, description="sec_type=FUT: the listed futures, front month first")
