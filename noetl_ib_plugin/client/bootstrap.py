"""The brokerage-session bootstrap's result, kept beside the token so new processes skip it,
plus what the bootstrap needs to survive real sessions: the compete flag, the bridge warm-up
wait, a cross-process lock, and the typed error for a session another one took over."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AuthError, SessionTakenOver
from .filelock import file_lock

__all__ = [
    "BRIDGE_WAIT",
    "BROKERAGE_STATE",
    "PORTFOLIO_STATE",
    "SSO_DH_FIX",
    "BrokerageSession",
    "SessionTakenOver",
    "bootstrap_lock",
    "is_bootstrap_signal",
    "needs_for",
    "ssodh_body",
    "ssodh_refused",
    "taken_over",
]

#: Names under which the state rides in the provider's token cache entry.
BROKERAGE_STATE = "brokerage"
PORTFOLIO_STATE = "portfolio"

SSODH_INIT_BODY = {"publish": True, "compete": True}

#: Seconds to wait after `ssodh/init` for `/iserver/accounts` to list accounts (IBKR: 1-5 s).
BRIDGE_WAIT = 20.0
#: Polls of `/iserver/accounts` start this far apart and double up to 2 s.
BRIDGE_POLL = 0.25

#: IBKR's 500 "failed to generate sso dh token" and similar ssodh/init refusals.
SSO_DH_FIX = (
    "IBKR refused to open a brokerage session for this user. Usual causes: the username or "
    "account is not eligible for the Web API (e.g. not fully approved or funded), a new paper "
    "account in its first one or two weeks, market data/trading permissions still pending, or "
    "IBKR's nightly maintenance; check the account in the IBKR portal and retry later."
)

#: IBKR's answers that mean "(re)open the brokerage session, then send the call once more".
_BOOTSTRAP_SIGNALS = ((400, "no bridge"), (400, "init session first"),
                      (500, "please query /accounts first"))


def is_bootstrap_signal(status: int, text: str) -> bool:
    """True for IBKR's 400 "no bridge", 400 "Init session first" and 500 "Please query
    /accounts first": the brokerage session is not (or not yet) usable."""
    low = (text or "").lower()
    return any(status == code and phrase in low for code, phrase in _BOOTSTRAP_SIGNALS)


def ssodh_body(compete: bool) -> dict[str, bool]:
    """`POST /iserver/auth/ssodh/init` body; compete=true logs out other sessions of the user."""
    return {"publish": True, "compete": compete}


def taken_over(compete: bool) -> SessionTakenOver:
    """The typed error for a competing or kicked session, with how to avoid it."""
    share = ("run every process of this user with the same token cache directory "
             "(NOETL_IB_CACHE_DIR) so they share one session")
    if compete:
        what = ("another session of the same IBKR username took the brokerage session over "
                "(IBKR allows one per username: TWS, the portal, the mobile app or another "
                "process with a different token cache)")
        # compete is already true here: telling the user to set it would change nothing.
        fix = (f"{share}; to use it here, log out of TWS/the portal or stop the other process "
               "for this username, then run again (the session is reopened once nobody else "
               "holds it).")
    else:
        what = ("another session of the same IBKR username holds the brokerage session and "
                "this credential has compete=false")
        fix = (f"{share}, and log out of TWS/the portal for this username; or set "
               "\"compete\": true in the credential's data to take the session over on the "
               "next run.")
    return SessionTakenOver(
        f"{what}; not reopening it to avoid sessions kicking each other",
        field="compete",
        fix=fix,
    )


def ssodh_refused(init: Any) -> AuthError:
    """ssodh/init answered authenticated=false without competing."""
    message = init.get("message") or init.get("fail") if isinstance(init, dict) else None
    return AuthError(
        "IBKR did not open the brokerage session (ssodh/init answered authenticated=false"
        f"{', ' + str(message) if message else ''})",
        fix=SSO_DH_FIX,
    )


@contextlib.contextmanager
def bootstrap_lock(cache: Any, key: str, timeout: float) -> Iterator[None]:
    """Single-flight across processes: a lock file beside the token cache (when it is on disk)."""
    directory = getattr(cache, "directory", None)
    if directory is None:
        yield
        return
    with file_lock(Path(directory) / f"{key}-brokerage.lock", timeout=timeout):
        yield


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
            accounts = [str(a) for a in state["accounts"]]
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


def needs_for(path: str) -> str | None:
    """Which bootstrap a path needs: "iserver" (brokerage session), "portfolio", or None."""
    if path.startswith("/iserver/auth/"):
        return None
    if path.startswith("/iserver/"):
        return "iserver"
    if path == "/portfolio/accounts":
        return "iserver"
    if path.startswith("/portfolio/"):
        return "portfolio"
    return None
