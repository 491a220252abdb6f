"""What `GET /iserver/accounts` said once the brokerage session was opened, in memory and in
the token cache (so a new process sharing the cache skips the bootstrap).

A session rebuilt from a cache is a hint that the session is open, nothing more: the trading
guard takes accounts and `isPaper` only from IBKR's answer to this process
(`BrokerageSessionManager.verified`), and the keychain carries only `opened_at`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["BrokerageSession"]


@dataclass
class BrokerageSession:
    """What `/iserver/accounts` told us once the brokerage session was opened."""

    accounts: list[str]
    selected_account: str | None
    is_paper: bool | None
    opened_at: float = 0.0
    #: One-shot facts about this session, e.g. "orders_primed" (live orders pre-flight done).
    flags: set[str] = field(default_factory=set)

    @classmethod
    def from_accounts(cls, body: Any, opened_at: float) -> BrokerageSession:
        """Parse `GET /iserver/accounts`; tolerant of missing keys."""
        data = body if isinstance(body, dict) else {}
        raw_accounts = data.get("accounts") or []
        accounts = [str(a) for a in raw_accounts if isinstance(a, (str, int))]
        selected = data.get("selectedAccount")
        is_paper = data.get("isPaper")
        return cls(
            accounts=accounts,
            selected_account=str(selected) if selected else (accounts[0] if accounts else None),
            is_paper=bool(is_paper) if isinstance(is_paper, bool) else None,
            opened_at=opened_at,
        )

    def to_state(self) -> dict[str, Any]:
        """JSON form for `provider.save_state`."""
        return {
            "accounts": self.accounts,
            "selected_account": self.selected_account,
            "is_paper": self.is_paper,
            "opened_at": self.opened_at,
            "flags": sorted(self.flags),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> BrokerageSession | None:
        """Rebuild from `provider.load_state`; None when the entry is damaged."""
        try:
            accounts = [str(a) for a in state.get("accounts") or []]
            selected = state.get("selected_account")
            is_paper = state.get("is_paper")
            return cls(
                accounts=accounts,
                selected_account=str(selected) if selected else None,
                is_paper=is_paper if isinstance(is_paper, bool) else None,
                opened_at=float(state.get("opened_at") or 0.0),
                flags={str(f) for f in state.get("flags") or []},
            )
        except (KeyError, TypeError, ValueError):
            return None
