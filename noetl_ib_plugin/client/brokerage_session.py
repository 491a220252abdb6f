"""The brokerage session (IBKR's `/iserver` bridge, not the HTTP session nor the SSO session):
`BrokerageSessionManager` owns its bootstrap state and is the pipeline layer that opens it before a
call and reopens it once after "no bridge". The result is kept beside the token so new
processes skip the bootstrap; the compete flag, the bridge warm-up wait, a cross-process lock
and the typed error for a session another one took over let it survive real sessions."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests

from ..auth.base import Token, TokenProvider
from ..common.file_lock import file_lock
from ..common.progress import Progress, announce
from ..errors import AuthError, BrokerError, SessionTakenOver, TransientError
from .brokerage_state import BrokerageSession
from .keepalive_slot import KeepaliveSlot

__all__ = [
    "BRIDGE_WAIT",
    "BROKERAGE_STATE",
    "PORTFOLIO_STATE",
    "SSO_DH_FIX",
    "BrokerageSession",
    "BrokerageSessionManager",
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

log = logging.getLogger(__name__)

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
def bootstrap_lock(directory: Path | None, key: str, timeout: float) -> Iterator[None]:
    """Single-flight across processes: a lock file in `directory` (the token cache's), if any."""
    if directory is None:
        yield
        return
    with file_lock(Path(directory) / f"{key}-brokerage.lock", timeout=timeout):
        yield


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


#: Longest wait for another thread's bootstrap in this process: its cross-process lock wait
#: (60 s), ssodh/init and the accounts poll (each call under its own deadline) fit well inside.
LOCK_WAIT_SECONDS = 180.0


@contextlib.contextmanager
def _held(lock: threading.RLock, what: str) -> Iterator[None]:
    """Hold `lock`, waiting at most LOCK_WAIT_SECONDS: a stuck holder becomes a typed error."""
    if not lock.acquire(timeout=LOCK_WAIT_SECONDS):
        raise TransientError(
            f"waited {LOCK_WAIT_SECONDS:.0f}s for {what} held by another thread of this process",
            fix="another call is stuck opening the brokerage session; retry later, or restart "
            "the process if it persists.",
        )
    try:
        yield
    finally:
        lock.release()


#: `call(method, path, json)`: one API call below this layer (auth refresh, no bootstrap),
#: returning the decoded answer.
Call = Callable[[str, str, Any], Any]
#: `send(before)`: the call being bootstrapped; runs `before()` ahead of each attempt and
#: returns the answer with the token value that authorised it.
Send = Callable[[Callable[[], None]], tuple[requests.Response, str]]


class BrokerageSessionManager:
    """Owns the brokerage session of one credential: opens it at most once per token, shares
    it through the token cache, and reopens it once when IBKR says "no bridge".

    Safe to share between threads (and the `IBClient.with_options` views); `call` sends the
    bootstrap's own requests, `clock`/`sleep` are monotonic seconds (injectable for tests).
    """

    def __init__(self, provider: TokenProvider, call: Call, *, explicit_account_id: str | None,
                 compete: bool, clock: Callable[[], float],
                 sleep: Callable[[float], None], state_dir: Path | None = None,
                 read_accounts: Callable[[], Any] | None = None) -> None:
        self.provider = provider
        #: Where the cross-process bootstrap lock lives (the token cache directory), or None.
        self.state_dir = state_dir
        self.call = call
        #: `GET /iserver/accounts` through the whole pipeline (bootstrap, reopen after "no
        #: bridge"): how `verified` asks IBKR itself.
        self.read_accounts: Callable[[], Any] = read_accounts or (
            lambda: call("GET", "/iserver/accounts", None))
        self.explicit_account_id = explicit_account_id
        #: ssodh/init `compete` flag (credential data `compete`, default true).
        self.compete = compete
        #: Seconds to wait for the bridge to list accounts after ssodh/init.
        self.bridge_wait: float = BRIDGE_WAIT
        #: Seconds to wait for another process's bootstrap (cross-process lock).
        self.bootstrap_lock_timeout: float = 60.0
        self.clock = clock
        self.sleep = sleep
        #: Told about bridge warm-up polls of a second or more (the front door's; None: silent).
        self.progress: Progress | None = None
        self.lock = threading.RLock()
        self.current: BrokerageSession | None = None
        self.current_token: Token | None = None
        #: Whether `current` was opened by this process (else read from the token cache).
        self.opened_here = False
        #: What IBKR answered *this process* for `verified_token` (never read from a cache).
        self.verified_session: BrokerageSession | None = None
        self.verified_token: Token | None = None
        self.portfolio_token: Token | None = None
        #: The keepalive tickling this session while one runs (client/keepalive.py), so a
        #: stream does not start a second.
        self.keepalive = KeepaliveSlot()

    # -- the pipeline layer ---------------------------------------------------------------------

    def send(self, method: str, path: str, needs: str | None, send: Send, *,
             reopen: bool = True) -> requests.Response:
        """The answer of `send` once the session `needs` names is open; after "no bridge" the
        session is reopened and the call sent once more (twice more, first, when the token
        changed while the call was in flight). Raises BrokerError when "no bridge" persists
        (at once with `reopen=False`: the bootstrap's own calls)."""
        stale_retries, bridge_retries, force = (2, 1, False) if reopen else (0, 0, False)

        def before() -> None:
            nonlocal force
            if needs is not None:
                self.ensure(needs, force=force)
                force = False

        while True:
            resp, token_used = send(before)
            if not is_bootstrap_signal(resp.status_code, resp.text):
                return resp
            opened = self.current_token
            if (opened is None or opened.value != token_used) and stale_retries > 0:
                # The token was replaced while this call was in flight: bootstrap the new
                # token's session without spending the genuine no-bridge retry.
                stale_retries -= 1
                needs = needs or "iserver"
                continue
            if bridge_retries > 0:
                bridge_retries -= 1
                log.info("%s %s: no brokerage session, bootstrapping again", method, path)
                needs, force = needs or "iserver", True
                continue
            raise BrokerError(
                f"{method} {path}: HTTP 400 from IBKR (no bridge) after re-opening the "
                "brokerage session",
                status=400,
                fix="another session may have taken over this username (compete); retry, or "
                "log out of other IBKR sessions for this user.",
            )

    def ensure(self, needs: str, *, force: bool = False) -> None:
        """Run whichever bootstrap `needs` names ("iserver" or "portfolio"), once per token."""
        self.brokerage(force=force)
        if needs == "portfolio":
            self._ensure_portfolio()

    # -- opening and sharing the session --------------------------------------------------------

    def brokerage(self, *, force: bool = False) -> BrokerageSession:
        """The brokerage session for the current token: memory, then the token cache, else open it.

        Opening is single-flight across threads and processes (a lock file beside the token
        cache, whose wait times out); whoever gets the lock re-reads the shared state first.
        `force` (after "no bridge") reopens unless another process already did, and raises
        SessionTakenOver instead when IBKR reports another session of the user competing.
        """
        token = self.provider.current_token()
        if not force and self.current is not None and self.current_token == token:
            return self.current
        with _held(self.lock, "the brokerage-session lock"):
            token = self.provider.current_token()
            if not force and self.current is not None and self.current_token == token:
                return self.current
            # After "no bridge" the saved session is the failed one unless someone reopened
            # since; a failed session this process only read from a cache (a hint any sharer
            # can write, a NoETL keychain included) is not followed by another such hint.
            failed = (self.current.opened_at if self.current is not None and self.opened_here
                      else float("inf")) if force else None
            if not force:
                reused = self._reuse_saved(token, None)
                if reused is not None:
                    return reused
            with bootstrap_lock(self.state_dir, self.provider.cache_key,
                                self.bootstrap_lock_timeout):
                reused = self._reuse_saved(token, failed)
                if reused is not None:
                    return reused
                if force:
                    self._check_not_taken_over()
                return self._open()

    def _reuse_saved(self, token: Token, failed: float | None) -> BrokerageSession | None:
        """The session saved beside this token by any process, unless it is the one that failed."""
        saved = self.provider.load_state(BROKERAGE_STATE)
        session = BrokerageSession.from_state(saved) if saved else None
        if session is None or (failed is not None and session.opened_at <= failed):
            return None
        log.debug("brokerage session reused from the token cache")
        self.current, self.current_token, self.opened_here = session, token, False
        return session

    def _check_not_taken_over(self) -> None:
        """Before reopening after "no bridge": if IBKR says another session competes, stop."""
        try:
            status = self.call("POST", "/iserver/auth/status", None)
        except (TransientError, BrokerError) as exc:  # unknown: reopen, as before this check
            log.debug("auth/status unreadable before reopening the session: %s", exc)
            return
        if isinstance(status, dict) and status.get("competing") is True:
            log.warning("brokerage session taken over by another session of this username")
            raise taken_over(self.compete)

    def _open(self) -> BrokerageSession:
        """`POST /iserver/auth/ssodh/init`, then poll `GET /iserver/accounts` until the bridge is
        warm; remembered with the token for every process sharing the cache."""
        try:
            init = self.call("POST", "/iserver/auth/ssodh/init", ssodh_body(self.compete))
        except (TransientError, BrokerError) as exc:
            if "sso dh token" in str(exc).lower():
                raise AuthError(
                    f"POST /iserver/auth/ssodh/init: HTTP {exc.status} from IBKR (failed to "
                    "generate sso dh token)", status=exc.status, fix=SSO_DH_FIX,
                ) from None
            raise
        if isinstance(init, dict) and init.get("authenticated") is False:
            if init.get("competing") is True:
                raise taken_over(self.compete)
            raise ssodh_refused(init)
        session = self._await_accounts(lambda: self.call("GET", "/iserver/accounts", None))
        self.provider.save_state(BROKERAGE_STATE, session.to_state())
        self.current, self.current_token = session, self.provider.current_token()
        self.opened_here = True
        self.verified_session, self.verified_token = session, self.current_token
        self.portfolio_token = None
        return session

    def verified(self) -> BrokerageSession:
        """Accounts, `selectedAccount` and `isPaper` as IBKR answered this process for the
        current token (`GET /iserver/accounts`, asked at most once per token unless this
        process opened the session itself); never what a token cache holds, which any
        process sharing it, or a NoETL keychain, can write."""
        token = self.provider.current_token()
        if self.verified_session is not None and self.verified_token == token:
            return self.verified_session
        with _held(self.lock, "the brokerage-session lock"):
            self.brokerage()
            token = self.provider.current_token()
            if self.verified_session is not None and self.verified_token == token:
                return self.verified_session
            session = self._await_accounts(self.read_accounts)
            self.verified_session, self.verified_token = session, token
            return session

    def _await_accounts(self, read: Callable[[], Any]) -> BrokerageSession:
        """`read()` (`GET /iserver/accounts`) until it lists accounts (IBKR's bridge warms up
        for 1-5 s after ssodh/init and answers `{}` meanwhile); bounded by `bridge_wait` s."""
        deadline = self.clock() + self.bridge_wait
        pause = BRIDGE_POLL
        while True:
            accounts = read()
            session = BrokerageSession.from_accounts(accounts, time.time())
            if session.accounts:
                return session
            if self.clock() + pause > deadline:
                break
            log.debug("brokerage bridge warming up (no accounts yet); polling again in %.2fs",
                      pause)
            announce(self.progress, "IBKR's brokerage bridge to list the accounts (it warms up "
                     "after ssodh/init)", pause)
            self.sleep(pause)
            pause = min(pause * 2, 2.0)
        if self.explicit_account_id:
            log.warning("IBKR listed no accounts %.0f s after ssodh/init; using data.account_id",
                        self.bridge_wait)
            return session
        raise BrokerError(
            f"IBKR returned no accounts for this credential within {self.bridge_wait:.0f} s of "
            "opening the brokerage session",
            fix="retry in a minute (the session may still be warming up); check that the IBKR "
            "user behind the credential has a trading account.",
        )

    def _ensure_portfolio(self) -> None:
        """`GET /portfolio/accounts` once per token before other `/portfolio/*` calls."""
        token = self.provider.current_token()
        if self.portfolio_token == token:
            return
        with _held(self.lock, "the brokerage-session lock"):
            token = self.provider.current_token()
            if self.portfolio_token == token:
                return
            opened_at = self.brokerage().opened_at
            saved = self.provider.load_state(PORTFOLIO_STATE)
            if not saved or saved.get("session_opened_at") != opened_at:
                self.call("GET", "/portfolio/accounts", None)
                self.provider.save_state(PORTFOLIO_STATE, {"session_opened_at": opened_at})
            self.portfolio_token = self.provider.current_token()

    # -- facts about the open session -----------------------------------------------------------

    def known_accounts(self) -> list[str]:
        """The accounts IBKR reported to this process (none when it has not asked yet); a
        session reused from a cache carries none."""
        if self.verified_session is not None:
            return list(self.verified_session.accounts)
        return list(self.current.accounts) if self.current is not None else []

    def has_flag(self, name: str) -> bool:
        """Whether a one-shot fact (e.g. "orders_primed") holds for the current session."""
        return name in self.brokerage().flags

    def set_flag(self, name: str) -> None:
        """Record a one-shot fact for this session, here and in the token cache."""
        session = self.brokerage()
        with _held(self.lock, "the brokerage-session lock"):
            if name in session.flags:
                return
            session.flags.add(name)
            self.provider.save_state(BROKERAGE_STATE, session.to_state())
