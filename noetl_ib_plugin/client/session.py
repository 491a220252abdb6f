"""`IBClient`: one pooled HTTP session per credential with auth, bootstrap, pacing and retries."""

from __future__ import annotations

import contextlib
import copy
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3.exceptions

from ..auth.base import Token, TokenProvider
from ..auth.http import problem_detail
from ..backoff import RETRYABLE_STATUS, RetryPolicy, retry_call
from ..credentials.accounts import account_id_problem, check_account_id
from ..errors import (
    AuthError,
    BrokerError,
    LiveTradingRefused,
    RateLimited,
    TransientError,
)
from ..transport import SettledSession, ensure_limits, json_body, limited_session
from .bootstrap import (
    BRIDGE_POLL,
    BRIDGE_WAIT,
    BROKERAGE_STATE,
    PORTFOLIO_STATE,
    SSO_DH_FIX,
    BrokerageSession,
    bootstrap_lock,
    is_bootstrap_signal,
    needs_for,
    ssodh_body,
    ssodh_refused,
    taken_over,
)
from .errors import OutcomeUnknown
from .pacing import Pacer, install_rate_limit_hook, pacing_disabled_by_env, shared_pacer
from .refusals import invalid_account_error, is_invalid_account, is_invalid_input

__all__ = ["READ_ONLY_POSTS", "IBClient", "is_no_bridge"]

log = logging.getLogger(__name__)

#: POSTs that change nothing at IBKR, so they may be retried like GETs.
READ_ONLY_POSTS = frozenset(
    {"/iserver/auth/status", "/tickle", "/iserver/auth/ssodh/init", "/sso/validate"}
)
AUTH_FIX = (
    "the token was refreshed once and IBKR still refused it: check that the credential's "
    "consumer/client is registered and not revoked, the system clock is correct, and that no "
    "other process logged the same user out; run `noetl-ib token --refresh --credential NAME` "
    "(NAME: the record's name) to retry."
)


#: Order placement and question replies: logged at INFO with their outcome.
ORDER_PATHS = re.compile(r"^/iserver/(account/[^/]+/orders|reply/[^/]+)$")


def _order_outcome(body: Any) -> str:
    """Order ids/statuses, question ids or IBKR's error from an order answer; nothing else."""
    items = body if isinstance(body, list) else [body]
    parts: list[str] = []
    for item in items[:5]:
        if not isinstance(item, dict):
            continue
        if "order_id" in item:
            parts.append(f"order {str(item['order_id'])[:24]} {str(item.get('order_status', ''))[:24]}")
        elif isinstance(item.get("messageIds"), list):
            parts.append(f"question {','.join(str(m)[:12] for m in item['messageIds'][:5])}")
        elif "error" in item:
            parts.append(f"rejected ({str(item['error'])[:120]})")
    return "; ".join(parts) or "no order in the answer"


def is_no_bridge(resp: requests.Response) -> bool:
    """True for IBKR's 400 "no bridge" / "Init session first" and 500 "Please query /accounts
    first": the brokerage session is not open (anymore, or not yet usable)."""
    return is_bootstrap_signal(resp.status_code, resp.text)


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


def _answers_for_request(resp: requests.Response) -> bool:
    """A 5xx that is IBKR's refusal of the input or a bootstrap signal: never retried here, it
    reaches `request()`, which classifies it (invalid account) or bootstraps and resends once."""
    return is_invalid_input(resp) or is_no_bridge(resp)


def _not_sent(exc: Exception) -> bool:
    """True when the request certainly never reached the server (connect failed)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, urllib3.exceptions.MaxRetryError):
        reason = reason.reason
    return isinstance(
        reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
    )


@dataclass
class _Shared:
    """Mutable state shared by an `IBClient` and its `with_options` views."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    brokerage: BrokerageSession | None = None
    brokerage_token: Token | None = None
    portfolio_token: Token | None = None


