"""dispatch="thread" (the default): callbacks on the reader thread while they are quick; the first
one that outruns StreamSettings.callback_budget gets the socket handed to a new reader thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest

from noetl_ib_plugin import TradingClient
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.streaming import (
    ErrorEvent,
    OrderEvent,
    QuoteEvent,
    StreamClosed,
    StreamEvent,
    StreamSettings,
)
from noetl_ib_plugin.trading_stream import TradingStream

AAPL = 265598
SETTINGS = StreamSettings(open_timeout=3, auth_timeout=3, stale_after=5.0, tic_interval=0.3,
                          backoff_base=0.05, backoff_max=0.2, max_failures=4, close_timeout=1,
                          callback_budget=0.1)


@pytest.fixture
def walking_sim(sim_reset: Simulator) -> Iterator[Simulator]:
    """The module simulator moving AAPL's price on every quote, every 20 ms."""
    stream = sim_reset.stream
    stream.heartbeat_s, stream.quote_interval_s, stream.walk = 0.2, 0.02, True
    yield sim_reset
    stream.heartbeat_s, stream.quote_interval_s, stream.walk = 10.0, 0.5, False


def _wait_for(condition: object, seconds: float = 10.0) -> bool:
    """Poll `condition()` until true or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def _stream_threads() -> list[threading.Thread]:
    """The stream's threads alive now (reader, watchdog, anything named for the stream)."""
    return [t for t in threading.enumerate() if t.name.startswith("noetl-ib-stream")]


def test_quick_callbacks_run_on_the_reader_thread_by_default(walking_sim: Simulator) -> None:
    """Default dispatch: quick callbacks run on the socket's reader thread, no dispatcher thread."""
    names: set[str] = set()
    quotes = threading.Semaphore(0)

    def on_quote(event: StreamEvent) -> None:
        names.add(threading.current_thread().name)
        quotes.release()

    with TradingClient("sim_oauth2", credentials_file=walking_sim.credentials_file) as ib, \
            ib.stream(quotes=[AAPL], fields=["last"], settings=SETTINGS) as live:
        live.on("quote", on_quote)
        for _ in range(20):
            assert quotes.acquire(timeout=5)
        reader = live.client._thread
    assert names == {"noetl-ib-stream"} and reader is not None
    assert reader.name == "noetl-ib-stream"


def test_a_slow_callback_hands_the_socket_to_a_new_reader(walking_sim: Simulator) -> None:
    """A 1 s callback: a new thread reads meanwhile; later events come in order on the old one."""
    seen: list[tuple[int, float, int]] = []  # (thread ident, received_at, merged)
    read_meanwhile: list[float] = []
    quotes = threading.Semaphore(0)

    with TradingClient("sim_oauth2", credentials_file=walking_sim.credentials_file) as ib, \
            ib.stream(quotes=[AAPL], fields=["last"], settings=SETTINGS) as live:

        def on_quote(event: StreamEvent) -> None:
            assert isinstance(event, QuoteEvent)
            seen.append((threading.get_ident(), event.received_at, event.merged))
            if len(seen) == 5:  # one slow callback: 1 s, watching the stream's merged state
                end = time.monotonic() + 1.0
                while time.monotonic() < end:
                    time.sleep(0.05)
                    latest = live.last_quote(AAPL)
                    if latest is not None:
                        read_meanwhile.append(latest.received_at)
            quotes.release()

        first_reader = None
        live.on("quote", on_quote)
        assert _wait_for(lambda: live.client._thread is not None)
        first_reader = live.client._thread
        assert _wait_for(lambda: len(seen) > 30)
        second_reader = live.client._thread
    assert first_reader is not None and second_reader is not None
    assert second_reader is not first_reader and second_reader.name == "noetl-ib-stream"
    slow_at = seen[4][1]
    # The socket was read while the callback slept (a new reader took it within the budget).
    assert read_meanwhile and max(read_meanwhile) > slow_at + 0.5
    # After the slow callback: the same thread (the old reader) delivers, in order, with the
    # quotes that came while it slept conflated into the next event.
    after = seen[5:]
    assert {ident for ident, _, _ in after} == {seen[4][0]}
    assert [at for _, at, _ in seen] == sorted(at for _, at, _ in seen)
    assert after[0][2] > 0


