"""The bounded queue between the socket's reader and a consumer that may be slow.

Quotes conflate per conid (the newest merged quote replaces a pending one, `merged` counts how
many it replaced); every other event keeps its place. When `capacity` non-quote events are
waiting, the next one is not queued and the consumer's next `get` raises `StreamOverflow`
naming how many were lost: memory stays bounded and nothing is dropped silently.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from ..errors import BrokerError
from .events import QuoteEvent, StreamEvent
from .quotes import with_merged

__all__ = ["EventBuffer", "StreamClosed", "StreamOverflow"]


class StreamOverflow(BrokerError):
    """The consumer fell so far behind that order, trade or error events could not be kept."""


class StreamClosed(BrokerError):
    """The stream ended (closed, or stopped for good: see the cause) and holds no more events."""


class EventBuffer:
    """Thread-safe, bounded; one producer (the reader thread), any number of consumers."""

    def __init__(self, capacity: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._clock = clock
        self._cond = threading.Condition(threading.Lock())
        #: Events in arrival order; a quote's place is held by its conid.
        self._order: deque[StreamEvent | int] = deque()
        self._quotes: dict[int, QuoteEvent] = {}
        self._others = 0
        self._lost = 0
        self._closed: BaseException | None = None
        self._ended = False
        #: Consumers blocked in `get` (a put with nobody waiting skips the notify).
        self._waiting = 0

    def put(self, event: StreamEvent) -> bool:
        """Queue an event; False when it was lost to a full buffer (the consumer will be told)."""
        with self._cond:
            if isinstance(event, QuoteEvent):
                pending = self._quotes.get(event.conid)
                if pending is not None:
                    event = with_merged(event, pending.merged + event.merged + 1)
                else:
                    self._order.append(event.conid)
                self._quotes[event.conid] = event
            elif self._others >= self.capacity:
                self._lost += 1
                self._cond.notify_all()
                return False
            else:
                self._order.append(event)
                self._others += 1
            if self._waiting:
                self._cond.notify_all()
            return True

    def end(self, cause: BaseException | None = None) -> None:
        """No more events will come; `get` raises StreamClosed (from `cause`) once drained."""
        with self._cond:
            self._ended = True
            self._closed = cause
            self._cond.notify_all()

    def get(self, timeout: float) -> StreamEvent | None:
        """The next event, or None after `timeout` seconds. Raises StreamOverflow once after
        events were lost, StreamClosed when the stream ended and everything was read."""
        deadline = self._clock() + max(0.0, timeout)
        with self._cond:
            while True:
                if self._lost:
                    lost, self._lost = self._lost, 0
                    raise StreamOverflow(
                        f"{lost} stream event(s) were lost: the consumer read too slowly",
                        fix="read events faster (or in a callback that returns quickly), or "
                            "raise the stream's buffer capacity.")
                if self._order:
                    item = self._order.popleft()
                    if isinstance(item, int):
                        return self._quotes.pop(item)
                    self._others -= 1
                    return item
                if self._ended:
                    raise StreamClosed("the stream is closed") from self._closed
                left = deadline - self._clock()
                if left <= 0:
                    return None
                self._waiting += 1
                try:
                    self._cond.wait(left)
                finally:
                    self._waiting -= 1

    def __len__(self) -> int:
        """Events waiting (a conflated quote counts once)."""
        with self._cond:
            return len(self._order)

    def wait(self, timeout: float) -> bool:
        """Whether `get` has something to give (an event, a loss or the end) within `timeout`
        seconds; consumes nothing, so a waiter that is cancelled loses no event (streaming/aio)."""
        deadline = self._clock() + max(0.0, timeout)
        with self._cond:
            while not (self._order or self._lost or self._ended):
                left = deadline - self._clock()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True
