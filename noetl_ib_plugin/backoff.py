"""Retry timing shared by the token endpoints and the trading client, so both back off alike."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["RetryPolicy", "parse_retry_after"]


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Read `Retry-After` as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass
class RetryPolicy:
    """Bounded, jittered exponential backoff: a retry storm cannot outlive `max_total` seconds."""

    max_attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 5.0
    max_total: float = 20.0
    #: Upper bound on a server's Retry-After we are willing to honour inside one call.
    max_retry_after: float = 10.0
    rand: Callable[[], float] = field(default=random.random, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Full-jitter delay before retry number `attempt` (1-based), at least Retry-After."""
        cap = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        jittered = cap * (0.5 + 0.5 * self.rand())
        if retry_after is not None:
            return min(max(jittered, retry_after), self.max_retry_after)
        return jittered

    def should_retry(self, attempt: int, elapsed: float, next_delay: float) -> bool:
        """True while another attempt fits in both the count and the time budget."""
        return attempt < self.max_attempts and elapsed + next_delay <= self.max_total
