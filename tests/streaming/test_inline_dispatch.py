"""TradingStream(dispatch="inline"): callbacks on the socket's reader thread, in order, in the
caller's context; a slow callback is not taken for a silent socket."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import deque
from typing import Any, cast

import pytest

from noetl_ib_plugin import TradingClient
from noetl_ib_plugin.errors import InputError
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.streaming import ErrorEvent, OrderEvent, QuoteEvent, StreamClient, StreamEvent
from noetl_ib_plugin.trading_stream import TradingStream
from tests.fixtures.simulators import client_for
from tests.streaming.test_stream_client import FAST, stream_sim  # noqa: F401

AAPL = 265598


def test_inline_callbacks_run_on_the_reader_thread(stream_sim: Simulator) -> None:  # noqa: F811
    """Quotes and an order placed over REST reach inline callbacks on the stream's own thread."""
    stream_sim.set_price(AAPL, 190.0)
    threads: set[str] = set()
    orders: list[StreamEvent] = []
    got_order, got_quotes = threading.Event(), threading.Semaphore(0)

    def on_quote(event: StreamEvent) -> None:
        threads.add(threading.current_thread().name)
        assert isinstance(event, QuoteEvent)
        got_quotes.release()

    def on_order(event: StreamEvent) -> None:
        threads.add(threading.current_thread().name)
        orders.append(event)
        got_order.set()

    with TradingClient("sim_oauth2", credentials_file=stream_sim.credentials_file) as ib, \
            ib.stream(quotes=[AAPL], topics=["orders"], fields=["last"],
                      dispatch="inline") as live:
        live.on("quote", on_quote)
        live.on("order", on_order)
        placed = ib.place_order(conid=AAPL, side="BUY", quantity=1, order_type="LMT",
                                limit_price=188.0)
        assert got_order.wait(5) and got_quotes.acquire(timeout=5)
        live.wait(0.05)
    assert threads == {"noetl-ib-stream"}
    assert isinstance(orders[0], OrderEvent) and str(orders[0].order_id) == placed.order_id


def test_unknown_dispatch_mode_is_refused_naming_the_field() -> None:
    """dispatch="sync" is an InputError naming `dispatch` with a fix to copy."""
    with pytest.raises(InputError) as caught:
        TradingStream(cast(Any, None), cast(Any, None), dispatch="sync")
    assert caught.value.field == "dispatch" and '"inline"' in str(caught.value.fix)


def test_events_queued_before_the_first_callback_come_first_in_order() -> None:
    """Events buffered before `on` come first, in order; inline has no budget (never handed over)."""

    class Queued:
        """The StreamClient surface callbacks use."""

        def __init__(self) -> None:
            self.queued = deque(ErrorEvent(kind="t", message=str(n), received_at=n)
                                for n in range(3))
            self.deliver: Any = None
            self.budget: Any = "unset"

        def set_delivery(self, deliver: Any, call: Any, *, budget: float | None,
                         on_handoff: Any) -> None:
            self.deliver, self.budget = deliver, budget

        def get(self, timeout: float) -> StreamEvent | None:
            return self.queued.popleft() if self.queued else None

    stream = Queued()
    live = TradingStream(cast(Any, None), cast(Any, stream), dispatch="inline")
    seen: list[str] = []
    live.on("error", lambda e: seen.append(cast(ErrorEvent, e).message))
    assert stream.budget is None
    stream.queued.append(ErrorEvent(kind="t", message="3", received_at=3.0))
    stream.deliver()
    stream.queued.append(ErrorEvent(kind="t", message="4", received_at=4.0))
    stream.deliver()
    assert seen == ["0", "1", "2", "3", "4"]


class _Scripted:
    """A socket that authenticates, sends one quote, then stays silent; time is the test's."""

    def __init__(self, now: list[float]) -> None:
        self.now = now
        self.inbox = deque([json.dumps({"topic": "sts", "args": {"authenticated": True}}),
                            json.dumps({"topic": f"smd+{AAPL}", "conid": AAPL, "31": "190"})])

    def recv(self, timeout: float | None = None) -> str:
        if self.inbox:
            return self.inbox.popleft()
        self.now[0] += timeout or 0.0  # silence: the wait passes on the test's clock
        raise TimeoutError("silent")

    def send(self, message: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _Scripted:
        return self


def test_a_slow_inline_callback_is_not_a_stale_socket(stream_sim: Simulator) -> None:  # noqa: F811
    """A callback taking 5x stale_after: staleness counts from its return, not from the read."""
    now = [1000.0]
    settings = dataclasses.replace(FAST, rest_tickle_interval=0, tic_interval=60)
    stream = StreamClient(client_for(stream_sim, "sim_oauth2"), settings=settings,
                          connector=lambda *a, **k: _Scripted(now),
                          clock=lambda: now[0], wall=lambda: now[0])
    live = TradingStream(cast(Any, None), stream, dispatch="inline")
    returned: list[float] = []
    stale = threading.Event()
    stale_at: list[float] = []

    def on_any(event: StreamEvent) -> None:
        if isinstance(event, QuoteEvent) and not returned:
            now[0] += 5 * settings.stale_after  # a slow callback
            returned.append(now[0])
        elif isinstance(event, ErrorEvent) and "stale" in event.message:
            stale_at.append(event.received_at)
            stale.set()

    live.on("*", on_any)
    stream.subscribe_quotes([AAPL])  # quotes of conids never subscribed are dropped
    with stream:
        assert stale.wait(10), "the silent socket was never replaced"
    assert returned and stale_at[0] - returned[0] >= settings.stale_after
