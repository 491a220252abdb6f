"""Limits and lifetimes of the simulator's `/v1/api/ws` market data (ibkr-web-api.md s.12):
market data lines per account, counted across every socket of the account, and the end of a
market data stream some time after its `smd` (IBKR: about 10-15 minutes; clients renew first).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

__all__ = ["LINES_REFUSED", "MarketDataLines"]

#: The refusal sent as `{"topic":"smd+<conid>","conid":..,"error":..}` when no line is free
#: (TWS error 101's text; the Web API passes market data errors on in the `smd` topic).
LINES_REFUSED = ("Max number of tickers has been reached: all {limit} market data lines of "
                 "the account are in use")


class MarketDataLines:
    """Who holds which market data lines, per account (thread-safe; one per simulator)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, set[tuple[Hashable, int]]] = {}

    def take(self, account: str, holder: Hashable, conid: int, limit: int) -> bool:
        """Take a line for `conid` (a holder that already has it keeps it); False when all
        `limit` lines of the account are in use."""
        with self._lock:
            held = self._held.setdefault(account, set())
            if (holder, conid) in held:
                return True
            if len(held) >= limit:
                return False
            held.add((holder, conid))
            return True

    def release(self, account: str, holder: Hashable, conid: int | None = None) -> None:
        """Give back one line (or every line of `holder` when `conid` is None)."""
        with self._lock:
            held = self._held.get(account, set())
            held -= {h for h in held if h[0] == holder and (conid is None or h[1] == conid)}

    def conids(self) -> set[int]:
        """The conids some socket holds a line for now (tests wait on a subscription with it)."""
        with self._lock:
            return {conid for held in self._held.values() for _, conid in held}

    def in_use(self, account: str) -> int:
        """Lines the account holds now."""
        with self._lock:
            return len(self._held.get(account, ()))
