"""Failure corpus gaps, from the client's side: a slow reader at the server, a handshake refused
once, an expired bearer mid-stream, and no secret in any log line whatever the fault. Each with
a typed outcome and a deadline."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from noetl_ib_plugin.errors import AuthError, SessionTakenOver
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.streaming import ErrorEvent, QuoteEvent, StatusEvent, StreamClosed
from tests.fixtures.simulators import act
from tests.streaming.test_stream_client import AAPL, _next, _stream, stream_sim  # noqa: F401

#: Faults that touch no REST call (`paths` matches nothing), so the WebSocket draws alone
#: consume the seeded random stream.
WS_ONLY = {"paths": ["/nowhere/"]}


def test_slow_reader_delays_but_the_stream_goes_on(stream_sim: Simulator) -> None:  # noqa: F811
    """Stalls shorter than stale_after: the subscription takes effect late, no reconnect."""
    stream_sim.set_price(AAPL, 190.0)
    stream_sim.set_faults({"ws_slow_reader": 1.0, "ws_slow_ms": 300})
    with _stream(stream_sim, "sim_oauth2") as stream:
        stream.subscribe_quotes([AAPL], ["last"])
        assert stream.wait_ready(5)
        quote = _next(stream, lambda e: isinstance(e, QuoteEvent), 5)
        assert isinstance(quote, QuoteEvent) and quote.last == 190.0
        time.sleep(1.0)  # several tic stalls
        assert stream.connections == 1 and stream.error is None
    assert stream_sim.stats()["faults_injected"]["ws_slow_reader"] >= 1


def test_slow_reader_past_stale_after_replaces_the_socket(stream_sim: Simulator) -> None:  # noqa: F811
    """A stall longer than stale_after: the socket is replaced (typed event), quotes resume."""
    stream_sim.set_price(AAPL, 190.0)
    with _stream(stream_sim, "sim_oauth2") as stream:
        assert stream.wait_ready(5)
        stream_sim.set_faults({"ws_slow_reader": 1.0, "ws_slow_ms": 4000})
        stream.subscribe_quotes([AAPL], ["last"])  # the server stalls on this frame
        stale = _next(stream, lambda e: isinstance(e, ErrorEvent) and "stale" in e.message, 5)
        assert isinstance(stale, ErrorEvent) and stale.kind == "reconnect"
        stream_sim.set_faults({})
        _next(stream, lambda e: isinstance(e, QuoteEvent), 8)
        assert stream.connections >= 2


def test_close_is_bounded_while_the_server_does_not_read(stream_sim: Simulator) -> None:  # noqa: F811
    """close() returns within its deadline when the server stalls and answers no close frame."""
    stream = _stream(stream_sim, "sim_oauth2").start()
    try:
        assert stream.wait_ready(5)
        stream_sim.set_faults({"ws_slow_reader": 1.0, "ws_slow_ms": 10000})
        stream.subscribe_quotes([AAPL], ["last"])
        time.sleep(0.5)  # the server is now stalled on the subscription
    finally:
        started = time.monotonic()
        stream.close()
    assert time.monotonic() - started < 3.5  # close_timeout 1 s + the reader's join bound
    with pytest.raises(StreamClosed):
        for _ in range(20):
            stream.get(0)


def test_wait_price_under_a_slow_reader_times_out_as_an_outcome(stream_sim: Simulator) -> None:  # noqa: F811
    """A wait whose subscription the server never reads in time: timed_out, within its bound."""
    stream_sim.set_faults({"ws_slow_reader": 1.0, "ws_slow_ms": 8000})
    started = time.monotonic()
    out = act(stream_sim, "sim_oauth2", "wait_price", conid=AAPL, condition="last >= 1",
              timeout=1)
    assert out["timed_out"] is True and out["condition_met"] is False
    assert time.monotonic() - started < 6  # 1 s wait + the stream's close bound


def test_handshake_refused_once_reauthenticates_and_streams(stream_sim: Simulator) -> None:  # noqa: F811
    """One refused handshake: re-authentication, then the stream works (no AuthError)."""
    stream_sim.set_price(AAPL, 190.0)
    stream_sim.set_faults({"ws_refuse": 0.5, "seed": 1, **WS_ONLY})  # refuse, then accept
    with _stream(stream_sim, "sim_oauth2") as stream:
        stream.subscribe_quotes([AAPL], ["last"])
        assert stream.wait_ready(8)
        _next(stream, lambda e: isinstance(e, QuoteEvent))
        assert stream.error is None and stream.connections == 1
    assert stream_sim.stats()["faults_injected"]["ws_refuse"] == 1


def test_expired_bearer_during_stream_reauthenticates(stream_sim: Simulator) -> None:  # noqa: F811
    """OAuth 2.0: the bearer revoked mid-stream; a new bearer, a new socket, quotes go on."""
    stream_sim.set_price(AAPL, 190.0)
    with _stream(stream_sim, "sim_oauth2") as stream:
        stream.subscribe_quotes([AAPL], ["last"])
        assert stream.wait_ready(5)
        before = stream.client.provider.current_token().value
        stream_sim.revoke_all()
        _next(stream, lambda e: isinstance(e, StatusEvent) and not e.authenticated)
        _next(stream, lambda e: isinstance(e, StatusEvent) and e.authenticated, 8)
        stream_sim.set_price(AAPL, 194.0)
        _next(stream, lambda e: isinstance(e, QuoteEvent) and e.last == 194.0)
        assert stream.error is None
        assert stream.client.provider.current_token().value != before


@pytest.mark.parametrize("fault", [
    {"ws_refuse": 1.0}, {"ws_drop": 1.0}, {"ws_silent": 1.0}, {"ws_kick": 1.0},
    {"ws_malformed": 0.5, "seed": 3}, {"ws_slow_reader": 1.0, "ws_slow_ms": 1500}])
@pytest.mark.parametrize("cred", ["sim_oauth1a", "sim_oauth2"])
def test_no_secret_in_logs_across_the_failure_corpus(stream_sim: Simulator,  # noqa: F811
                                                     cred: str, fault: dict[str, Any],
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """Whatever the fault, no log line holds the `api` cookie, the oauth_token or the bearer."""
    caplog.set_level(logging.DEBUG)
    stream = _stream(stream_sim, cred)
    session = str(stream.client.tickle()["session"])
    token = stream.client.provider.current_token().value
    stream_sim.set_faults({**fault, **WS_ONLY})
    stream.subscribe_quotes([AAPL], ["last"])
    stream.start()
    deadline = time.monotonic() + 1.5
    try:
        while time.monotonic() < deadline:
            stream.get(0.2)
    except (AuthError, SessionTakenOver, StreamClosed):
        pass  # typed ends of the corpus
    finally:
        stream.close()
        stream_sim.set_faults({})
    data: Any = getattr(stream.client.provider, "data", None)
    secrets = [session, token]
    if data is not None and hasattr(data, "access_token"):
        secrets.append(data.access_token.get_secret_value())
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert text  # something was logged
    for secret in secrets:
        assert secret not in text
