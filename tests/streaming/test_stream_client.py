"""StreamClient against the simulator's /v1/api/ws: both schemes, typed events, the failure corpus."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from noetl_ib_plugin.actions.order_lookup import live_orders
from noetl_ib_plugin.errors import AuthError, ConfigurationError, SessionTakenOver, TransientError
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.streaming import (
    ErrorEvent,
    EventBuffer,
    OrderEvent,
    QuoteEvent,
    ResyncedEvent,
    StreamClient,
    StreamClosed,
    StreamEvent,
    StreamOverflow,
    StreamSettings,
    TradeEvent,
    websocket_url,
)
from noetl_ib_plugin.streaming.connection import Connection, connect
from noetl_ib_plugin.streaming.events import StatusEvent
from tests.fixtures.simulators import CREDS, act, client_for

AAPL = 265598
FAST = StreamSettings(open_timeout=3, auth_timeout=3, stale_after=1.0, tic_interval=0.3,
                      backoff_base=0.05, backoff_max=0.2, max_failures=4, close_timeout=1)


@pytest.fixture
def stream_sim(sim_reset: Simulator) -> Iterator[Simulator]:
    """The module simulator with short heartbeat and quote periods."""
    sim_reset.stream.heartbeat_s, sim_reset.stream.quote_interval_s = 0.2, 0.05
    yield sim_reset
    sim_reset.stream.heartbeat_s, sim_reset.stream.quote_interval_s = 10.0, 0.5
    sim_reset.set_faults({})


def _stream(stream_sim: Simulator, cred: str, settings: StreamSettings = FAST) -> StreamClient:
    """A StreamClient over a fresh IBClient, with the REST resync the front doors hand in."""
    ib = client_for(stream_sim, cred)
    return StreamClient(ib, settings=settings, read_live_orders=lambda: live_orders(ib))


def _next(stream: StreamClient, pred: Callable[[StreamEvent], bool],
          timeout: float = 10.0) -> StreamEvent:
    """The first event meeting `pred` within `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = stream.get(max(0.0, deadline - time.monotonic()))
        if event is not None and pred(event):
            return event
    raise AssertionError("no matching event in time")


def test_websocket_url_follows_the_trading_root() -> None:
    """https -> wss, http -> ws (only where REST already allowed http), path + /ws."""
    assert websocket_url("https://api.ibkr.com/v1/api") == "wss://api.ibkr.com/v1/api/ws"
    assert websocket_url("http://127.0.0.1:5/v1/api/") == "ws://127.0.0.1:5/v1/api/ws"


@pytest.mark.parametrize("root", ["http://api.ibkr.com/v1/api", "ftp://api.ibkr.com/v1/api",
                                  "HTTP://api.ibkr.com/v1/api"])
def test_websocket_url_refuses_plain_ws_to_a_remote_host(root: str) -> None:
    """A careless non-https root is refused as REST refuses it, never turned into ws:// (cookie in clear)."""
    with pytest.raises(ConfigurationError) as info:
        websocket_url(root)
    assert info.value.field == "api_base_url" and "https" in str(info.value)


@pytest.mark.parametrize("cred", CREDS)
def test_both_schemes_stream_typed_quotes(stream_sim: Simulator, cred: str) -> None:
    """Either scheme authenticates; quotes come typed by the snapshot parser with changed fields."""
    stream_sim.set_price(AAPL, 190.0)
    with _stream(stream_sim, cred) as stream:
        stream.subscribe_quotes([AAPL], ["last", "bid", "ask"])
        assert stream.wait_ready(5)
        first = _next(stream, lambda e: isinstance(e, QuoteEvent))
        assert isinstance(first, QuoteEvent)
        assert first.fields["last"] == 190.0 and first.fields["bid"] == 189.99
        assert first.delayed is False and first.received_at > 0
        stream_sim.set_price(AAPL, 191.0)
        moved = _next(stream, lambda e: isinstance(e, QuoteEvent) and e.last == 191.0)
        assert isinstance(moved, QuoteEvent) and "last" in moved.changed
        assert moved.fields["ask"] is not None  # merged: the ask of the first message is kept
        latest = stream.last_quote(AAPL)
        assert latest is not None and latest.last == 191.0


@pytest.mark.parametrize("cred", CREDS)
def test_orders_are_merged_and_trades_arrive(stream_sim: Simulator, cred: str) -> None:
    """A REST placement and its fill arrive as full merged order states, the fill as a trade."""
    stream_sim.set_price(AAPL, 190.0)
    with _stream(stream_sim, cred) as stream:
        stream.subscribe("orders")
        stream.subscribe("trades")
        assert stream.wait_ready(5)
        time.sleep(0.2)
        placed = act(stream_sim, cred, "place_order", symbol="AAPL", side="BUY", quantity=2,
                     order_type="LMT", limit_price=188.0)
        oid = int(placed["order_id"])
        _next(stream, lambda e: isinstance(e, OrderEvent) and e.order_id == oid)
        stream_sim.set_price(AAPL, 187.0)
        seen: list[StreamEvent] = []
        _next(stream, lambda e: seen.append(e) is None and any(  # type: ignore[func-returns-value]
            isinstance(x, TradeEvent) for x in seen) and any(
            isinstance(x, OrderEvent) and x.order.get("status") == "Filled" for x in seen))
        filled = next(e for e in seen if isinstance(e, OrderEvent)
                      and e.order.get("status") == "Filled")
        assert isinstance(filled, OrderEvent) and "status" in filled.changed
        assert filled.order["totalSize"] == 2  # from the first message, merged
        trade = next(e for e in seen if isinstance(e, TradeEvent))
        assert trade.trade["order_id"] == oid
        assert (stream.order(oid) or {}).get("status") == "Filled"


def test_handshake_refused_twice_stops_with_auth_error(stream_sim: Simulator) -> None:
    """A refused handshake gets one re-authentication; refused again, the stream stops (AuthError)."""
    stream_sim.set_faults({"ws_refuse": 1.0})
    stream = _stream(stream_sim, "sim_oauth2").start()
    try:
        assert stream.wait_ready(3) is False
        with pytest.raises(AuthError):
            list(stream)
    finally:
        stream.close()


def test_dropped_socket_reconnects_resubscribes_and_resyncs(stream_sim: Simulator) -> None:
    """After a dropped socket the client reconnects, subscribes again and resyncs orders (REST)."""
    stream_sim.set_price(AAPL, 190.0)
    with _stream(stream_sim, "sim_oauth2") as stream:
        stream.subscribe("orders")
        stream.subscribe_quotes([AAPL], ["last"])
        assert stream.wait_ready(5)
        _next(stream, lambda e: isinstance(e, QuoteEvent))
        stream_sim.set_faults({"ws_drop": 1.0})
        _next(stream, lambda e: isinstance(e, ErrorEvent) and e.kind == "reconnect")
        placed = act(stream_sim, "sim_oauth2", "place_order", symbol="AAPL", side="BUY", quantity=1,
                     order_type="LMT", limit_price=186.0)
        stream_sim.set_faults({})
        resynced = _next(stream, lambda e: isinstance(e, ResyncedEvent), 8)
        assert isinstance(resynced, ResyncedEvent)
        assert int(placed["order_id"]) in {int(o["orderId"]) for o in resynced.orders}
        assert stream.connections >= 2
        stream_sim.set_price(AAPL, 192.0)
        _next(stream, lambda e: isinstance(e, QuoteEvent) and e.last == 192.0)


def test_silent_socket_is_replaced(stream_sim: Simulator) -> None:
    """No message for stale_after: the socket is replaced (an error event says so)."""
    with _stream(stream_sim, "sim_oauth2") as stream:
        assert stream.wait_ready(5)
        stream_sim.set_faults({"ws_silent": 1.0})
        event = _next(stream, lambda e: isinstance(e, ErrorEvent) and "stale" in e.message, 8)
        assert isinstance(event, ErrorEvent)


def test_sts_kick_is_session_taken_over_not_a_loop(stream_sim: Simulator) -> None:
    """`sts` competing ends the stream with SessionTakenOver; no reconnect is attempted."""
    with _stream(stream_sim, "sim_oauth2") as stream:
        assert stream.wait_ready(5)
        stream_sim.set_faults({"ws_kick": 1.0})
        stream.subscribe_quotes([AAPL], ["last"])
        with pytest.raises(SessionTakenOver):
            list(stream)
        assert stream.connections == 1


def test_expired_token_during_stream_reauthenticates(stream_sim: Simulator) -> None:
    """A token revoked mid-stream: sts unauthenticated, a new token, the stream goes on."""
    stream_sim.set_price(AAPL, 190.0)
    with _stream(stream_sim, "sim_oauth1a") as stream:
        stream.subscribe_quotes([AAPL], ["last"])
        assert stream.wait_ready(5)
        stream_sim.revoke_all()
        _next(stream, lambda e: isinstance(e, StatusEvent) and not e.authenticated)
        _next(stream, lambda e: isinstance(e, StatusEvent) and e.authenticated, 8)
        stream_sim.set_price(AAPL, 193.0)
        _next(stream, lambda e: isinstance(e, QuoteEvent) and e.last == 193.0)
        assert stream.error is None


def test_malformed_frames_are_skipped_and_reported(stream_sim: Simulator) -> None:
    """A frame that is not JSON is an error event; the stream goes on."""
    with _stream(stream_sim, "sim_oauth2") as stream:
        assert stream.wait_ready(5)
        stream_sim.set_faults({"ws_malformed": 0.5, "seed": 3})
        stream.subscribe_quotes([AAPL], ["last"])
        bad = _next(stream, lambda e: isinstance(e, ErrorEvent) and e.kind == "malformed")
        assert "not JSON" in bad.message  # type: ignore[attr-defined]
        stream_sim.set_faults({})
        _next(stream, lambda e: isinstance(e, QuoteEvent))


def test_slow_consumer_quotes_conflate_and_orders_overflow_loudly() -> None:
    """Quotes conflate per conid with a merged count; a full buffer raises StreamOverflow."""
    buffer = EventBuffer(capacity=2)
    for price in ("1", "2", "3"):
        buffer.put(QuoteEvent(conid=1, fields={"last": float(price)}, changed=["last"],
                              received_at=0.0))
    for n in range(3):
        assert buffer.put(ErrorEvent(kind="x", message=str(n), received_at=0.0)) is (n < 2)
    with pytest.raises(StreamOverflow, match="1 stream event"):
        buffer.get(0)
    quote = buffer.get(0)
    assert isinstance(quote, QuoteEvent) and quote.fields["last"] == 3.0 and quote.merged == 2
    assert [e.message for e in (buffer.get(0), buffer.get(0))] == ["0", "1"]  # type: ignore[union-attr]
    buffer.end()
    with pytest.raises(StreamClosed):
        buffer.get(0)


def test_slow_consumer_memory_stays_bounded(stream_sim: Simulator) -> None:
    """A consumer that does not read: quotes for one conid stay one pending event."""
    stream_sim.stream.quote_interval_s = 0.01
    with _stream(stream_sim, "sim_oauth2") as stream:
        stream.subscribe_quotes([AAPL], ["last", "bid", "ask", "volume"])
        assert stream.wait_ready(5)
        for step in range(20):
            stream_sim.set_price(AAPL, 100.0 + step)
            time.sleep(0.02)
        assert len(stream.buffer) <= 4  # system, sts, act, one conflated quote
        quotes = [e for e in iter(lambda: stream.get(0), None) if isinstance(e, QuoteEvent)]
        assert len(quotes) == 1 and quotes[0].merged > 0


def test_close_is_clean_and_bounded(stream_sim: Simulator) -> None:
    """close() unsubscribes, closes with a close frame and returns within its deadline."""
    stream = _stream(stream_sim, "sim_oauth2").start()
    stream.subscribe_quotes([AAPL], ["last"])
    assert stream.wait_ready(5)
    started = time.monotonic()
    stream.close()
    # Bounded by design at close_timeout (the close frame) + close_timeout + 1 (the reader's
    # join), 3 s here: asserted with headroom for a loaded machine; a close that ignored its
    # deadline would wait on websockets' own 10 s close timeout or forever.
    assert time.monotonic() - started < 2 * FAST.close_timeout + 1.0 + 5.0
    assert stream.error is None
    with pytest.raises(StreamClosed):
        for _ in range(10):
            stream.get(0)


@pytest.mark.parametrize("cred", CREDS)
def test_no_secret_in_any_log_line(stream_sim: Simulator, cred: str,
                                   caplog: pytest.LogCaptureFixture) -> None:
    """Neither the oauth_token of the URL nor the api cookie appears in any log record."""
    caplog.set_level(logging.DEBUG)
    with _stream(stream_sim, cred) as stream:
        assert stream.wait_ready(5)
        session = stream.client.tickle()["session"]
        stream_sim.set_faults({"ws_drop": 1.0})
        _next(stream, lambda e: isinstance(e, ErrorEvent))
        stream_sim.set_faults({})
    data: Any = getattr(stream.client.provider, "data", None)
    secrets = [session]
    if data is not None and hasattr(data, "access_token"):
        secrets.append(data.access_token.get_secret_value())
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert text  # something was logged
    for secret in secrets:
        assert secret not in text


class _UnaskedQuotes:
    """The simulator's real socket; once it authenticated, `smd` messages for conids nobody
    subscribed (a hostile broker) come first."""

    def __init__(self, ws: Connection, conids: deque[int]) -> None:
        self._ws, self._conids, self._authenticated = ws, conids, False

    def recv(self, timeout: float | None = None) -> str | bytes:
        """A hostile quote while one is left after authentication, else the real message."""
        if self._authenticated and self._conids:
            conid = self._conids.popleft()
            return f'{{"topic":"smd+{conid}","conid":{conid},"31":"1.5"}}'
        text = self._ws.recv(timeout)
        if isinstance(text, str) and '"authenticated":true' in text.replace(" ", ""):
            self._authenticated = True
        return text

    def send(self, message: str) -> None:
        """To the real socket."""
        self._ws.send(message)

    def close(self) -> None:
        """The real socket's close."""
        self._ws.close()

    def __enter__(self) -> _UnaskedQuotes:
        self._ws.__enter__()
        return self


def test_quotes_for_conids_never_subscribed_are_not_kept(stream_sim: Simulator) -> None:
    """smd for 2000 conids nobody asked for: no event, no state kept; the subscribed one flows."""
    unasked = deque(range(1_000_000, 1_002_000))

    def connector(url: str, **kwargs: Any) -> Any:
        return _UnaskedQuotes(connect(url, **kwargs), unasked)

    stream_sim.set_price(AAPL, 190.0)
    ib = client_for(stream_sim, "sim_oauth2")
    with StreamClient(ib, settings=FAST, connector=connector) as stream:
        stream.subscribe_quotes([AAPL], ["last"])
        assert stream.wait_ready(5)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            event = stream.get(0.5)
            assert not (isinstance(event, QuoteEvent) and event.conid >= 1_000_000), event
            if not unasked and isinstance(event, QuoteEvent):
                break
        assert not unasked
        assert stream.last_quote(1_000_000) is None and stream.last_quote(1_001_999) is None
        assert stream.last_quote(AAPL) is not None


class _DeauthAfterAuth(_UnaskedQuotes):
    """The simulator's real socket; right after each real `sts authenticated: true`, a hostile
    `sts authenticated: false` (a broker that lets every socket in and drops it at once)."""

    def recv(self, timeout: float | None = None) -> str | bytes:
        """The injected unauthenticated sts once per socket, else the real message."""
        if self._authenticated and self._conids:
            self._conids.popleft()
            return '{"topic":"sts","args":{"authenticated":false,"competing":false}}'
        return super().recv(timeout)


def test_sts_unauthenticated_after_every_login_stops_instead_of_looping(
        stream_sim: Simulator) -> None:
    """Each re-authenticated socket dropped again at once: AuthError after one retry, no loop."""
    def connector(url: str, **kwargs: Any) -> Any:
        return _DeauthAfterAuth(connect(url, **kwargs), deque([1]))

    ib = client_for(stream_sim, "sim_oauth2")
    stream = StreamClient(ib, settings=FAST, connector=connector).start()
    try:
        deadline = time.monotonic() + 8
        while stream.error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert isinstance(stream.error, AuthError), stream.connections
        assert stream.connections == 2
    finally:
        stream.close()


class _OddMessages(_UnaskedQuotes):
    """The simulator's real socket; once authenticated, `texts` (a hostile broker's) come first."""

    def __init__(self, ws: Connection, texts: deque[str]) -> None:
        super().__init__(ws, deque())
        self._texts = texts

    def recv(self, timeout: float | None = None) -> str | bytes:
        """The next odd text after authentication, else the real message."""
        if self._authenticated and self._texts:
            return self._texts.popleft()
        return super().recv(timeout)


def test_odd_but_valid_json_keeps_the_stream_alive(stream_sim: Simulator) -> None:
    """`str` args that are a number, a 5000-digit conid or order id: skipped, quotes go on."""
    odd = deque(['{"topic":"str","args":1}',
                 '{"topic":"smd+265598","conid":"' + "9" * 5000 + '","31":"1"}',
                 '{"topic":"sor","args":[{"orderId":"' + "9" * 5000 + '","status":"Filled"}]}'])

    def connector(url: str, **kwargs: Any) -> Any:
        return _OddMessages(connect(url, **kwargs), odd)

    stream_sim.set_price(AAPL, 190.0)
    ib = client_for(stream_sim, "sim_oauth2")
    with StreamClient(ib, settings=FAST, connector=connector) as stream:
        stream.subscribe_quotes([AAPL], ["last"])
        stream.subscribe("orders")
        assert stream.wait_ready(5)
        _next(stream, lambda e: isinstance(e, QuoteEvent) and e.last == 190.0)
        stream_sim.set_price(AAPL, 192.0)
        _next(stream, lambda e: isinstance(e, QuoteEvent) and e.last == 192.0)
        assert not odd and stream.error is None and stream.orders() == []


def test_an_unexpected_error_in_the_reader_ends_the_stream(stream_sim: Simulator) -> None:
    """The reader thread failing on something unforeseen ends the buffer (typed), never a silent hang."""
    def connector(url: str, **kwargs: Any) -> Any:
        raise KeyError("a connector bug")

    ib = client_for(stream_sim, "sim_oauth2")
    stream = StreamClient(ib, settings=FAST, connector=connector).start()
    try:
        with pytest.raises(StreamClosed) as info:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                stream.get(0.2)
        assert isinstance(info.value.__cause__, TransientError)
        assert isinstance(stream.error, TransientError) and "KeyError" in str(stream.error)
    finally:
        stream.close()
