"""Client-side pacing: stay below IBKR's published limits instead of collecting 429s."""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = [
    "DEFAULT_LIMITS",
    "Limit",
    "Pacer",
    "limits_for",
    "pacing_disabled_by_env",
    "shared_pacer",
]

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class Limit:
    """At most `count` requests in any `period` seconds (a sliding window measured at send time)."""

    count: int
    period: float


#: IBKR's published limits (doc §9); "global" applies to every trading request.
DEFAULT_LIMITS: dict[str, Limit] = {
    "global": Limit(50, 1.0),
    "snapshot": Limit(10, 1.0),
    "tickle": Limit(1, 1.0),
    "sso_validate": Limit(1, 60.0),
    "live_orders": Limit(1, 5.0),
    "portfolio_accounts": Limit(1, 5.0),
    "trades": Limit(1, 5.0),
}

#: Per-endpoint rules: (method or None for any, path) -> limit name.
_ENDPOINT_RULES: tuple[tuple[str | None, str, str], ...] = (
    ("GET", "/iserver/marketdata/snapshot", "snapshot"),
    (None, "/tickle", "tickle"),
    (None, "/sso/validate", "sso_validate"),
    ("GET", "/iserver/account/orders", "live_orders"),
    (None, "/portfolio/accounts", "portfolio_accounts"),
    (None, "/iserver/account/trades", "trades"),
    (None, "/iserver/trades", "trades"),
)


def limits_for(method: str, path: str) -> tuple[str, ...]:
    """Names of the limits one request counts against (always "global" first)."""
    method = method.upper()
    names = ["global"]
    for rule_method, rule_path, name in _ENDPOINT_RULES:
        if path == rule_path and (rule_method is None or rule_method == method):
            names.append(name)
    return tuple(names)


def pacing_disabled_by_env() -> bool:
    """`NOETL_IB_PACING=off` (or 0/false/no) turns client pacing off, e.g. against a lax simulator."""
    value = os.environ.get("NOETL_IB_PACING", "").strip().lower()
    return value in ("off", "0", "false", "no", "disabled")


class Pacer:
    """Sliding-window limiter shared by every thread: a request waits until all its windows allow it.

    The window is widened by `margin` (fraction) plus `slack` seconds so network jitter between
    our send time and IBKR's arrival time cannot push two windows' worth into one.
    """

    def __init__(
        self,
        limits: Mapping[str, Limit] | None = None,
        *,
        enabled: bool = True,
        margin: float = 0.01,
        slack: float = 0.005,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self.limits = {**DEFAULT_LIMITS, **(limits or {})}
        self.enabled = enabled
        self.margin = margin
        self.slack = slack
        self._clock: Clock = clock or time.monotonic
        self._sleep: Sleep = sleep or time.sleep
        self._lock = threading.Lock()
        self._sent: dict[str, deque[float]] = {}
        self.waited = 0.0

    @classmethod
    def disabled(cls) -> Pacer:
        """A pacer that never waits (tests against a simulator with pacing off)."""
        return cls(enabled=False)

    def _span(self, limit: Limit) -> float:
        """The widened window length used for one limit."""
        return limit.period * (1.0 + self.margin) + self.slack

    def _earliest(self, names: tuple[str, ...], now: float) -> float:
        """Earliest time >= now at which one more request fits every named window (lock held)."""
        earliest = now
        for name in names:
            limit = self.limits.get(name)
            if limit is None:
                continue
            span = self._span(limit)
            sent = self._sent.setdefault(name, deque())
            while sent and sent[0] <= now - span:
                sent.popleft()
            if len(sent) >= limit.count:
                earliest = max(earliest, sent[-limit.count] + span)
        return earliest

    def acquire(self, method: str, path: str) -> float:
        """Block until the request may be sent, record it, and return the seconds waited."""
        if not self.enabled:
            return 0.0
        names = limits_for(method, path)
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                at = self._earliest(names, now)
                if at <= now:
                    for name in names:
                        if name in self.limits:
                            self._sent.setdefault(name, deque()).append(now)
                    self.waited += waited
                    return waited
            pause = at - now
            self._sleep(pause)
            waited += pause

    def reset(self) -> None:
        """Forget the history (tests)."""
        with self._lock:
            self._sent.clear()


_SHARED: dict[str, Pacer] = {}
_SHARED_LOCK = threading.Lock()


def shared_pacer(key: str) -> Pacer:
    """The process-wide pacer for one credential (keyed by the provider's cache key)."""
    with _SHARED_LOCK:
        pacer = _SHARED.get(key)
        if pacer is None:
            pacer = _SHARED[key] = Pacer()
        return pacer