def test_order_events_keep_their_order_across_a_hand_over(walking_sim: Simulator) -> None:
    """Orders changed while a callback is stuck: their events come in order, ending as the book."""
    statuses: dict[int, list[str]] = {}
    stuck, release = threading.Event(), threading.Event()

    with TradingClient("sim_oauth2", credentials_file=walking_sim.credentials_file) as ib, \
            ib.stream(quotes=[AAPL], topics=["orders"], fields=["last"],
                      settings=SETTINGS) as live:

        def on_quote(event: StreamEvent) -> None:
            if not stuck.is_set():
                stuck.set()
                release.wait(10)  # held until the orders below are placed and cancelled

        def on_order(event: StreamEvent) -> None:
            assert isinstance(event, OrderEvent)
            status = str(event.order.get("status", ""))
            history = statuses.setdefault(event.order_id, [])
            if not history or history[-1] != status:
                history.append(status)

        live.on("order", on_order)
        live.on("quote", on_quote)
        assert stuck.wait(10)
        placed = []
        for _ in range(3):
            order = ib.place_order(conid=AAPL, side="BUY", quantity=1, order_type="LMT",
                                   limit_price=50.0, confirm=["o163"])
            placed.append(int(order.order_id))
            ib.cancel_order(order.order_id)
        release.set()
        assert _wait_for(lambda: all(statuses.get(o, [""])[-1] == "Cancelled" for o in placed))
    for oid in placed:
        history = statuses[oid]
        assert history[-1] == "Cancelled" and "Cancelled" not in history[:-1], history


def test_close_while_a_callback_is_stuck_is_bounded(walking_sim: Simulator) -> None:
    """close() during a 2 s callback is bounded; every stream thread ends after the callback."""
    stuck = threading.Event()
    before = set(_stream_threads())

    def on_quote(event: StreamEvent) -> None:
        if not stuck.is_set():
            stuck.set()
            time.sleep(2.0)

    with TradingClient("sim_oauth2", credentials_file=walking_sim.credentials_file) as ib:
        live = ib.stream(quotes=[AAPL], fields=["last"], settings=SETTINGS)
        live.on("quote", on_quote)
        assert stuck.wait(10)
        assert _wait_for(lambda: live.client._thread is not None
                         and live.client._thread.ident != threading.get_ident()
                         and len(_stream_threads()) >= 2)
        started = time.monotonic()
        live.close()
        took = time.monotonic() - started
    assert took < SETTINGS.close_timeout + 2.0 + 1.0
    assert _wait_for(lambda: not (set(_stream_threads()) - before), 10)


def test_wait_in_a_callback_after_a_hand_over_returns_as_before_one() -> None:
    """live.wait() inside a callback on the callbacks' own thread returns, never RuntimeError."""

    class Stream:
        """The StreamClient surface TradingStream uses: one event, then the end."""

        settings = SETTINGS
        error = None

        def __init__(self) -> None:
            self.events = [ErrorEvent(kind="t", message="x", received_at=1.0)]

        def set_delivery(self, *args: Any, **kwargs: Any) -> None:
            pass

        def get(self, timeout: float) -> StreamEvent | None:
            if self.events:
                return self.events.pop()
            raise StreamClosed("the stream is closed")

        def join(self, timeout: float) -> None:
            pass

    live = TradingStream(cast(Any, None), cast(Any, Stream()))
    errors: list[BaseException] = []

    def on_error(event: StreamEvent) -> None:
        try:
            live.wait(0.01)
        except RuntimeError as exc:  # what the test looks for
            errors.append(exc)

    live.on("error", on_error)
    took_over = threading.Thread(target=live._take_over)  # the thread a hand-over leaves
    took_over.start()
    took_over.join(10)
    assert not took_over.is_alive() and errors == []
