"""The trading transport: pace, authorise, send (through the one retry loop) and decode.

The bottom layer of `IBClient`'s request pipeline (auth refresh and the brokerage bootstrap
sit above it, in `authorized.py` and `bootstrap.py`). It never resends a non-idempotent call:
a reset or 5xx there is an `OutcomeUnknown` for the caller to reconcile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import requests
import urllib3.exceptions

from ..auth.base import TokenProvider
from ..auth.http import problem_detail, unreachable_fix
from ..common.backoff import RETRYABLE_STATUS, RetryPolicy, retry_call
from ..common.progress import Progress
from ..errors import BrokerError, OutcomeUnknown, RateLimited, TransientError
from ..transport import SettledSession, json_body
from .brokerage_session import is_bootstrap_signal
from .forbidden import forbidden_error
from .pacing import Pacer
from .refusals import is_invalid_input

__all__ = ["TradingTransport", "decode_answer", "is_no_bridge"]


def is_no_bridge(resp: requests.Response) -> bool:
    """True for IBKR's 400 "no bridge" / "Init session first" and 500 "Please query /accounts
    first": the brokerage session is not open (anymore, or not yet usable)."""
    return is_bootstrap_signal(resp.status_code, resp.text)


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


def decode_answer(method: str, path: str, resp: requests.Response) -> Any:
    """JSON body of a 2xx answer (None when empty); a BrokerError with IBKR's message otherwise,
    also for a 2xx whose body is not JSON (or nests too deeply)."""
    if resp.status_code == 403:
        raise forbidden_error(method, path, resp)
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


class TradingTransport:
    """Sends one trading-API call: paced, authorised by the provider, retried only when safe.

    `http` is the pooled `requests.Session`; `timeout` is (connect, read) seconds per attempt
    (the session's adapter adds the total deadline); `clock` is monotonic seconds.
    """

    def __init__(
        self,
        provider: TokenProvider,
        http: requests.Session,
        *,
        pacer: Pacer,
        retry_policy: RetryPolicy,
        timeout: tuple[float, float],
        clock: Callable[[], float],
    ) -> None:
        self.provider = provider
        self.http = http
        self.pacer = pacer
        self.retry_policy = retry_policy
        self.timeout = timeout
        self.clock = clock
        #: Told about pacing waits of a second or more (the front door's; None: silent).
        self.progress: Progress | None = None

    @property
    def trading_base_url(self) -> str:
        """The trading API root, e.g. `https://api.ibkr.com/v1/api` (no trailing slash)."""
        return self.provider.trading_base_url.rstrip("/")

    def send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        idempotent: bool,
    ) -> tuple[requests.Response, str]:
        """The final answer and the token value that authorised it.

        Raises RateLimited (429 after the retries), TransientError (5xx or network trouble of
        an idempotent call, retries spent) or OutcomeUnknown (a non-idempotent call that may
        have reached IBKR). 4xx, bootstrap signals and input refusals are returned as they are.
        """
        url = self.trading_base_url + path
        token_used = ""

        def send() -> requests.Response:
            nonlocal token_used
            self.pacer.acquire(method, path, self.progress)
            if isinstance(self.http, SettledSession):  # same request, less generic merging
                prepared = self.http.prepare(method, url, params=params, json=json)
            else:
                prepared = self.http.prepare_request(
                    requests.Request(method, url, params=params, json=json))
            token_used = self.provider.authorize(method, prepared.url or url, prepared.headers)
            return self.http.send(prepared, timeout=self.timeout, allow_redirects=False)

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
                fix=unreachable_fix(url, result.count),
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
