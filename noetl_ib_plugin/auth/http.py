"""HTTP for auth endpoints: bounded retries on 5xx/429/network, never on 4xx, no secrets in errors."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import requests

from .._version import __version__
from ..backoff import RetryPolicy, parse_retry_after
from ..errors import AuthError, RateLimited, TransientError

__all__ = ["USER_AGENT", "auth_refused", "auth_request", "problem_detail", "raise_for_auth"]

log = logging.getLogger(__name__)

USER_AGENT = f"noetl-ib-plugin/{__version__}"
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


def problem_detail(resp: requests.Response) -> str:
    """IBKR's own words from a problem+json or `{"error": ...}` body, trimmed; never our secrets."""
    try:
        body = resp.json()
    except ValueError:
        text = (resp.text or "").strip().replace("\n", " ")
        return text[:200] or resp.reason or f"HTTP {resp.status_code}"
    if isinstance(body, Mapping):
        for key in ("detail", "error_description", "error", "title", "message"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:200]
    return f"HTTP {resp.status_code}"


def auth_request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    what: str,
    policy: RetryPolicy,
    headers: Mapping[str, str] | None = None,
    data: Any = None,
    timeout: tuple[float, float] = (5.0, 20.0),
    build: Any = None,
) -> requests.Response:
    """Send an auth request, retrying transient failures; `build()` may re-create headers/body per try.

    Returns the final response for the caller to interpret (2xx or a non-retryable 4xx).
    """
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        send_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        send_data = data
        if build is not None:
            extra_headers, send_data = build()
            send_headers.update(extra_headers)
        try:
            resp = session.request(method, url, headers=send_headers, data=send_data, timeout=timeout)
        except requests.RequestException as exc:
            delay = policy.delay(attempt)
            if policy.should_retry(attempt, time.monotonic() - started, delay):
                log.info("%s: %s, retrying in %.2fs", what, type(exc).__name__, delay)
                policy.sleep(delay)
                continue
            raise TransientError(
                f"{what} failed: {type(exc).__name__} talking to {_origin(url)}",
                fix=f"check connectivity to the IBKR API host; the request was retried {attempt} times.",
            ) from None
        if resp.status_code in RETRYABLE_STATUS:
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            delay = policy.delay(attempt, retry_after)
            if policy.should_retry(attempt, time.monotonic() - started, delay):
                log.info("%s: HTTP %s, retrying in %.2fs", what, resp.status_code, delay)
                policy.sleep(delay)
                continue
            detail = problem_detail(resp)
            if resp.status_code == 429:
                raise RateLimited(f"{what}: rate limited by IBKR ({detail})", retry_after=retry_after)
            raise TransientError(
                f"{what}: HTTP {resp.status_code} from IBKR ({detail})", status=resp.status_code
            )
        return resp


def _origin(url: str) -> str:
    """Scheme and host only, for messages."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


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
