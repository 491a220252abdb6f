"""What real logins hold (ibkr-web-api.md s.13): several accounts, cached positions, incomplete
live-order answers, delayed quotes, non-USD base currencies, fractional-size rules.

`AccountRules` carries the options (README "Accounts"); the broker consults it. Defaults are
IBKR's where IBKR does it (linked accounts, cached positions, history's 5 in flight); the
incomplete-answer mode is off by default because only some sessions answer that way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["AccountRules", "linked_ids"]

#: Fixed exchange rates of one unit of a currency in USD (the simulator does not move FX).
USD_PER = {"USD": 1.0, "AUD": 0.66, "GBP": 1.27, "EUR": 1.08, "CHF": 1.13, "CAD": 0.73,
           "JPY": 0.0067}


def linked_ids(primary: str, count: int) -> list[str]:
    """`count` linked account ids derived from the login's own id (DU1234567 -> DU2345678)."""
    prefix = primary.rstrip("0123456789")
    digits = primary[len(prefix):]
    if not digits:
        return []
    width = len(digits)
    return [f"{prefix}{(int(digits) + 1_111_111 * k) % 10 ** width:0{width}d}"
            for k in range(1, count + 1)]


@dataclass
class AccountRules:
    """Per-login realism; `Broker.set_order_options` validates and sets these by name."""

    #: Extra paper accounts every login holds besides its own (advisor / linked accounts).
    linked_accounts: int = 1
    #: `/portfolio/{acct}/positions/{page}` answers from a cache filled at the first read and
    #: dropped by `POST /portfolio/{acct}/positions/invalidate` (IBKR); `portfolio2` is fresh.
    positions_cached: bool = True
    #: Live orders without `accountId` answer `{"orders": [], "snapshot": true}` and a
    #: `filters=` answer lists only the first match (reported by users; off by default).
    incomplete_live_orders: bool = False
    #: Accounts without a market-data subscription: their snapshots are delayed (6509 "DPB",
    #: prices 15 minutes old).
    delayed_accounts: frozenset[str] = frozenset()
    #: Base currency per account (default USD): summary, ledger BASE and portfolio accounts.
    base_currencies: dict[str, str] = field(default_factory=dict)
    #: `/iserver/marketdata/history` requests in flight per username before a 429 (IBKR: 5).
    history_limit: int = 5
    #: Seconds each history request takes (so concurrency is observable in tests).
    history_delay_s: float = 0.0

    def describe(self) -> dict[str, Any]:
        """The options as JSON (GET /__sim/options)."""
        return {"linked_accounts": self.linked_accounts,
                "positions_cached": self.positions_cached,
                "incomplete_live_orders": self.incomplete_live_orders,
                "delayed_accounts": sorted(self.delayed_accounts),
                "base_currencies": dict(self.base_currencies),
                "history_limit": self.history_limit, "history_delay_s": self.history_delay_s}

    def update(self, options: dict[str, Any]) -> None:
        """Validate then set the named options; a bad value is a ValueError naming it."""
        linked = int(options.get("linked_accounts", self.linked_accounts))
        limit = int(options.get("history_limit", self.history_limit))
        delay = float(options.get("history_delay_s", self.history_delay_s))
        if not 0 <= linked <= 8:
            raise ValueError("linked_accounts must be 0..8")
        if limit < 1 or delay < 0:
            raise ValueError("history_limit must be >= 1 and history_delay_s >= 0")
        bases = dict(options.get("base_currencies", self.base_currencies))
        wrong = sorted(str(c) for c in bases.values() if c not in USD_PER)
        if wrong:
            raise ValueError(f"base_currencies must be among {sorted(USD_PER)}, not {wrong}")
        self.linked_accounts, self.history_limit, self.history_delay_s = linked, limit, delay
        self.positions_cached = bool(options.get("positions_cached", self.positions_cached))
        self.incomplete_live_orders = bool(options.get("incomplete_live_orders",
                                                       self.incomplete_live_orders))
        self.delayed_accounts = frozenset(str(a) for a in options.get("delayed_accounts",
                                                                      self.delayed_accounts))
        self.base_currencies = {str(k): str(v) for k, v in bases.items()}

    def base_currency(self, account_id: str) -> str:
        """The account's base currency (USD unless configured)."""
        return self.base_currencies.get(account_id, "USD")
