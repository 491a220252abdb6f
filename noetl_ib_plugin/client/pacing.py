"""Client-side pacing: stay below IBKR's published limits instead of collecting 429s.

IBKR counts per username, and playbook steps are separate processes, so the pacer of a
credential whose token cache is on disk keeps its history in that directory
(`<cache_key>-pacing.json`, guarded by a lock file whose wait times out): every process of the
credential shares one set of windows. A 429 fills the endpoint's window, so the next attempt
waits the whole window out instead of retrying at once (IBKR boxes repeat offenders for 10 min).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from ..common.file_lock import file_lock, open_private
from ..common.progress import Progress, announce
from ..errors import ConfigurationError

__all__ = [
    "DEFAULT_LIMITS",
    "FilePacer",
    "Limit",
    "Pacer",
    "install_rate_limit_hook",
    "limits_for",
]

log = logging.getLogger(__name__)

Clock = Callable[[], float]
#: A pacing history is a few KiB; anything past this is not ours.
MAX_PACING_BYTES = 1 << 20
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
    "pnl": Limit(1, 5.0),
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
    ("GET", "/iserver/account/pnl/partitioned", "pnl"),
)


def limits_for(method: str, path: str) -> tuple[str, ...]:
    """Names of the limits one request counts against (always "global" first)."""
    method = method.upper()
    names = ["global"]
    for rule_method, rule_path, name in _ENDPOINT_RULES:
        if path == rule_path and (rule_method is None or rule_method == method):
            names.append(name)
    return tuple(names)


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

    def _earliest(self, names: tuple[str, ...], now: float,
                  history: dict[str, deque[float]] | None = None) -> float:
        """Earliest time >= now at which one more request fits every named window (lock held)."""
        history = self._sent if history is None else history
        earliest = now
        for name in names:
            limit = self.limits.get(name)
            if limit is None:
                continue
            span = self._span(limit)
            sent = history.setdefault(name, deque())
            while sent and sent[0] <= now - span:
                sent.popleft()
            if len(sent) >= limit.count:
                earliest = max(earliest, sent[-limit.count] + span)
        return earliest

    def acquire(self, method: str, path: str, progress: Progress | None = None) -> float:
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
            announce(progress, f"IBKR's pacing limit on {method} {path}", pause)
            self._sleep(pause)
            waited += pause

    def reset(self) -> None:
        """Forget the history (tests)."""
        with self._lock:
            self._sent.clear()

    def _fill(self, names: tuple[str, ...], now: float,
              history: dict[str, deque[float]]) -> None:
        """Mark the endpoint's windows (not the global one, unless alone) as full from now."""
        specific = [n for n in names if n != "global" and n in self.limits] or ["global"]
        for name in specific:
            history.setdefault(name, deque()).extend([now] * self.limits[name].count)

    def note_rate_limited(self, method: str, path: str) -> None:
        """IBKR answered 429: the next request to this endpoint waits its whole window out."""
        if not self.enabled:
            return
        with self._lock:
            self._fill(limits_for(method, path), self._clock(), self._sent)


class FilePacer(Pacer):
    """A Pacer whose windows live in a JSON file shared by every process of one credential.

    The file holds send times from the wall clock (`time.time`, comparable across processes);
    each acquire reads, decides and writes under `file_lock` (its wait times out).
    """

    def __init__(
        self,
        path: Path,
        limits: Mapping[str, Limit] | None = None,
        *,
        margin: float = 0.01,
        slack: float = 0.005,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        lock_timeout: float = 30.0,
    ) -> None:
        super().__init__(limits, margin=margin, slack=slack, clock=clock or time.time,
                         sleep=sleep)
        self.path = Path(path)
        self.lock_path = self.path.with_suffix(".lock")
        self.lock_timeout = lock_timeout

    def _load(self, now: float) -> dict[str, deque[float]]:
        """The shared history; a missing, damaged, foreign (symlink, another user's) file is empty.

        Send times must be finite; one ahead of `now` (the wall clock stepped back, a damaged
        file) counts as sent now, so no request ever waits more than one window.
        """
        try:
            fd = open_private(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return {}
        except (OSError, ConfigurationError):
            log.warning("ignoring a pacing file this user cannot trust: %s", self.path.name)
            return {}
        try:
            with os.fdopen(fd, "rb") as fh:
                raw = fh.read(MAX_PACING_BYTES + 1)
            if len(raw) > MAX_PACING_BYTES:
                raise ValueError("oversized")
            data = json.loads(raw.decode("utf-8"))
            sent = data.get("sent", {}) if isinstance(data, dict) else {}
            times = {str(k): [float(t) for t in v
                              if isinstance(t, (int, float)) and math.isfinite(t)]
                     for k, v in sent.items() if isinstance(v, list)}
        except (OSError, ValueError, TypeError, AttributeError, RecursionError):
            log.warning("ignoring a damaged pacing file %s", self.path.name)
            return {}
        history = {k: deque(sorted(min(t, now) for t in v)) for k, v in times.items()}
        if any(t > now for v in times.values() for t in v):
            log.warning("pacing file %s held send times ahead of the clock; counted as now",
                        self.path.name)
            self._store(history, now)  # else every later load clamps to a new "now" again
        return history

    def _store(self, history: dict[str, deque[float]], now: float) -> None:
        """Write the history back atomically, dropping entries older than their window."""
        keep: dict[str, list[float]] = {}
        for name, sent in history.items():
            limit = self.limits.get(name)
            if limit is None:
                continue
            horizon = now - self._span(limit)
            recent = [t for t in sent if t > horizon][-limit.count * 2:]
            if recent:
                keep[name] = recent
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"v": 1, "sent": keep}, fh, separators=(",", ":"))
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def acquire(self, method: str, path: str, progress: Progress | None = None) -> float:
        """Block until every process's requests leave room, record this one, return seconds waited."""
        if not self.enabled:
            return 0.0
        names = limits_for(method, path)
        waited = 0.0
        while True:
            with self._lock, file_lock(self.lock_path, timeout=self.lock_timeout):
                now = self._clock()
                history = self._load(now)
                at = self._earliest(names, now, history)
                if at <= now:
                    for name in names:
                        if name in self.limits:
                            history.setdefault(name, deque()).append(now)
                    self._store(history, now)
                    self.waited += waited
                    return waited
            pause = at - now
            announce(progress, f"IBKR's pacing limit on {method} {path}", pause)
            self._sleep(pause)
            waited += pause

    def note_rate_limited(self, method: str, path: str) -> None:
        """IBKR answered 429: fill the endpoint's window for every process of the credential."""
        if not self.enabled:
            return
        with self._lock, file_lock(self.lock_path, timeout=self.lock_timeout):
            now = self._clock()
            history = self._load(now)
            self._fill(limits_for(method, path), now, history)
            self._store(history, now)

    def reset(self) -> None:
        """Forget the shared history (tests)."""
        with self._lock, file_lock(self.lock_path, timeout=self.lock_timeout), \
                contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def install_rate_limit_hook(session: requests.Session, pacer: Pacer, api_root: str) -> None:
    """Tell `pacer` about every 429 the session receives, so retries wait the window out."""
    base = urlsplit(api_root).path.rstrip("/")

    def on_response(resp: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        """Response hook: a 429 fills the endpoint's window."""
        if resp.status_code == 429 and resp.request is not None:
            path = urlsplit(resp.request.url or "").path
            if base and path.startswith(base):
                path = path[len(base):]
            pacer.note_rate_limited(resp.request.method or "GET", path or "/")
        return resp

    session.hooks.setdefault("response", []).append(on_response)
