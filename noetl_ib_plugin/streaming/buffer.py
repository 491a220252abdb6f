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
    """Thread-safe, bounded; one producer (the reader thread), any number of consumers.

    A consumer with nothing to read parks on a lock of its own (kept per thread, reused, held
    while idle) that `put` releases: one C-level release per wake-up instead of
    threading.Condition's per-wait lock allocation and Python-level bookkeeping (bench_stream.py).
    A waiter is registered under the state lock before it parks, so no wake-up is lost.
    """

    def __init__(self, capacity: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()
        #: Parked consumers' locks (each held: `_wake` releases them).
        self._waiters: list[threading.Lock] = []
        self._parking = threading.local()
        #: Events in arrival order; a quote's place is held by its conid.
        self._order: deque[StreamEvent | int] = deque()
        self._quotes: dict[int, QuoteEvent] = {}
        self._others = 0
        self._lost = 0
        self._closed: BaseException | None = None
        self._ended = False

    def put(self, event: StreamEvent, *, wake: bool = True) -> bool:
        """Queue an event; False when it was lost to a full buffer (the consumer will be told).
        `wake=False` leaves parked consumers parked until `wake()`: a reader about to block
        wakes them once, while it gives up the GIL, instead of once per message."""
        with self._lock:
            if isinstance(event, QuoteEvent):
                pending = self._quotes.get(event.conid)
                if pending is not None:
                    event = with_merged(event, pending.merged + event.merged + 1)
                else:
                    self._order.append(event.conid)
                self._quotes[event.conid] = event
            elif self._others >= self.capacity:
                self._lost += 1
                if self._waiters:
                    self._wake()
                return False
            else:
                self._order.append(event)
                self._others += 1
            if wake and self._waiters:
                self._wake()
            return True

    def pending(self) -> bool:
        """Whether `get` has an event or a loss to report (a look without the lock: exact for
        the producer thread, a hint for any other)."""
        return bool(self._order or self._lost)

    def wake(self) -> None:
        """Release parked consumers if something was queued with `wake=False`."""
        if self._waiters and self._order:  # a plain look first: the lock only when needed
            with self._lock:
                if self._order:
                    self._wake()

    def _wake(self) -> None:
        """Release every parked consumer (caller holds the state lock)."""
        for waiter in self._waiters:
            waiter.release()
        self._waiters.clear()

    def _park(self, timeout: float) -> None:
        """Wait (at most `timeout` s) for a `_wake`; caller holds the state lock, which is
        released while parked and held again on return."""
        waiter: threading.Lock | None = getattr(self._parking, "lock", None)
        if waiter is None:
            waiter = self._parking.lock = threading.Lock()
            waiter.acquire()
        self._waiters.append(waiter)
        self._lock.release()
        try:
            woken = waiter.acquire(timeout=timeout)
        finally:
            self._lock.acquire()
        if not woken:
            if waiter in self._waiters:
                self._waiters.remove(waiter)  # timed out, still held: ready for the next park
            else:
                waiter.acquire()  # released by a wake that came after the timeout: take it back

    def end(self, cause: BaseException | None = None) -> None:
        """No more events will come; `get` raises StreamClosed (from `cause`) once drained."""
        with self._lock:
            self._ended = True
            self._closed = cause
            self._wake()

    def get(self, timeout: float) -> StreamEvent | None:
        """The next event, or None after `timeout` seconds. Raises StreamOverflow once after
        events were lost, StreamClosed when the stream ended and everything was read."""
        deadline = self._clock() + max(0.0, timeout)
        with self._lock:
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
                self._park(left)

    def __len__(self) -> int:
        """Events waiting (a conflated quote counts once)."""
        with self._lock:
            return len(self._order)

    def wait(self, timeout: float) -> bool:
        """Whether `get` has something to give (an event, a loss or the end) within `timeout`
        seconds; consumes nothing, so a waiter that is cancelled loses no event (streaming/aio)."""
        deadline = self._clock() + max(0.0, timeout)
        with self._lock:
            while not (self._order or self._lost or self._ended):
                left = deadline - self._clock()
                if left <= 0:
                    return False
                self._park(left)
            return True
