"""A small contract universe and deterministic seeded price paths, rendered as snapshot fields."""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CONTRACTS",
    "LATE_FIELDS",
    "Contract",
    "Market",
    "bulk_contracts",
    "fmt_size",
    "fmt_volume",
]

#: Quote fields that arrive one poll after the others (IBKR: "fields may appear one poll at a
#: time"): the book (bid/ask and sizes), volume and last size.
LATE_FIELDS = frozenset({"84", "85", "86", "88", "87", "7059"})

Clock = Callable[[], float]
DAY = 86400
#: How old a delayed quote is (IBKR: 15-20 minutes for most exchanges).
DELAY_SECONDS = 900


@dataclass(frozen=True)
class Contract:
    """One listing: symbol plus exchange and currency; a symbol may have several listings."""

    conid: int
    symbol: str
    company: str
    exchange: str
    currency: str
    base_price: float
    market_data: bool = True
    halted: bool = False
    traded_today: bool = True
    search: bool = True
    #: Whether IBKR takes fractional quantities for it (US stocks yes; ASX, LSE whole shares).
    fractions: bool = True
    #: IBKR's security type (`instrument_type` of contract info); search answers stocks only.
    sec_type: str = "STK"
    # Derivatives (simulator/derivatives.py): contract month (MMMYY), last trading date
    # (YYYYMMDD), strike, right (C/P), multiplier and the underlying's conid.
    month: str | None = None
    expiry: str | None = None
    strike: float | None = None
    right: str | None = None
    multiplier: float = 1.0
    underlying: int | None = None
    trading_class: str | None = None


CONTRACTS: dict[int, Contract] = {
    c.conid: c
    for c in (
        Contract(265598, "AAPL", "APPLE INC", "NASDAQ", "USD", 190.0),
        Contract(272093, "MSFT", "MICROSOFT CORP", "NASDAQ", "USD", 410.0),
        Contract(756733, "SPY", "SPDR S&P 500 ETF TRUST", "ARCA", "USD", 510.0),
        Contract(8314, "IBM", "INTL BUSINESS MACHINES CORP", "NYSE", "USD", 185.0),
        Contract(76792991, "TSLA", "TESLA INC", "NASDAQ", "USD", 175.0),
        Contract(4036812, "BHP", "BHP GROUP LTD-SPON ADR", "NYSE", "USD", 58.0),
        Contract(4036818, "BHP", "BHP GROUP LTD", "ASX", "AUD", 44.0, traded_today=False,
                 fractions=False),
        Contract(459530, "SIVB", "SVB FINANCIAL GROUP", "NASDAQ", "USD", 106.0, halted=True),
        Contract(13109, "VOD", "VODAFONE GROUP PLC", "LSE", "GBP", 0.7, market_data=False,
                 fractions=False),
    )
}


def bulk_contracts(count: int) -> list[Contract]:
    """Tiny synthetic listings (ZZ001...) so one account has enough positions to page."""
    return [
        Contract(900001 + i, f"ZZ{i + 1:03d}", f"SIMULATED HOLDING {i + 1}", "NYSE", "USD",
                 10.0 + i % 37, search=False)
        for i in range(count)
    ]


