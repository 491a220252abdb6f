"""IBKR pacing (§9) per principal: sliding windows measured at arrival, slightly lenient.

Repeat offenders go into a penalty box like IBKR's: `penalty_strikes` refusals within
`penalty_window` seconds box the principal for `penalty_seconds` (IBKR: 10 minutes), during
which every request answers 429.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Mapping

__all__ = ["DEFAULT_LIMITS", "Pacer"]

Clock = Callable[[], float]

#: name -> (requests allowed, window seconds). "global" applies to every trading request.
DEFAULT_LIMITS: dict[str, tuple[int, float]] = {
    "global": (50, 1.0),
    "snapshot": (10, 1.0),
    "tickle": (1, 1.0),
    "sso_validate": (1, 60.0),
    "live_orders": (1, 5.0),
    "portfolio_accounts": (1, 5.0),
    "trades": (1, 5.0),
    "pnl": (1, 5.0),
}


class Pacer:
    """Allow at most N accepted requests per window; the window is shrunk by `leniency`.

    A request arriving at t is accepted when fewer than N accepted requests arrived in
    (t - window * (1 - leniency), t]. Refused requests are not recorded, so a client that
    paces itself at exactly the published rate (even with a little network jitter) never
    sees a 429.
    """

    def __init__(self, clock: Clock, overrides: Mapping[str, tuple[int, float]] | None = None,
                 leniency: float = 0.05, enabled: bool = True, *,
                 penalty_seconds: float = 600.0, penalty_strikes: int = 3,
                 penalty_window: float = 60.0) -> None:
        self.clock = clock
        self.enabled = enabled
        self.leniency = leniency
        self.limits = {**DEFAULT_LIMITS, **(overrides or {})}
        self.penalty_seconds = penalty_seconds
        self.penalty_strikes = penalty_strikes
        self.penalty_window = penalty_window
        #: principals sent to the penalty box so far (GET /__sim/stats: penalty_box_entries).
        self.boxed_total = 0
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], deque[float]] = {}
        self._strikes: dict[str, deque[float]] = {}
        self._boxed_until: dict[str, float] = {}

    def reset(self) -> None:
        """Forget all history, strikes and the penalty box."""
        with self._lock:
            self._seen.clear()
            self._strikes.clear()
            self._boxed_until.clear()
            self.boxed_total = 0

    def boxed(self, principal: str) -> bool:
        """Whether the principal sits in the penalty box now."""
        with self._lock:
            return self._boxed_until.get(principal, 0.0) > self.clock()

    def _strike(self, principal: str, now: float) -> None:
        """Count one refusal; enough of them within penalty_window box the principal (lock held)."""
        if self.penalty_seconds <= 0:
            return
        strikes = self._strikes.setdefault(principal, deque())
        while strikes and strikes[0] <= now - self.penalty_window:
            strikes.popleft()
        strikes.append(now)
        if len(strikes) >= self.penalty_strikes:
            strikes.clear()
            self._boxed_until[principal] = now + self.penalty_seconds
            self.boxed_total += 1

    def check(self, principal: str, names: tuple[str, ...]) -> float | None:
        """Record the request and return None, or return the seconds to wait (nothing recorded)."""
        if not self.enabled:
            return None
        now = self.clock()
        with self._lock:
            boxed_until = self._boxed_until.get(principal, 0.0)
            if boxed_until > now:
                return boxed_until - now
            queues = []
            for name in names:
                limit, window = self.limits[name]
                span = window * (1 - self.leniency)
                queue = self._seen.setdefault((principal, name), deque())
                while queue and queue[0] <= now - span:
                    queue.popleft()
                if len(queue) >= limit:
                    self._strike(principal, now)
                    boxed_until = self._boxed_until.get(principal, 0.0)
                    return max(queue[0] + span - now, boxed_until - now, 0.001)
                queues.append(queue)
            for queue in queues:
                queue.append(now)
        return None

    @staticmethod
    def retry_after(wait: float) -> str:
        """Retry-After is whole seconds, rounded up."""
        return str(max(1, math.ceil(wait)))