class IBClient:
    """Talks to IBKR's trading API for one credential; safe to share between threads."""

    def __init__(
        self,
        provider: TokenProvider,
        *,
        account_id: str | None = None,
        environment: str = "paper",
        timeout: tuple[float, float] = (5.0, 30.0),
        pacer: Pacer | bool | None = None,
        retry_policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        allow_live: bool = False,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.provider = provider
        self.explicit_account_id = account_id
        self.environment = environment
        self.timeout = timeout
        self.allow_live = allow_live
        self.clock: Callable[[], float] = clock or time.monotonic
        self.sleep: Callable[[float], None] = sleep or time.sleep
        if isinstance(pacer, Pacer):
            self.pacer = pacer
        elif pacer is False or (pacer is None and pacing_disabled_by_env()):
            self.pacer = Pacer.disabled()
        else:
            cache_dir = getattr(getattr(provider, "_cache", None), "directory", None)
            self.pacer = shared_pacer(provider.cache_key, cache_dir)
        self.retry_policy = retry_policy or RetryPolicy(sleep=self.sleep)
        self.session = session if session is not None else self._new_session()
        if session is not None:  # an injected plain session still gets the total deadline
            ensure_limits(session, self.api_base_url)
        install_rate_limit_hook(self.session, self.pacer, self.api_base_url)
        self._s = _Shared()
        data = getattr(provider, "data", None)
        #: ssodh/init `compete` flag (credential data `compete`, default true).
        self.compete: bool = bool(getattr(data, "compete", True))
        #: Seconds to wait for the bridge to list accounts after ssodh/init.
        self.bridge_wait: float = BRIDGE_WAIT
        #: Seconds to wait for another process's bootstrap (cross-process lock).
        self.bootstrap_lock_timeout: float = 60.0

    @staticmethod
    def _new_session() -> requests.Session:
        """Keep-alive session with a pool large enough for concurrent playbook steps."""
        sess = limited_session(pool_maxsize=32)
        sess.headers["Accept"] = "application/json"
        return sess

    # -- views and lifecycle -------------------------------------------------------------------

    def with_options(self, *, allow_live: bool | None = None) -> IBClient:
        """A view for one call that shares the HTTP session, pacing and bootstrap state."""
        view = copy.copy(self)
        if allow_live is not None:
            view.allow_live = allow_live
        return view

    def close(self) -> None:
        """Release pooled connections."""
        self.session.close()

    def __enter__(self) -> IBClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"IBClient(base={self.api_base_url!r}, provider={self.provider!r})"

    @property
    def api_base_url(self) -> str:
        """Trading root, e.g. `https://api.ibkr.com/v1/api`."""
        return self.provider.api_base_url.rstrip("/")

    # -- the request pipeline ------------------------------------------------------------------

    def get(self, path: str, *, params: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        """GET (retried on network errors, 5xx and 429)."""
        return self.request("GET", path, params=params, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        """POST; retried only for read-only endpoints unless `idempotent=True`."""
        return self.request("POST", path, json=json, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        """DELETE; never retried blindly."""
        return self.request("DELETE", path, **kw)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        bootstrap: bool = True,
    ) -> Any:
        """Send one API call and return its decoded JSON; raises the package's typed errors.

        401/410: the token is invalidated (only if still current) and the call is sent once more.
        400 "no bridge": the brokerage bootstrap runs again, then the call is sent once more.
        """
        method = method.upper()
        if not path.startswith("/"):
            path = "/" + path
        if idempotent is None:
            idempotent = method == "GET" or (method == "POST" and path in READ_ONLY_POSTS)
        needs = needs_for(path) if bootstrap else None
        auth_retries = 1
        bridge_retries = 1 if bootstrap else 0
        stale_retries = 2 if bootstrap else 0
        force_bootstrap = False
        while True:
            if needs is not None:
                self._ensure(needs, force=force_bootstrap)
                force_bootstrap = False
            resp, token_used = self._send(method, path, params, json, idempotent)
            if resp.status_code in (401, 410):
                detail = problem_detail(resp)
                if auth_retries > 0:
                    auth_retries -= 1
                    log.info("%s %s: HTTP %s, refreshing the token once", method, path,
                             resp.status_code)
                    self.provider.invalidate(token_used)
                    continue
                raise AuthError(
                    f"{method} {path}: HTTP {resp.status_code} from IBKR ({detail})",
                    status=resp.status_code,
                    fix=AUTH_FIX,
                )
            if is_no_bridge(resp):
                opened = self._s.brokerage_token
                token_moved = opened is None or opened.value != token_used
                if token_moved and stale_retries > 0:
                    # The token was replaced while this call was in flight: bootstrap the new
                    # token's session without spending the genuine no-bridge retry.
                    stale_retries -= 1
                    needs = needs or "iserver"
                    continue
                if bridge_retries > 0:
                    bridge_retries -= 1
                    log.info("%s %s: no brokerage session, bootstrapping again", method, path)
                    needs = needs or "iserver"
                    force_bootstrap = True
                    continue
                raise BrokerError(
                    f"{method} {path}: HTTP 400 from IBKR (no bridge) after re-opening the "
                    "brokerage session",
                    status=400,
                    fix="another session may have taken over this username (compete); retry, or "
                    "log out of other IBKR sessions for this user.",
                )
            if is_invalid_account(resp):
                raise invalid_account_error(method, path, self._known_accounts())
            body = self._decode(method, path, resp)
            if method == "POST" and ORDER_PATHS.match(path):
                log.info("order request %s answered HTTP %s: %s", path, resp.status_code,
                         _order_outcome(body))
            return body

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        idempotent: bool,
    ) -> tuple[requests.Response, str]:
        """Pace, authorize and send through the shared retry loop; retry only when that is safe."""
        url = self.api_base_url + path
        token_used = ""

        def send() -> requests.Response:
            nonlocal token_used
            self.pacer.acquire(method, path)
            if isinstance(self.session, SettledSession):  # same request, less generic merging
                prepared = self.session.prepare(method, url, params=params, json=json)
            else:
                prepared = self.session.prepare_request(
                    requests.Request(method, url, params=params, json=json))
            token_used = self.provider.authorize(method, prepared.url or url, prepared.headers)
            return self.session.send(prepared, timeout=self.timeout, allow_redirects=False)

        # Non-idempotent calls are never resent here, not even after a 429: the caller decides
        # (place_order resends once with the same cOID, which IBKR de-duplicates).
        result = retry_call(
            send,
            policy=self.retry_policy,
            what=f"{method} {path}",
            retry_on=(requests.RequestException,),
            error_is_safe=lambda exc: idempotent or _not_sent(exc),
            status_is_safe=idempotent,
            is_final=_answers_for_request,
            clock=self.clock,
        )
        if result.error is not None:
            exc = result.error
            what = f"{method} {path}: {type(exc).__name__} talking to IBKR"
            if not result.spent:
                raise OutcomeUnknown(
                    f"{what}; the request may or may not have been processed",
                    fix="check the state at IBKR before sending it again.",
                ) from None
            raise TransientError(
                f"{what} (tried {result.count} times)",
                fix="check connectivity to the IBKR API host and retry later.",
            ) from None
        resp = result.response
        assert resp is not None
        if resp.status_code in RETRYABLE_STATUS and not _answers_for_request(resp):
            detail = problem_detail(resp)
            what = f"{method} {path}: HTTP {resp.status_code} from IBKR ({detail})"
            if resp.status_code == 429:
                raise RateLimited(what, retry_after=result.retry_after)
            if not idempotent:
                raise OutcomeUnknown(
                    f"{what}; the request may or may not have been processed",
                    status=resp.status_code,
                    fix="check the state at IBKR before sending it again.",
                )
            raise TransientError(
                f"{what} (tried {result.count} times)",
                status=resp.status_code,
                fix="IBKR is having trouble; retry later.",
            )
        return resp, token_used

    @staticmethod
    def _decode(method: str, path: str, resp: requests.Response) -> Any:
        """JSON body of a 2xx answer; a BrokerError with IBKR's message otherwise."""
        if not 200 <= resp.status_code < 300:
            raise BrokerError(
                f"{method} {path}: HTTP {resp.status_code} from IBKR ({problem_detail(resp)})",
                status=resp.status_code,
            )
        if not resp.content:
            return None
        try:
            return json_body(resp)
        except ValueError:
            raise BrokerError(
                f"{method} {path}: IBKR answered HTTP {resp.status_code} with a body that is "
                "not JSON",
                status=resp.status_code,
            ) from None

    # -- bootstrap -----------------------------------------------------------------------------

    def _ensure(self, needs: str, *, force: bool = False) -> None:
        """Run whichever bootstrap `needs` names, at most once per token."""
        self.brokerage(force=force)
        if needs == "portfolio":
            self._ensure_portfolio()

    def brokerage(self, *, force: bool = False) -> BrokerageSession:
        """The brokerage session for the current token: memory, then the token cache, else open it.

        Opening is single-flight across threads and processes (a lock file beside the token
        cache, whose wait times out); whoever gets the lock re-reads the shared state first.
        `force` (after "no bridge") reopens unless another process already did, and raises
        SessionTakenOver instead when IBKR reports another session of the user competing.
        """
        st = self._s
        token = self.provider.current_token()
        if not force and st.brokerage is not None and st.brokerage_token == token:
            return st.brokerage
        with _held(st.lock, "the brokerage-session lock"):
            token = self.provider.current_token()
            if not force and st.brokerage is not None and st.brokerage_token == token:
                return st.brokerage
            # After "no bridge" the saved session is the failed one unless someone reopened since.
            failed = (st.brokerage.opened_at if st.brokerage is not None else float("inf")) \
                if force else None
            if not force:
                reused = self._reuse_saved(token, None)
                if reused is not None:
                    return reused
            cache = getattr(self.provider, "_cache", None)
            with bootstrap_lock(cache, self.provider.cache_key, self.bootstrap_lock_timeout):
                reused = self._reuse_saved(token, failed)
                if reused is not None:
                    return reused
                if force:
                    self._check_not_taken_over()
                return self._open_brokerage()

    def _reuse_saved(self, token: Token, failed: float | None) -> BrokerageSession | None:
        """The session saved beside this token by any process, unless it is the one that failed."""
        saved = self.provider.load_state(BROKERAGE_STATE)
        session = BrokerageSession.from_state(saved) if saved else None
        if session is None or (failed is not None and session.opened_at <= failed):
            return None
        log.debug("brokerage session reused from the token cache")
        self._s.brokerage, self._s.brokerage_token = session, token
        return session

    def _check_not_taken_over(self) -> None:
        """Before reopening after "no bridge": if IBKR says another session competes, stop."""
        try:
            status = self.request("POST", "/iserver/auth/status", bootstrap=False)
        except (TransientError, BrokerError) as exc:  # unknown: reopen, as before this check
            log.debug("auth/status unreadable before reopening the session: %s", exc)
            return
        if isinstance(status, dict) and status.get("competing") is True:
            log.warning("brokerage session taken over by another session of this username")
            raise taken_over(self.compete)

    def _open_brokerage(self) -> BrokerageSession:
        """`POST /iserver/auth/ssodh/init`, then poll `GET /iserver/accounts` until the bridge is
        warm; remembered with the token for every process sharing the cache."""
        st = self._s
        try:
            init = self.request("POST", "/iserver/auth/ssodh/init",
                                json=ssodh_body(self.compete), bootstrap=False)
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
        session = self._await_accounts()
        self.provider.save_state(BROKERAGE_STATE, session.to_state())
        st.brokerage, st.brokerage_token = session, self.provider.current_token()
        st.portfolio_token = None
        return session

    def _await_accounts(self) -> BrokerageSession:
        """`GET /iserver/accounts` until it lists accounts (IBKR's bridge warms up for 1-5 s after
        ssodh/init and answers `{}` meanwhile); bounded by `bridge_wait` seconds."""
        deadline = self.clock() + self.bridge_wait
        pause = BRIDGE_POLL
        while True:
            accounts = self.request("GET", "/iserver/accounts", bootstrap=False)
            session = BrokerageSession.from_accounts(accounts, time.time())
            if session.accounts:
                return session
            if self.clock() + pause > deadline:
                break
            log.debug("brokerage bridge warming up (no accounts yet); polling again in %.2fs",
                      pause)
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
        st = self._s
        token = self.provider.current_token()
        if st.portfolio_token == token:
            return
        with _held(st.lock, "the brokerage-session lock"):
            token = self.provider.current_token()
            if st.portfolio_token == token:
                return
            opened_at = self.brokerage().opened_at
            saved = self.provider.load_state(PORTFOLIO_STATE)
            if not saved or saved.get("session_opened_at") != opened_at:
                self.request("GET", "/portfolio/accounts", bootstrap=False)
                self.provider.save_state(PORTFOLIO_STATE, {"session_opened_at": opened_at})
            st.portfolio_token = self.provider.current_token()

    def session_flag(self, name: str) -> bool:
        """Whether a one-shot fact (e.g. "orders_primed") holds for the current brokerage session."""
        return name in self.brokerage().flags

    def set_session_flag(self, name: str) -> None:
        """Record a one-shot fact for this brokerage session, here and in the token cache."""
        session = self.brokerage()
        with _held(self._s.lock, "the brokerage-session lock"):
            if name in session.flags:
                return
            session.flags.add(name)
            self.provider.save_state(BROKERAGE_STATE, session.to_state())

    # -- accounts and the paper guard ----------------------------------------------------------

    def _known_accounts(self) -> list[str]:
        """The accounts the brokerage session reported (none when it is not open)."""
        session = self._s.brokerage
        return list(session.accounts) if session is not None else []

    @property
    def account_id(self) -> str:
        """The credential's account, else IBKR's selected account; both must be IBKR account ids."""
        if self.explicit_account_id:
            return check_account_id(self.explicit_account_id, "data.account_id")
        session = self.brokerage()
        selected = session.selected_account
        if not selected:
            raise BrokerError(
                "IBKR did not say which account to use",
                fix="set data.account_id in the credential record.",
            )
        if account_id_problem(selected) is not None:
            raise BrokerError(
                "IBKR's selectedAccount is not an account id this client accepts",
                field="selectedAccount",
                fix="set data.account_id in the credential record to the account to use.",
            )
        return selected

    def listed_accounts(self) -> list[str]:
        """The well-formed account ids `GET /iserver/accounts` lists for this credential."""
        session = self.brokerage()
        return [a for a in session.accounts if account_id_problem(a) is None]

    def is_paper(self, account_id: str | None = None) -> bool:
        """Whether IBKR says `account_id` (default: the client's account) is a paper account.

        Decided by `/iserver/accounts` (its account list and `isPaper`), never by the `DU`
        prefix: an id IBKR does not list for this credential raises LiveTradingRefused, and an
        answer without `isPaper` counts as live.
        """
        acct = check_account_id(account_id or self.account_id)
        session = self.brokerage()
        listed = self.listed_accounts()
        if acct not in listed:
            known = ", ".join(listed) if listed else "none"
            raise LiveTradingRefused(
                f"account {acct} is not one IBKR lists for this credential (its accounts: "
                f"{known})",
                field="account_id",
                fix=f"pass account_id={listed[0] if listed else 'YOUR_ACCOUNT_ID'} (one of its "
                "accounts; `noetl-ib run accounts --credential NAME` lists them), or leave "
                "account_id out to use IBKR's selected account.",
            )
        return session.is_paper is True

    def ensure_trading_allowed(self, account_id: str | None = None) -> str:
        """Return the account to trade, or raise LiveTradingRefused without both opt-ins."""
        acct = check_account_id(account_id or self.account_id)
        if self.is_paper(acct):
            return acct
        if self.environment == "live" and self.allow_live is True:  # not merely truthy
            log.warning("trading on LIVE account %s (credential environment=live, allow_live)",
                        acct)
            return acct
        missing = []
        if self.environment != "live":
            missing.append('set "environment": "live" in the credential record\'s data')
        if self.allow_live is not True:
            missing.append("pass allow_live=True (CLI: --allow-live)")
        raise LiveTradingRefused(
            f"refusing to trade on account {acct}: IBKR does not report it as a paper account",
            field="account_id",
            fix="to trade a live account on purpose, " + " and ".join(missing) + ".",
        )

    # -- small session helpers -----------------------------------------------------------------

    def tickle(self) -> Any:
        """Keep the brokerage session alive (IBKR idles it out after ~6 minutes)."""
        return self.request("POST", "/tickle")

    def auth_status(self) -> Any:
        """`POST /iserver/auth/status` (read-only)."""
        return self.request("POST", "/iserver/auth/status")
