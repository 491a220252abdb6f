"""IBKR pacing (§9) per principal: sliding windows measured at arrival, slightly lenient."""

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
}


class Pacer:
    """Allow at most N accepted requests per window; the window is shrunk by `leniency`.

    A request arriving at t is accepted when fewer than N accepted requests arrived in
    (t - window * (1 - leniency), t]. Refused requests are not recorded, so a client that
    paces itself at exactly the published rate (even with a little network jitter) never
    sees a 429.
    """

    def __init__(self, clock: Clock, overrides: Mapping[str, tuple[int, float]] | None = None,
                 leniency: float = 0.05, enabled: bool = True) -> None:
        self.clock = clock
        self.enabled = enabled
        self.leniency = leniency
        self.limits = {**DEFAULT_LIMITS, **(overrides or {})}
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], deque[float]] = {}

    def reset(self) -> None:
        """Forget all history."""
        with self._lock:
            self._seen.clear()

    def check(self, principal: str, names: tuple[str, ...]) -> float | None:
        """Record the request and return None, or return the seconds to wait (nothing recorded)."""
        if not self.enabled:
            return None
        now = self.clock()
        with self._lock:
            queues = []
            for name in names:
                limit, window = self.limits[name]
                span = window * (1 - self.leniency)
                queue = self._seen.setdefault((principal, name), deque())
                while queue and queue[0] <= now - span:
                    queue.popleft()
                if len(queue) >= limit:
                    return max(queue[0] + span - now, 0.001)
                queues.append(queue)
            for queue in queues:
                queue.append(now)
        return None

    @staticmethod
    def retry_after(wait: float) -> str:
        """Retry-After is whole seconds, rounded up."""
        return str(max(1, math.ceil(wait)))
