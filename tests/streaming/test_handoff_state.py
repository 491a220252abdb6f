"""The reader thread of dispatch="thread": a hand-over of the socket keeps what the reader owed
IBKR and its guards (the `tic` and renewal schedule, the re-authentication guard, the backoff);
a callback's sys.exit() ends the stream, before or after a hand-over; its callback budget is one
the watchdog keeps."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import sys
import threading
import time
from collections import deque
from typing import Any, cast

import pytest

from noetl_ib_plugin.errors import AuthError, ConfigurationError
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.streaming import (
    ErrorEvent,
    StreamClient,
    StreamClosed,
    StreamEvent,
    StreamSettings,
)
from noetl_ib_plugin.streaming.connection import connect
from noetl_ib_plugin.trading_stream import TradingStream
from tests.fixtures.simulators import client_for
from tests.streaming.test_stream_client import FAST, _DeauthAfterAuth, stream_sim  # noqa: F401

AAPL = 265598


def _wait_for(condition: Any, seconds: float = 10.0) -> bool:
    """Poll `condition()` until true or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())


class _Quiet:
    """Authenticates, then is silent on the test's clock but for one quote at `quote_at`; stops
    the clock at `until`; records (clock, text) of everything sent."""

    def __init__(self, now: list[float], quote_at: float, until: float) -> None:
        self.now, self.quote_at, self.until = now, quote_at, until
        self.inbox = deque([json.dumps({"topic": "sts", "args": {"authenticated": True}})])
        self.quoted = False
        self.sent: list[tuple[float, str]] = []

    def recv(self, timeout: float | None = None) -> str:
        if self.inbox:
            return self.inbox.popleft()
        if not self.quoted and self.now[0] >= self.quote_at:
            self.quoted = True
            return json.dumps({"topic": f"smd+{AAPL}", "conid": AAPL, "31": "190"})
        if self.now[0] < self.until:
            self.now[0] += timeout or 0.0  # silence passes on the test's clock
        else:
            time.sleep(0.01)  # the window is observed: the test's clock stands still
        raise TimeoutError("silent")

    def send(self, message: str) -> None:
        self.sent.append((self.now[0], message))

    def close(self) -> None:
        pass

    def __enter__(self) -> _Quiet:
        return self


def test_a_hand_over_keeps_the_tic_and_renewal_schedule(stream_sim: Simulator) -> None:  # noqa: F811
    """A callback stuck just before `tic` and renewal are due: the new reader sends them when due."""
    now = [1000.0]
    settings = dataclasses.replace(FAST, rest_tickle_interval=0, tic_interval=50,
                                   renew_quotes_after=55, stale_after=1000, callback_budget=0.1)
    sock = _Quiet(now, quote_at=1049.0, until=1140.0)
    stream = StreamClient(client_for(stream_sim, "sim_oauth2"), settings=settings,
                          connector=lambda *a, **k: sock, clock=lambda: now[0],
                          wall=lambda: now[0])
    live = TradingStream(cast(Any, None), stream)
    handed = threading.Event()

    def on_quote(event: StreamEvent) -> None:
        now[0] += 1.5  # a slow callback, on the test's clock: past the tic due at 1050
        if _wait_for(lambda: stream._thread is not threading.current_thread(), 5):
            handed.set()

    live.on("quote", on_quote)
    stream.subscribe_quotes([AAPL], ["last"])
    with stream:
        assert _wait_for(lambda: now[0] >= 1140.0, 20)
        sent = list(sock.sent)
    assert handed.is_set()
    tics = [at for at, text in sent if text == "tic"]
    smds = [at for at, text in sent if text.startswith(f"smd+{AAPL}")]
    # IBKR drops /iserver without a tic for a minute; renewal keeps market data alive.
    assert tics and tics[0] - 1000.0 <= 60, tics
    assert all(b - a <= 60 for a, b in itertools.pairwise(tics)), tics
    assert len(smds) >= 2 and smds[1] - smds[0] <= 60, smds


def test_a_hand_over_during_the_backoff_keeps_the_reauthentication_guard(
        stream_sim: Simulator) -> None:  # noqa: F811
    """A slow error callback in the backoff after `sts` unauthenticated: one re-auth, then AuthError."""
    def connector(url: str, **kwargs: Any) -> Any:
        return _DeauthAfterAuth(connect(url, **kwargs), deque([1]))

    stream = StreamClient(client_for(stream_sim, "sim_oauth2"), settings=FAST,
                          connector=connector)
    live = TradingStream(cast(Any, None), stream)
    handed = threading.Event()

    def on_error(event: StreamEvent) -> None:
        if isinstance(event, ErrorEvent) and event.kind == "reconnect" and not handed.is_set() \
                and _wait_for(lambda: stream._thread is not threading.current_thread(), 5):
            handed.set()

    live.on("error", on_error)
    stream.start()
    try:
        assert _wait_for(lambda: stream.error is not None, 10)
        assert handed.is_set()
        assert isinstance(stream.error, AuthError), stream.error
        assert stream.connections == 2
    finally:
        stream.close()


def test_a_callback_calling_sys_exit_ends_the_stream(stream_sim: Simulator) -> None:  # noqa: F811
    """sys.exit() in a callback on the reader thread ends the stream: StreamClosed, keepalive stopped."""
    stream_sim.set_price(AAPL, 190.0)
    stream = StreamClient(client_for(stream_sim, "sim_oauth2"), settings=FAST)
    live = TradingStream(cast(Any, None), stream)
    live.on("quote", lambda event: sys.exit(0))
    stream.subscribe_quotes([AAPL], ["last"])
    stream.start()

    def closed() -> bool:
        try:
            stream.get(0.05)
        except StreamClosed:
            return True
        return False

    try:
        assert _wait_for(lambda: stream.buffer_ended, 10)
        assert _wait_for(closed, 5), "the reader died and left the buffer open"
        assert stream._keepalive is None
    finally:
        stream.close()



def test_sys_exit_in_a_callback_after_a_hand_over_ends_the_stream(
        stream_sim: Simulator) -> None:  # noqa: F811
    """A callback ran past the budget (hand-over), then calls sys.exit(): the stream ends too."""
    stream_sim.set_price(AAPL, 190.0)
    stream = StreamClient(client_for(stream_sim, "sim_oauth2"), settings=FAST)
    live = TradingStream(cast(Any, None), stream)
    handed = threading.Event()

    def on_quote(event: StreamEvent) -> None:
        if not handed.is_set():
            if _wait_for(lambda: stream._thread is not threading.current_thread(), 5):
                handed.set()
            return
        sys.exit(0)

    live.on("quote", on_quote)
    stream.subscribe_quotes([AAPL], ["last"])
    stream.start()
    try:
        assert handed.wait(10)
        stream_sim.set_price(AAPL, 191.0)  # the next quote, for the callbacks' own thread
        assert _wait_for(lambda: stream.buffer_ended, 10), "callbacks died, the stream went on"
        assert stream._keepalive is None
    finally:
        stream.close()

@pytest.mark.parametrize("budget", [0.0, -1.0, math.nan, math.inf])
def test_a_callback_budget_the_watchdog_cannot_keep_is_refused(budget: float) -> None:
    """callback_budget 0, negative, NaN (a spinning watchdog) or inf (a dead one): refused by name."""
    with pytest.raises(ConfigurationError) as info:
        StreamSettings(callback_budget=budget)
    assert info.value.field == "callback_budget" and "callback_budget=0.1" in str(info.value.fix)
