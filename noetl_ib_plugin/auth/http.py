"""HTTP for auth endpoints: bounded retries on 5xx/429/network, never on 4xx, no secrets in errors."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from ..common.backoff import RetryPolicy, retry_call
from ..credentials.urls import is_loopback
from ..errors import AuthError, RateLimited, TransientError
from ..transport import USER_AGENT, ensure_limits, json_body, origin

__all__ = ["USER_AGENT", "auth_refused", "auth_request", "problem_detail", "raise_for_auth",
           "unreachable_fix"]

log = logging.getLogger(__name__)


def problem_detail(resp: requests.Response) -> str:
    """IBKR's own words from a problem+json or `{"error": ...}` body, trimmed; never our secrets."""
    try:
        body = json_body(resp)
    except ValueError:
        text = (resp.text or "").strip().replace("\n", " ")
        if text.startswith("<") or "html" in resp.headers.get("Content-Type", "").lower():
            return f"HTTP {resp.status_code} with an HTML page (not shown)"
        return text[:200] or resp.reason or f"HTTP {resp.status_code}"
    if isinstance(body, Mapping):
        for key in ("detail", "error_description", "error", "title", "message"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:200]
    return f"HTTP {resp.status_code}"


def unreachable_fix(url: str, tries: int) -> str:
    """The fix for a host that never answered; on loopback that is most often a stopped simulator."""
    try:
        loopback = is_loopback(urlsplit(url).hostname or "")
    except ValueError:
        loopback = False
    if loopback:
        return (f"nothing answers at {origin(url)}: if that is the simulator, start it again "
                "(`noetl-ib simulator --state-dir DIR` writes its new URL into DIR/credentials.json) "
                f"or point the record at the running one; the request was tried {tries} times.")
    return f"check connectivity to the IBKR API host; the request was tried {tries} times."


def auth_request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    what: str,
    policy: RetryPolicy,
    deadline: float | None = None,
    headers: Mapping[str, str] | None = None,
    data: Any = None,
    timeout: tuple[float, float] = (5.0, 20.0),
    build: Any = None,
) -> requests.Response:
    """Send an auth request through the shared retry loop; `build()` may re-create headers/body per try.

    Redirects are never followed (a 3xx raises `RedirectRefused`), and each attempt has a total
    deadline (`transport.DeadlineAdapter`: `deadline` seconds, default 45). Returns the final
    response for the caller to interpret (2xx or a non-retryable 4xx); raises
    RateLimited/TransientError when retries are spent.
    """
    ensure_limits(session, url, deadline=deadline)

    def send() -> requests.Response:
        send_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        send_data = data
        if build is not None:
            extra_headers, send_data = build()
            send_headers.update(extra_headers)
        return session.request(method, url, headers=send_headers, data=send_data,
                               timeout=timeout, allow_redirects=False)

    result = retry_call(send, policy=policy, what=what, retry_on=(requests.RequestException,))
    if result.error is not None:
        raise TransientError(
            f"{what} failed: {type(result.error).__name__} talking to {origin(url)}",
            fix=unreachable_fix(url, result.count),
        ) from None
    resp = result.response
    assert resp is not None
    if result.spent:
        detail = problem_detail(resp)
        if resp.status_code == 429:
            raise RateLimited(f"{what}: rate limited by IBKR ({detail})",
                              retry_after=result.retry_after)
        raise TransientError(
            f"{what}: HTTP {resp.status_code} from IBKR ({detail})", status=resp.status_code
        )
    return resp


def auth_refused(resp: requests.Response, what: str, causes: str) -> AuthError:
    """The AuthError for a refused auth request: status, IBKR's words, and the likely causes."""
    return AuthError(
        f"{what} was refused: HTTP {resp.status_code} ({problem_detail(resp)})",
        status=resp.status_code,
        fix=causes,
    )


def raise_for_auth(resp: requests.Response, what: str, causes: str) -> None:
    """Turn a non-2xx auth answer into an AuthError that lists likely causes."""
    if not 200 <= resp.status_code < 300:
        raise auth_refused(resp, what, causes)
