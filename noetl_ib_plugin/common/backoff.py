"""The one retry loop and its timing, shared by the token endpoints and the trading client.

Default policy (the bot design document): exponential backoff 1, 2, 4, 8, 16 s with ±10 %
jitter, at most 5 retries (~31 s of waiting), a server's `Retry-After` honoured (RFC 9110
§10.2.3) up to `max_retry_after`. Every knob can be set per client (`RetryPolicy(...)`) or by
environment (`NOETL_IB_RETRY_MAX_RETRIES`, `NOETL_IB_RETRY_BASE_DELAY`,
`NOETL_IB_RETRY_MAX_DELAY`, `NOETL_IB_RETRY_MAX_TOTAL`), which a front door reads into its
`Settings` and the `Host` turns into a policy (`RetryPolicy.from_environ`); `sleep`, `rand` and
the clock are injectable so tests never sleep for real.

Logging: WARNING for each retry, ERROR when the retries are spent.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from ..errors import ConfigurationError

__all__ = [
    "RETRYABLE_STATUS",
    "Attempts",
    "RetryPolicy",
    "parse_retry_after",
    "retry_call",
]

log = logging.getLogger(__name__)

#: Answers worth another try: rate limited (429) and server-side trouble (5xx but 501).
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})

#: Environment variables `RetryPolicy.from_environ` reads for the knobs not given explicitly.
ENV_MAX_RETRIES = "NOETL_IB_RETRY_MAX_RETRIES"
ENV_BASE_DELAY = "NOETL_IB_RETRY_BASE_DELAY"
ENV_MAX_DELAY = "NOETL_IB_RETRY_MAX_DELAY"
ENV_MAX_TOTAL = "NOETL_IB_RETRY_MAX_TOTAL"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Read `Retry-After` as seconds or an HTTP date; None when absent, unreadable or not finite."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _env_number(environ: Mapping[str, str], name: str, default: float, *, low: float,
                high: float) -> float:
    """A bounded, finite number from `environ`; a bad value is a ConfigurationError."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise ConfigurationError(
            f"{name}={raw[:20]!r} is not a number between {low:g} and {high:g}",
            field=name,
            fix=f"unset {name} to use the default ({default:g}), or give a number in range.",
        )
    return value


@dataclass
class RetryPolicy:
    """Bounded exponential backoff with ±`jitter`: no retry starts after `max_total` seconds.

    `max_attempts` counts the first try (6 = 1 + 5 retries). Delays are seconds.
    """

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 16.0
    max_total: float = 60.0
    #: Relative jitter: 0.1 spreads each delay over [0.9, 1.1] times its nominal value.
    jitter: float = 0.1
    #: Upper bound on a server's Retry-After we are willing to honour inside one call.
    max_retry_after: float = 60.0
    rand: Callable[[], float] = field(default=random.random, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **knobs: Any) -> RetryPolicy:
        """The policy with the `NOETL_IB_RETRY_*` values of `environ` (each checked: a bad one
        is a ConfigurationError naming it) as defaults; `knobs` (e.g. `sleep`) win."""
        defaults = cls()
        return cls(**{
            "max_attempts": 1 + int(_env_number(environ, ENV_MAX_RETRIES, defaults.max_attempts - 1,
                                                low=0, high=10)),
            "base_delay": _env_number(environ, ENV_BASE_DELAY, defaults.base_delay,
                                      low=0.0, high=60.0),
            "max_delay": _env_number(environ, ENV_MAX_DELAY, defaults.max_delay,
                                     low=0.0, high=300.0),
            "max_total": _env_number(environ, ENV_MAX_TOTAL, defaults.max_total,
                                     low=0.0, high=3600.0),
            **knobs,
        })

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Delay in seconds before retry number `attempt` (1-based), at least Retry-After."""
        nominal = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        jittered = nominal * (1.0 + self.jitter * (2.0 * self.rand() - 1.0))
        if retry_after is not None:
            return min(max(jittered, retry_after), self.max_retry_after)
        return max(0.0, jittered)

    def should_retry(self, attempt: int, elapsed: float, next_delay: float) -> bool:
        """True while another attempt fits in both the count and the time budget."""
        return attempt < self.max_attempts and elapsed + next_delay <= self.max_total


class _HasStatus(Protocol):
    status_code: int

    @property
    def headers(self) -> Mapping[str, str]: ...

    def close(self) -> None: ...


R = TypeVar("R", bound=_HasStatus)


@dataclass
class Attempts(Generic[R]):
    """How a retried call ended: the last response or the last error, and the tries made."""

    response: R | None
    error: Exception | None
    count: int
    #: True when the call failed in a retryable way and no retry was left (or allowed).
    spent: bool
    retry_after: float | None = None


def retry_call(
    send: Callable[[], R],
    *,
    policy: RetryPolicy,
    what: str,
    retry_on: tuple[type[Exception], ...],
    error_is_safe: Callable[[Exception], bool] = lambda _exc: True,
    status_is_safe: bool = True,
    is_final: Callable[[R], bool] = lambda _resp: False,
    clock: Callable[[], float] = time.monotonic,
) -> Attempts[R]:
    """Call `send()` until it answers non-retryably or the policy is spent; never raises `retry_on`.

    A `retry_on` exception is retried only when `error_is_safe(exc)`; a RETRYABLE_STATUS answer
    only when `status_is_safe` (a non-idempotent request must not be sent twice by accident) and
    not `is_final(answer)` (e.g. a 500 that refuses the caller's input: retrying cannot help).
    """
    started = clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            resp = send()
        except retry_on as exc:
            safe = error_is_safe(exc)
            delay = policy.delay(attempt)
            if safe and policy.should_retry(attempt, clock() - started, delay):
                log.warning("%s: %s, retry %d in %.2fs", what, type(exc).__name__, attempt, delay)
                policy.sleep(delay)
                continue
            if safe:
                log.error("%s: %s; giving up after %d attempt(s)", what, type(exc).__name__,
                          attempt)
            return Attempts(None, exc, attempt, spent=safe)
        if resp.status_code not in RETRYABLE_STATUS or is_final(resp):
            return Attempts(resp, None, attempt, spent=False)
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        delay = policy.delay(attempt, retry_after)
        if status_is_safe and policy.should_retry(attempt, clock() - started, delay):
            log.warning("%s: HTTP %s, retry %d in %.2fs", what, resp.status_code, attempt, delay)
            resp.close()
            policy.sleep(delay)
            continue
        if status_is_safe:
            log.error("%s: HTTP %s; giving up after %d attempt(s)", what, resp.status_code,
                      attempt)
        return Attempts(resp, None, attempt, spent=status_is_safe, retry_after=retry_after)