def fmt_volume(value: float) -> str:
    """Format a volume like IBKR's field 87: 950, 1.2K, 3.45M."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:.2f}M"
    if value >= 1_000:
        return f"{value / 1_000:.1f}K"
    return str(int(value))


def fmt_size(value: int) -> str:
    """Format a size with thousands separators, as fields 88/85/7059 arrive."""
    return f"{value:,}"


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts (seeded hashing, not random state)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class Market:
    """Prices as a pure function of (seed, conid, time) unless pinned by set_price."""

    def __init__(self, seed: int, clock: Clock, contracts: dict[int, Contract]) -> None:
        self.seed = seed
        self.clock = clock
        self.contracts = contracts
        self._pinned: dict[int, float] = {}
        self._lock = threading.Lock()
        #: Deliver LATE_FIELDS one poll after the rest, as IBKR does; False for every field at once.
        self.staged = True
        self._polls: dict[tuple[Any, int], int] = {}

    def reset(self) -> None:
        """Drop pinned prices and poll counts so the seeded paths and stages apply again."""
        with self._lock:
            self._pinned.clear()
            self._polls.clear()

    def staged_snapshot_fields(self, viewer: Any, conid: int, *,
                               delayed: bool = False) -> dict[str, Any]:
        """`snapshot_fields` as the `viewer` (a brokerage session) sees it on this poll.

        The first data poll after the pre-flight lacks LATE_FIELDS; later polls carry everything.
        """
        data = self.snapshot_fields(conid, delayed=delayed)
        if not self.staged:
            return data
        with self._lock:
            polls = self._polls.get((viewer, conid), 0) + 1
            self._polls[(viewer, conid)] = polls
        if polls > 1:
            return data
        return {k: v for k, v in data.items() if k not in LATE_FIELDS}

    def set_price(self, conid: int, price: float) -> None:
        """Pin a contract's last price (tests use this to trigger orders deterministically)."""
        if conid not in self.contracts:
            raise KeyError(conid)
        with self._lock:
            self._pinned[conid] = float(price)

    def _prior_close(self, contract: Contract, day: int) -> float:
        """Yesterday's close, a seeded daily wiggle around the base price."""
        wiggle = _unit(self.seed, contract.conid, day, "pc") - 0.5
        return contract.base_price * (1 + 0.02 * wiggle)

    def prior_close(self, conid: int) -> float:
        """Yesterday's close as snapshot field 7741 shows it (what daily P&L is measured from)."""
        return round(self._prior_close(self.contracts[conid], int(self.clock() // DAY)), 2)

    def price(self, conid: int, when: float | None = None) -> float:
        """The last price now (or at `when`): slow sine drift plus a per-second seeded jitter."""
        with self._lock:
            pinned = self._pinned.get(conid)
        if pinned is not None:
            return pinned
        contract = self.contracts[conid]
        t = self.clock() if when is None else when
        prior = self._prior_close(contract, int(t // DAY))
        if contract.halted or not contract.traded_today:
            return round(prior, 2)
        phase = 2 * math.pi * _unit(self.seed, conid, "phase")
        drift = 0.01 * math.sin(2 * math.pi * t / 900 + phase)
        jitter = 0.002 * (_unit(self.seed, conid, int(t)) - 0.5)
        return round(prior * (1 + drift + jitter), 2)

    def snapshot_fields(self, conid: int, *, delayed: bool = False) -> dict[str, Any]:
        """All snapshot fields for a conid as IBKR renders them (strings, prefixes, separators).

        `delayed` (an account without a market-data subscription): prices as of
        DELAY_SECONDS ago and 6509 "DPB", as IBKR sends delayed quotes.
        """
        contract = self.contracts[conid]
        now = self.clock() - (DELAY_SECONDS if delayed else 0)
        base: dict[str, Any] = {
            "conid": conid,
            "conidEx": str(conid),
            "_updated": int(now * 1000),
            "55": contract.symbol,
            "6509": ("DPB" if delayed else "RpB") if contract.market_data else "N",
            "server_id": f"q{conid % 7}",
        }
        if not contract.market_data:
            return base
        day = int(now // DAY)
        last = self.price(conid, now)
        prior = round(self._prior_close(contract, day), 2)
        opening = round(prior * (1 + 0.006 * (_unit(self.seed, conid, day, "open") - 0.5)), 2)
        high = round(max(last, opening, prior) * 1.004, 2)
        low = round(min(last, opening, prior) * 0.996, 2)
        tick = 0.01 if last >= 1 else 0.0001
        bid, ask = last - tick, last + tick
        frac = (now % DAY) / DAY
        volume = (200_000 + 40_000_000 * _unit(self.seed, conid, "vol")) * (0.05 + frac)
        prefix = "H" if contract.halted else ("" if contract.traded_today else "C")
        digits = 2 if last >= 1 else 4
        change = last - prior
        base.update({
            "31": f"{prefix}{last:.{digits}f}",
            "84": f"{bid:.{digits}f}",
            "86": f"{ask:.{digits}f}",
            "88": fmt_size(100 * (1 + int(40 * _unit(self.seed, conid, int(now), "b")))),
            "85": fmt_size(100 * (1 + int(40 * _unit(self.seed, conid, int(now), "a")))),
            "7059": fmt_size(int(1 + 300 * _unit(self.seed, conid, int(now), "ls"))),
            "87": fmt_volume(volume if contract.traded_today else 0.0),
            "7295": f"{opening:.{digits}f}",
            "70": f"{high:.{digits}f}",
            "71": f"{low:.{digits}f}",
            "7296": f"{prior:.{digits}f}",
            "7741": f"{prior:.{digits}f}",
            "82": f"{change:+.{digits}f}".replace("+", ""),
            "83": f"{100 * change / prior:.2f}",
        })
        if contract.halted:
            base["6509"] = "Z"
        return base
