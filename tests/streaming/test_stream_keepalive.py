"""The stream stays alive: `tic` at its period (never over a minute), REST `/tickle` every few
minutes through the session's one keepalive (never a second one for the same session)."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

import pytest

from noetl_ib_plugin import TradingClient
from noetl_ib_plugin.client.keepalive import session_keepalive
from noetl_ib_plugin.errors import ConfigurationError
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.streaming import StreamClient, StreamSettings
from tests.fixtures.simulators import client_for
from tests.streaming.test_stream_client import FAST, stream_sim  # noqa: F401


def _keepalive_threads() -> int:
    """Keepalive timer threads alive in this process."""
    return sum(t.name == "noetl-ib-keepalive" and t.is_alive() for t in threading.enumerate())


def test_tic_is_sent_at_its_period(stream_sim: Simulator) -> None:  # noqa: F811
    """With tic_interval 0.3 s, `tic` goes out about every 0.3 s on the socket."""
    from websockets.sync.client import connect

    sent: list[str] = []

    def spying_connect(*args: Any, **kw: Any) -> Any:
        ws = connect(*args, **kw)
        original = ws.send

        def send(message: Any, *a: Any, **k: Any) -> None:
            sent.append(str(message))
            original(message, *a, **k)

        ws.send = send
        return ws

    ib = client_for(stream_sim, "sim_oauth2")
    with StreamClient(ib, settings=FAST, connector=spying_connect) as stream:
        assert stream.wait_ready(5)
        time.sleep(1.3)
    assert 3 <= sent.count("tic") <= 6


def test_tic_interval_over_a_minute_is_refused() -> None:
    """IBKR wants a tic at least once a minute: a longer period is a ConfigurationError."""
    with pytest.raises(ConfigurationError, match="tic_interval=50"):
        StreamSettings(tic_interval=90)
    assert StreamSettings().tic_interval <= 60


def test_stream_tickles_rest_through_the_session_keepalive(stream_sim: Simulator) -> None:  # noqa: F811
    """rest_tickle_interval 0.2 s: `POST /tickle` keeps coming while the stream runs; close stops it."""
    ib = client_for(stream_sim, "sim_oauth2")
    calls: list[float] = []
    original = ib.tickle

    def counting() -> Any:
        calls.append(time.monotonic())
        return original()

    ib.tickle = counting  # type: ignore[method-assign]
    before = _keepalive_threads()
    settings = dataclasses.replace(FAST, rest_tickle_interval=0.2)
    with StreamClient(ib, settings=settings) as stream:
        assert stream.wait_ready(5)
        opened = len(calls)
        time.sleep(1.0)
        assert len(calls) - opened >= 3
        assert ib.brokerage_manager.keepalive.holder is not None
    time.sleep(0.3)
    assert _keepalive_threads() == before  # close() stopped the stream's keepalive


def test_no_second_keepalive_for_a_session_that_has_one(stream_sim: Simulator) -> None:  # noqa: F811
    """A keepalive already tickling the session: the stream starts none of its own."""
    ib = client_for(stream_sim, "sim_oauth2")
    first = session_keepalive(ib, 60.0)
    assert first is not None
    try:
        assert session_keepalive(ib, 60.0) is None  # one per session
        with StreamClient(ib, settings=dataclasses.replace(FAST, rest_tickle_interval=0.2)) as s:
            assert s.wait_ready(5)
            assert _keepalive_threads() == 1
    finally:
        first.stop()
    second = session_keepalive(ib, 60.0)  # the stopped one no longer holds the session
    assert second is not None
    second.stop()


def test_trading_client_keepalive_is_the_streams_keepalive(stream_sim: Simulator) -> None:  # noqa: F811
    """TradingClient(keepalive=True).stream(): one keepalive thread for the session, not two."""
    before = _keepalive_threads()
    with TradingClient("sim_oauth2", credentials_file=stream_sim.credentials_file,
                       keepalive=True) as ib, \
            ib.stream(settings=dataclasses.replace(FAST, rest_tickle_interval=0.2)):
        assert _keepalive_threads() == before + 1


def test_a_stream_that_stops_for_good_stops_its_keepalive(stream_sim: Simulator) -> None:  # noqa: F811
    """`sts` kick ends the stream for good: its REST keepalive stops too, before close()."""
    ib = client_for(stream_sim, "sim_oauth2")
    before = _keepalive_threads()
    stream = StreamClient(ib, settings=dataclasses.replace(FAST, rest_tickle_interval=0.2))
    try:
        stream.start()
        assert stream.wait_ready(5)
        assert _keepalive_threads() == before + 1
        stream_sim.set_faults({"ws_kick": 1.0})
        deadline = time.monotonic() + 5
        while stream.error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stream.error is not None
        time.sleep(0.5)
        assert _keepalive_threads() == before
    finally:
        stream_sim.set_faults({})
        stream.close()
