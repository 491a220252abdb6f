"""`IBClient`: the facade over one credential's request pipeline, each layer in its own module.

From the bottom: `trading_transport` (pace, authorise, send through the one retry loop,
decode), `authorized` (refresh the token once on 401/410 and resend), `brokerage_session` (open the
brokerage session before a call, reopen it once after "no bridge"), and beside them
`trading_guard` (which account; paper unless live is opted into twice). This module wires
them together and keeps `IBClient`'s public methods.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import requests

from ..auth.base import TokenProvider
from ..common.backoff import RetryPolicy
from ..common.progress import Progress, announce
from ..transport import ensure_limits, limited_session
from .authorized import AuthorizedSender, RefreshBudget
from .brokerage_session import BrokerageSession, BrokerageSessionManager, needs_for
from .lookups import LookupCache, new_history_gate
from .order_flights import OrderFlights
from .pacing import Pacer, install_rate_limit_hook
from .refusals import invalid_account_error, is_invalid_account
from .trading_guard import TradingGuard
from .trading_transport import TradingTransport, decode_answer, is_no_bridge

__all__ = ["READ_ONLY_POSTS", "IBClient", "is_no_bridge"]

log = logging.getLogger(__name__)

#: POSTs that change nothing at IBKR, so they may be retried like GETs.
READ_ONLY_POSTS = frozenset(
    {"/iserver/auth/status", "/tickle", "/iserver/auth/ssodh/init", "/sso/validate"}
)


#: Order placement, modification and question replies: logged at INFO with their outcome.
ORDER_PATHS = re.compile(r"^/iserver/(account/[^/]+/orders|account/[^/]+/order/[^/]+|reply/[^/]+)$")
#: Calls that place, modify or cancel an order of the account in the path: the trading guard
#: runs right before each send, for the token about to be used.
GUARDED_ORDER_PATH = re.compile(r"^/iserver/account/([^/]+)/(?:orders|order/[^/]+)$")


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


class IBClient:
    """Talks to IBKR's trading API for one credential; safe to share between threads.

    Built by `Host` (which hands in the shared pacer, state directory, lookup cache and history
    gate) or directly. `timeout` is (connect, read) seconds per attempt; `pacer` None paces this
    client alone (IBKR's published limits, in memory), False not at all; `state_dir` is where
    the cross-process brokerage-bootstrap lock lives (the token cache directory; None: no
    lock file); `lookups` memoises contract lookups and `history_gate` bounds concurrent
    `/iserver/marketdata/history` requests (fresh ones when not given); `retry_policy` and
    `deadline` (total seconds per HTTP call) default to the design's 1-2-4-8-16 s and 45 s
    (`Host` hands in the ones its `Settings` read); `session` is an optional
    `requests.Session` to send through (it still gets the total deadline); `clock`/`sleep` are
    monotonic seconds, injectable; `progress` is told about waits of a second or more (pacing,
    bridge warm-up, `wait`).
    """

    def __init__(
        self,
        provider: TokenProvider,
        *,
        account_id: str | None = None,
        environment: str = "paper",
        timeout: tuple[float, float] = (5.0, 30.0),
        pacer: Pacer | bool | None = None,
        state_dir: Path | None = None,
        lookups: LookupCache | None = None,
        history_gate: threading.BoundedSemaphore | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        session: requests.Session | None = None,
        allow_live: bool = False,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.provider = provider
        self.environment = environment
        self.allow_live = allow_live
        self.sleep: Callable[[float], None] = sleep or time.sleep
        #: Monotonic seconds (injectable), shared with the layers below.
        self.clock: Callable[[], float] = clock or time.monotonic
        clock = self.clock
        #: Where processes of this credential share state (history slots); None: in memory.
        self.state_dir: Path | None = state_dir
        if isinstance(pacer, Pacer):
            paced = pacer
        elif pacer is False:
            paced = Pacer.disabled()
        else:
            paced = Pacer()
        #: Contract lookups (shared by a host's clients).
        self.lookups = lookups if lookups is not None else LookupCache()
        #: The credential's `/iserver/marketdata/history` slots.
        self.history_gate = history_gate if history_gate is not None else new_history_gate()
        http = session if session is not None else self._new_http(deadline)
        self.transport = TradingTransport(
            provider, http, pacer=paced, retry_policy=retry_policy or RetryPolicy(sleep=self.sleep),
            timeout=timeout, clock=clock)
        if session is not None:  # an injected plain session still gets the total deadline
            ensure_limits(session, self.trading_base_url, deadline=deadline)
        install_rate_limit_hook(http, paced, self.trading_base_url)
        self.authorized = AuthorizedSender(self.transport, provider)
        data = getattr(provider, "data", None)
        self.brokerage_manager = BrokerageSessionManager(
            provider, self._call_without_bootstrap, explicit_account_id=account_id,
            compete=bool(getattr(data, "compete", True)), clock=clock, sleep=self.sleep,
            read_accounts=lambda: self.request("GET", "/iserver/accounts"),
            state_dir=state_dir)
        self.guard = TradingGuard(self.brokerage_manager, account_id)
        #: Placements in progress by client_order_id (shared by `with_options` views).
        self.order_flights = OrderFlights()
        self.progress = progress
        self.transport.progress = self.brokerage_manager.progress = progress

    @staticmethod
    def _new_http(deadline: float | None) -> requests.Session:
        """Keep-alive HTTP session with a pool large enough for concurrent playbook steps."""
        http = limited_session(deadline=deadline, pool_maxsize=32)
        http.headers["Accept"] = "application/json"
        return http

    # -- views and lifecycle -------------------------------------------------------------------

    def wait(self, seconds: float, what: str) -> None:
        """Sleep `seconds` for `what`, telling `progress` first when it is a second or more."""
        announce(self.progress, what, seconds)
        self.sleep(seconds)

    def with_options(self, *, allow_live: bool | None = None) -> IBClient:
        """A view for one call that shares the HTTP session, pacing and bootstrap state."""
        view = copy.copy(self)
        if allow_live is not None:
            view.allow_live = allow_live
        return view

    def close(self) -> None:
        """Release pooled connections."""
        self.transport.http.close()

    def __enter__(self) -> IBClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"IBClient(base={self.trading_base_url!r}, provider={self.provider!r})"

    @property
    def trading_base_url(self) -> str:
        """Trading API root, e.g. `https://api.ibkr.com/v1/api` (not the record's host root)."""
        return self.transport.trading_base_url

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
        """Send one API call (`path` under the trading root) and return its decoded JSON.

        401/410: the token is invalidated (only if still current) and the call is sent once more.
        400 "no bridge": the brokerage bootstrap runs again, then the call is sent once more.
        Raises the package's typed errors (AuthError, BrokerError, InputError on an account
        IBKR does not hold, RateLimited, TransientError, OutcomeUnknown).
        """
        method = method.upper()
        if not path.startswith("/"):
            path = "/" + path
        if idempotent is None:
            idempotent = method == "GET" or (method == "POST" and path in READ_ONLY_POSTS)
        sure = idempotent
        budget = RefreshBudget()  # one refresh per call, also across "no bridge" reopens

        guarded = GUARDED_ORDER_PATH.match(path) if method in ("POST", "DELETE") else None

        def send(before: Callable[[], None]) -> tuple[requests.Response, str]:
            def checked() -> None:
                before()
                if guarded is not None:  # also when a bot posts an order path itself
                    self.ensure_trading_allowed(guarded.group(1))
            return self.authorized.send(method, path, params, json, sure, before=checked,
                                        budget=budget)

        needs = needs_for(path) if bootstrap else None
        resp = self.brokerage_manager.send(method, path, needs, send, reopen=bootstrap)
        if is_invalid_account(resp):
            raise invalid_account_error(method, path, self.brokerage_manager.known_accounts())
        body = decode_answer(method, path, resp)
        if method == "POST" and ORDER_PATHS.match(path):
            log.info("order request %s answered HTTP %s: %s", path, resp.status_code,
                     _order_outcome(body))
        return body

    def _call_without_bootstrap(self, method: str, path: str, json: Any) -> Any:
        """The brokerage bootstrap's own calls: auth refresh, no bootstrap of their own."""
        return self.request(method, path, json=json, bootstrap=False)

    # -- the brokerage session -----------------------------------------------------------------

    def brokerage(self, *, force: bool = False) -> BrokerageSession:
        """The brokerage session for the current token (see `BrokerageSessionManager.brokerage`)."""
        return self.brokerage_manager.brokerage(force=force)

    def session_flag(self, name: str) -> bool:
        """Whether a one-shot fact (e.g. "orders_primed") holds for the current brokerage session."""
        return self.brokerage_manager.has_flag(name)

    def set_session_flag(self, name: str) -> None:
        """Record a one-shot fact for this brokerage session, here and in the token cache."""
        self.brokerage_manager.set_flag(name)

    # -- accounts and the trading guard --------------------------------------------------------

    @property
    def account_id(self) -> str:
        """The credential's account, else IBKR's selected account; both must be IBKR account ids."""
        return self.guard.account_id()

    def listed_accounts(self) -> list[str]:
        """The well-formed account ids `GET /iserver/accounts` lists for this credential."""
        return self.guard.listed_accounts()

    def is_paper(self, account_id: str | None = None) -> bool:
        """Whether IBKR says `account_id` (default: the client's account) is a paper account.

        Decided by `/iserver/accounts` (its account list and `isPaper`), never by the `DU`
        prefix: an id IBKR does not list for this credential raises LiveTradingRefused, and an
        answer without `isPaper` counts as live.
        """
        return self.guard.is_paper(account_id)

    def ensure_trading_allowed(self, account_id: str | None = None) -> str:
        """Return the account to trade, or raise LiveTradingRefused without both opt-ins."""
        return self.guard.ensure_trading_allowed(account_id, environment=self.environment,
                                                 allow_live=self.allow_live)

    # -- small brokerage-session helpers -------------------------------------------------------

    def tickle(self) -> Any:
        """Keep the brokerage session alive (IBKR idles it out after ~6 minutes)."""
        return self.request("POST", "/tickle")

    def auth_status(self) -> Any:
        """`POST /iserver/auth/status` (read-only)."""
        return self.request("POST", "/iserver/auth/status")
