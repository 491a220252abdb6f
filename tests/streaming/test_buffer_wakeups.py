"""EventBuffer's wake-ups: a consumer parked in `get`/`wait` is never left asleep by a `put`."""

from __future__ import annotations

import threading
import time

from noetl_ib_plugin.streaming import EventBuffer, StreamClosed
from noetl_ib_plugin.streaming.events import ErrorEvent, StreamEvent
from noetl_ib_plugin.streaming.quotes import new_quote


def _order(n: int) -> StreamEvent:
    """A non-conflating event numbered `n`."""
    return ErrorEvent(kind="test", message=str(n), received_at=float(n))


def test_every_put_reaches_a_parked_consumer_without_waiting_for_its_deadline() -> None:
    """Ping-pong 3,000 times: each event is taken long before the 5 s deadline (no lost wake-up)."""
    buffer = EventBuffer(capacity=10)
    rounds, slow = 3000, []
    taken = threading.Semaphore(0)

    def consume() -> None:
        for _ in range(rounds):
            start = time.monotonic()
            event = buffer.get(5.0)
            if event is None or time.monotonic() - start > 2.0:
                slow.append(event)
            taken.release()

    consumer = threading.Thread(target=consume)
    consumer.start()
    for n in range(rounds):
        if n % 3 == 0:
            time.sleep(0)  # vary the interleaving: sometimes the consumer parks first
        buffer.put(_order(n))
        assert taken.acquire(timeout=5), f"event {n} was not taken within 5 s"
    consumer.join(5)
    assert slow == [] and len(buffer) == 0


def test_several_consumers_each_woken_and_nothing_taken_twice() -> None:
    """Four parked consumers, 4,000 events: each taken exactly once, none left waiting."""
    buffer = EventBuffer(capacity=10_000)
    got: list[str] = []
    lock = threading.Lock()

    def consume() -> None:
        while True:
            try:
                event = buffer.get(5.0)
            except StreamClosed:
                return
            assert event is not None, "a consumer sat out its whole deadline"
            assert isinstance(event, ErrorEvent)
            with lock:
                got.append(event.message)

    consumers = [threading.Thread(target=consume) for _ in range(4)]
    for consumer in consumers:
        consumer.start()
    for n in range(4000):
        buffer.put(_order(n))
        if n % 50 == 0:
            time.sleep(0.001)
    buffer.end()
    for consumer in consumers:
        consumer.join(10)
    assert not any(c.is_alive() for c in consumers)
    assert sorted(got, key=int) == [str(n) for n in range(4000)]


def test_a_timed_out_waiter_parks_again_and_is_woken() -> None:
    """After `get` times out (its lock reused), the next `get` still wakes on a put at once."""
    buffer = EventBuffer(capacity=10)
    for _ in range(20):
        assert buffer.get(0.001) is None
    quote = new_quote({"topic": "quote", "received_at": 1.0, "conid": 1, "fields": {},
                       "changed": [], "last_is_prior_close": False, "halted": False,
                       "delayed": False, "updated": None, "merged": 0})
    timer = threading.Timer(0.05, buffer.put, args=(quote,))
    timer.start()
    start = time.monotonic()
    assert buffer.get(5.0) is quote
    assert time.monotonic() - start < 2.0
    timer.join()


def test_wait_wakes_on_put_and_on_end() -> None:
    """`wait` (streaming/aio) returns True at the put, and at the end, well before its deadline."""
    buffer = EventBuffer(capacity=10)
    threading.Timer(0.05, buffer.put, args=(_order(1),)).start()
    start = time.monotonic()
    assert buffer.wait(5.0) and time.monotonic() - start < 2.0
    buffer.get(0)
    threading.Timer(0.05, buffer.end).start()
    start = time.monotonic()
    assert buffer.wait(5.0) and time.monotonic() - start < 2.0
