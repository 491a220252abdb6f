"""`StreamClient`: IBKR's WebSocket (`<trading root>/v1/api/ws`, ibkr-web-api.md s.12) over an
`IBClient`, sharing its token, brokerage session and pacer.

One reader thread owns the socket: it opens the brokerage session and a `/tickle` (through the
IBClient, so paced and authorised like every REST call), connects with IBKR's cookie (and
`oauth_token` for OAuth 1.0a), waits for `sts authenticated: true`, subscribes, sends `tic`,
replaces a stale socket, reconnects with backoff and jitter, re-subscribes and resyncs orders
with one REST read. Events go to a bounded `EventBuffer`. `sts` competing ends the stream with
`SessionTakenOver`; unauthenticated gets one re-authentication, never a loop.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import orjson
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from ..client import IBClient
from ..client.keepalive import Keepalive, session_keepalive
from ..common.backoff import RetryPolicy
from ..common.quote_fields import FIELD_IDS, as_int
from ..credentials.urls import UnsafeURL, check_url
from ..errors import AuthError, ConfigurationError, SessionTakenOver, TransientError
from .account_events import account_subscription, decode_other
from .buffer import EventBuffer
from .connection import WebSocket, connect
from .events import (
    ErrorEvent,
    OrderEvent,
    PnlEvent,
    QuoteEvent,
    ResyncedEvent,
    StatusEvent,
    StreamEvent,
    SystemEvent,
    TradeEvent,
)
from .quotes import QuoteState
from .resync import Resync

__all__ = ["StreamClient", "StreamSettings", "websocket_url"]

#: IBKR's messages parsed by orjson (C, about 4x the standard library's speed on `smd`
#: messages: bench_stream.py); a text it refuses goes to json before it counts as malformed.
_loads = orjson.loads
_get_ident = threading.get_ident
#: What `_handle` parsed when neither parser could.
_MALFORMED = object()

log = logging.getLogger(__name__)
#: The library's logger, WARNING and up only: its DEBUG prints the handshake (the `api` cookie
#: and the `oauth_token` of the URL).
_wire_log = logging.getLogger("noetl_ib_plugin.streaming.wire")
_wire_log.setLevel(logging.WARNING)

TOPICS = ("orders", "trades", "pnl")
_SUBSCRIBE = {"orders": "sor+{}", "trades": 'str+{"realtimeUpdatesOnly":true}', "pnl": "spl+{}"}
_UNSUBSCRIBE = {"orders": "uor+{}", "trades": "utr+{}", "pnl": "upl+{}"}
DEFAULT_QUOTE_FIELDS = ("last", "bid", "ask", "bid_size", "ask_size", "volume")
#: Seconds after a re-authentication in which IBKR ending the stream's authentication again
#: stops the stream (AuthError) instead of re-authenticating in a loop.
REAUTH_WINDOW = 60.0
#: Seconds a new reconnect waits for the previous reconnect's live-orders read to finish.
RESYNC_WAIT = 30.0


@dataclass(frozen=True)
class StreamSettings:
    """Deadlines and bounds of a stream (seconds unless said)."""

    #: The WebSocket handshake.
    open_timeout: float = 10.0
    #: From the handshake to `sts authenticated: true`.
    auth_timeout: float = 10.0
    #: No message (IBKR's heartbeat comes every ~10 s) for this long: the socket is replaced.
    stale_after: float = 30.0
    #: `tic` period (IBKR: at least once a minute).
    tic_interval: float = 50.0
    #: Reconnect backoff: base * 2^(n-1), capped, times a jitter in [0.5, 1.5).
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    #: Consecutive failed connects before the stream stops with the last error.
    max_failures: int = 8
    #: Order, trade and error events kept for a slow consumer (quotes conflate per conid).
    capacity: int = 10_000
    #: The closing handshake.
    close_timeout: float = 2.0
    #: Market data renewal before IBKR's ~10-minute stream end (IBKR clients renew at 9 min).
    renew_quotes_after: float = 540.0
    #: REST `POST /tickle` period while the stream runs (IBKR: every few minutes besides
    #: `tic`), through the session's keepalive; 0: none (the caller keeps the session alive).
    rest_tickle_interval: float = 180.0
    #: Callbacks delivered on the reader thread (`set_delivery`): one still running after this
    #: many seconds gets the socket handed to a new reader thread, so reading never waits
    #: longer than this on a callback (more than 0, at most 60).
    callback_budget: float = 0.1

    def __post_init__(self) -> None:
        """IBKR drops `/iserver` without a `tic` for a minute: refuse a longer period, and a
        callback budget the watchdog cannot keep (0 or NaN: it spins; inf: it dies)."""
        if not 0 < self.tic_interval <= 60:
            raise ConfigurationError(
                f"tic_interval must be more than 0 and at most 60 seconds, got "
                f"{self.tic_interval!r}", field="tic_interval",
                fix="use `StreamSettings(tic_interval=50)` (IBKR: a tic at least once a minute).")
        if not 0 < self.callback_budget <= 60:
            raise ConfigurationError(
                f"callback_budget must be more than 0 and at most 60 seconds, got "
                f"{self.callback_budget!r}", field="callback_budget",
                fix="use `StreamSettings(callback_budget=0.1)` (the default).")


def websocket_url(trading_base_url: str) -> str:
    """`https://host/v1/api` -> `wss://host/v1/api/ws` (`http` -> `ws`: only where the URL rule
    already allowed plain http for REST). ConfigurationError for a root the REST URL rule refuses
    (credentials/urls.py): the handshake carries the `api` cookie and OAuth 1.0a's token."""
    try:
        check_url(trading_base_url)  # the same rule as REST, again here: no ws:// to a remote host
    except UnsafeURL as exc:
        raise ConfigurationError(f"the stream's api_base_url {exc}", field="api_base_url",
                                 fix="give the credential an https:// api_base_url, e.g. "
                                     "`\"api_base_url\": \"https://api.ibkr.com\"`") from None
    parts = urlsplit(trading_base_url)
    scheme = {"https": "wss", "http": "ws"}[parts.scheme.lower()]
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", "", ""))


class _HandedOff(Exception):
    """A callback outran callback_budget: another thread reads the socket now."""


@dataclass
class _ReaderState:
    """What the reader thread keeps across sockets, handed with the socket to a new reader
    (`_watch`): the reconnect guards, the backoff under way, and what IBKR is owed when."""

    #: Failed connects in a row; re-authentications since the last good socket.
    failures: int = 0
    reauths: int = 0
    #: Reconnects so far (the resync's count).
    reconnects: int = 0
    #: When IBKR last ended an authenticated socket's authentication (clock seconds).
    lost_auth_at: float | None = None
    #: No connect before this (clock seconds): the backoff under way.
    retry_at: float = -math.inf
    #: When the next `tic` and the next market data renewal are due (clock seconds).
    next_tic: float = 0.0
    renew_at: float = 0.0


class _Reconnect(Exception):
    """The socket must be replaced (stale, closed, or `sts` said unauthenticated)."""

    def __init__(self, reason: str, *, reauth: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.reauth = reason, reauth


class StreamClient:
    """IBKR's WebSocket for one IBClient; thread-safe. Built by a front door, which hands in
    `read_live_orders` (one REST read of live orders, for the resync after a reconnect).

    `start()` connects in a background thread; events come from `get(timeout)` or iteration;
    `last_quote(conid)` and `order(order_id)` give the merged state; `close()` unsubscribes and
    closes with a close frame. Stops for good (the buffer ends with the cause) on
    SessionTakenOver, AuthError (refused twice), or `max_failures` failed connects.
    """

    def __init__(self, client: IBClient, *, settings: StreamSettings | None = None,
                 read_live_orders: Callable[[], list[dict[str, Any]]] | None = None,
                 connector: Callable[..., WebSocket] = connect,
                 rand: Callable[[], float] = random.random,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.client = client
        self.settings = settings or StreamSettings()
        self._read_live_orders = read_live_orders
        self._connector = connector
        self._clock, self._wall = clock, wall
        self.buffer = EventBuffer(self.settings.capacity, clock)
        #: The one backoff formula (common/backoff.py): base * 2^(n-1), capped, jitter +-50 %.
        self._reconnect = RetryPolicy(base_delay=self.settings.backoff_base,
                                      max_delay=self.settings.backoff_max, jitter=0.5, rand=rand)
        self._lock = threading.Lock()
        self._quotes: dict[int, tuple[str, ...]] = {}
        self._topics: set[str] = set()
        #: (summary|ledger, account) -> IBKR's (subscribe, unsubscribe) texts.
        self._account_subs: dict[tuple[str, str], tuple[str, str]] = {}
        self._outbox: deque[str] = deque()
        self._raw: dict[int, QuoteState] = {}
        self._last: dict[int, QuoteEvent] = {}
        self._orders: dict[int, dict[str, Any]] = {}
        #: The live-orders read after the last reconnect while it runs (reader thread only).
        self._pending: Resync | None = None
        #: The reader thread's bookkeeping (whichever thread reads now; handed over with it).
        self._state = _ReaderState()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._keepalive: Keepalive | None = None
        self._ws: WebSocket | None = None
        #: Why the stream stopped for good (None while it runs or after a clean close).
        self.error: BaseException | None = None
        #: Sockets opened so far (1 + reconnects).
        self.connections = 0
        #: Set by `set_delivery`: (drain, call): the reader thread hands events to them after
        #: each message; None: events wait in the buffer for a consumer thread.
        self._delivery: tuple[Callable[[], object], Callable[[StreamEvent], object]] | None = None
        #: A quote for `call` straight from the reader, when nothing waited before it.
        self._direct: StreamEvent | None = None
        self._on_handoff: Callable[[], object] | None = None
        #: Guards the hand-over of the socket from a reader stuck in a callback to a new one.
        self._role = threading.Lock()
        #: When the reader thread started its current delivery (clock seconds), else None.
        self._delivering_since: float | None = None
        #: The reader thread's ident (`_thread`'s), compared on every delivery.
        self._reader_ident: int | None = None

    # -- subscriptions (any thread) ------------------------------------------------------------
    def subscribe_quotes(self, conids: Iterable[int],
                         fields: Iterable[str] = DEFAULT_QUOTE_FIELDS) -> None:
        """Market data for `conids`; `fields` by snapshot name (`last`, `bid`, ...) or IBKR id."""
        ids = tuple(dict.fromkeys(FIELD_IDS.get(f, f) for f in fields))
        bad = [f for f in ids if not f.isdigit()]
        if bad:
            raise ConfigurationError(f"unknown market data field {bad[0]!r}", field="fields",
                                     fix=f"use names from: {', '.join(FIELD_IDS)}.")
        with self._lock:
            for conid in conids:
                self._quotes[int(conid)] = ids
                self._outbox.append(_smd(int(conid), ids))

    def unsubscribe_quotes(self, conids: Iterable[int]) -> None:
        """Stop market data for `conids`."""
        with self._lock:
            for conid in conids:
                if self._quotes.pop(int(conid), None) is not None:
                    self._outbox.append(f"umd+{int(conid)}+{{}}")

    def subscribe(self, topic: str) -> None:
        """`orders`, `trades` or `pnl`."""
        self._check_topic(topic)
        with self._lock:
            if topic not in self._topics:
                self._topics.add(topic)
                self._outbox.append(_SUBSCRIBE[topic])

    def unsubscribe(self, topic: str) -> None:
        """Stop `orders`, `trades` or `pnl`."""
        self._check_topic(topic)
        with self._lock:
            if topic in self._topics:
                self._topics.discard(topic)
                self._outbox.append(_UNSUBSCRIBE[topic])

    def subscribe_account(self, topic: str, account_id: str, keys: Iterable[str] = ()) -> None:
        """`summary` (`ssd`) or `ledger` (`sld`) of `account_id`; `keys` narrows them (IBKR's
        keys, e.g. `NetLiquidation`, `LedgerListBASE`). Events: AccountSummaryEvent,
        LedgerEvent; IBKR confirms the unsubscribe (UnsubscribedEvent)."""
        texts = account_subscription(topic, account_id, keys)  # ConfigurationError if bad
        with self._lock:
            self._account_subs[(topic, account_id)] = texts
            self._outbox.append(texts[0])

    def unsubscribe_account(self, topic: str, account_id: str) -> None:
        """Stop `summary` or `ledger` of `account_id`."""
        with self._lock:
            texts = self._account_subs.pop((topic, account_id), None)
            if texts is not None:
                self._outbox.append(texts[1])

    @staticmethod
    def _check_topic(topic: str) -> None:
        if topic not in TOPICS:
            raise ConfigurationError(f"unknown stream topic {topic!r}", field="topic",
                                     fix=f"use one of: {', '.join(TOPICS)} (quotes: "
                                         "subscribe_quotes).")

    # -- state (any thread) --------------------------------------------------------------------
    def last_quote(self, conid: int) -> QuoteEvent | None:
        """The latest merged quote of `conid` (None before its first message)."""
        with self._lock:
            return self._last.get(int(conid))

    def order(self, order_id: int) -> dict[str, Any] | None:
        """The merged state of one order as the stream (and the last resync) told it."""
        with self._lock:
            found = self._orders.get(int(order_id))
            return dict(found) if found is not None else None

    def orders(self) -> list[dict[str, Any]]:
        """Every order the stream has seen, merged."""
        with self._lock:
            return [dict(o) for o in self._orders.values()]

    def set_delivery(self, drain: Callable[[], object], call: Callable[[StreamEvent], object],
                     *, budget: float | None = None,
                     on_handoff: Callable[[], object] | None = None) -> None:
        """From now on the reader thread delivers after each message: `call(event)` for a quote
        that found nothing waiting before it, then `drain()` to hand what the buffer holds to
        callbacks (no thread wake-up per message). `budget` None: always so (a slow callback
        holds up reading; silence is measured from its end). `budget` seconds
        (settings.callback_budget): a delivery still running after it gets the socket handed to
        a new reader thread, and the stuck thread, once its callback returns, runs
        `on_handoff()` (deliver from the buffer on a thread of its own until the stream ends)."""
        with self._role:
            self._delivery, self._on_handoff = (drain, call), on_handoff
        if budget is not None:
            threading.Thread(target=self._watch, args=(budget,), name="noetl-ib-stream-watch",
                             daemon=True).start()

    def _watch(self, budget: float) -> None:
        """Hand the socket to a new reader when a delivery outruns `budget` s (checked every
        half budget); ends with the stream or after the one hand-over."""
        while not self._stop.wait(budget / 2):
            thread = self._thread
            if self.error is not None or (thread is not None and not thread.is_alive()):
                return
            with self._role:
                since = self._delivering_since
                if since is None or self._delivery is None or self._clock() - since < budget:
                    continue
                self._delivery = None  # the buffer is read by the stuck thread from now on
                reader = threading.Thread(target=self._run, args=(self._ws,),
                                          name="noetl-ib-stream", daemon=True)
                self._thread = reader
                reader.start()  # started under the lock: close() never joins an unstarted one
                self._reader_ident = reader.ident
            log.info("a stream callback ran past %g s: the socket moved to a new reader thread",
                     budget)
            return

    def _deliver_now(self) -> None:
        """Hand the waiting events to the delivery; _HandedOff when a callback ran so long that a
        new reader took the socket meanwhile (this thread then touches it no more)."""
        delivery = self._delivery
        if delivery is None:
            return
        self._delivering_since = self._clock()
        try:
            self._deliver_all(delivery)
        finally:
            with self._role:
                self._delivering_since = None
                handed_off = self._reader_ident != _get_ident()
        if handed_off:
            raise _HandedOff

    def _deliver_all(self, delivery: tuple[Callable[[], object],
                                           Callable[[StreamEvent], object]]) -> None:
        """The direct quote first (nothing was queued before it), then the buffer's events."""
        drain, call = delivery
        direct, self._direct = self._direct, None
        if direct is not None:
            call(direct)
        if self.buffer.pending():
            drain()

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> StreamClient:
        """Connect in the background (idempotent); REST `/tickle` every rest_tickle_interval
        through the session's keepalive, unless one already runs for the session."""
        if self._thread is None:
            if self.settings.rest_tickle_interval > 0:
                self._keepalive = session_keepalive(self.client,
                                                    self.settings.rest_tickle_interval,
                                                    stop_timeout=self.settings.close_timeout)
            with self._role:
                self._thread = threading.Thread(target=self._run, name="noetl-ib-stream",
                                                daemon=True)
                self._thread.start()
                self._reader_ident = self._thread.ident
        return self

    def wait_ready(self, timeout: float) -> bool:
        """Whether the socket was authenticated within `timeout` s (False also once it stopped)."""
        deadline = self._clock() + timeout
        while not self._ready.wait(min(0.05, max(0.0, deadline - self._clock()))):
            if self._clock() >= deadline or self.buffer_ended:
                return False
        return True

    def join(self, timeout: float) -> None:
        """Wait up to `timeout` s for the reader thread to stop (at once if it never started)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def buffer_ended(self) -> bool:
        """Whether the reader stopped (closed, or for good with `error`)."""
        return self._thread is not None and not self._thread.is_alive()

    def get(self, timeout: float) -> StreamEvent | None:
        """The next event or None after `timeout` s (StreamOverflow, StreamClosed: buffer.get)."""
        return self.buffer.get(timeout)

    def __iter__(self) -> Iterator[StreamEvent]:
        """Events until the stream ends (then StreamClosed ends the loop quietly unless it
        stopped for good, in which case the cause is raised)."""
        from .buffer import StreamClosed
        while True:
            try:
                event = self.buffer.get(0.5)
            except StreamClosed:
                if self.error is not None:
                    raise self.error from None
                return
            if event is not None:
                yield event

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        """`async for event in stream`: the same events as iteration, read without blocking
        the loop (streaming/aio.py); the stream's error if it stopped for good."""
        from .aio import aiter_events

        return aiter_events(self.buffer, lambda: self.error)

    def close(self) -> None:
        """Unsubscribe, send a close frame, stop the reader (bounded by close_timeout)."""
        self._stop.set()
        ws = self._ws
        if ws is not None:
            with self._lock:
                goodbye = [f"umd+{c}+{{}}" for c in self._quotes]
                goodbye += [_UNSUBSCRIBE[t] for t in sorted(self._topics)]
                goodbye += [unsub for _, unsub in self._account_subs.values()]
            try:
                for text in goodbye:
                    ws.send(text)
                ws.close()
            except (ConnectionClosed, OSError, RuntimeError):
                pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(self.settings.close_timeout + 1.0)
        self._stop_keepalive()
        self.buffer.end(self.error)

    def __enter__(self) -> StreamClient:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the reader thread ---------------------------------------------------------------------
    def _run(self, resume: WebSocket | None = None) -> None:
        """The reader thread: never dies without ending the buffer (a consumer in `get` or
        `async for` would otherwise wait for ever). `resume`: a socket handed over open."""
        try:
            self._serve(resume)
        except _HandedOff:
            # Another thread reads the socket now; this one goes on delivering from the buffer.
            if self._on_handoff is not None:
                try:
                    self._on_handoff()
                except BaseException as exc:  # a callback's sys.exit() there too
                    self._ended_by(exc)
            return
        except Exception as exc:  # a broker's message or answer no branch expected
            self._stop_for_good(TransientError(
                f"the stream's reader stopped on an unexpected {type(exc).__name__}",
                fix="start the stream again; report it with `-v` output if it repeats."))
        except BaseException as exc:
            self._ended_by(exc)
            return
        delivery = self._delivery
        if delivery is not None:
            self._deliver_all(delivery)  # the last events (no socket left to hand over: no budget)

    def _ended_by(self, exc: BaseException) -> None:
        """A callback's sys.exit() on a stream thread (callbacks run on them): the stream ends as
        close() ends it, never a consumer waiting for ever nor a keepalive left running. Other
        BaseExceptions go on up once it ended (a thread ends quietly on SystemExit anyway)."""
        self._stop_keepalive()  # first: once the reader saw the stop, the stream looks ended
        self._stop.set()
        self.buffer.end(self.error)
        if not isinstance(exc, SystemExit):
            raise exc

    def _serve(self, resume: WebSocket | None = None) -> None:
        """Connect, pump, reconnect; end the buffer with the reason it stopped."""
        state = self._state  # carried over from the reader this one replaces, if any
        if resume is None:  # the backoff the replaced reader was in, if it was
            self._stop.wait(max(0.0, state.retry_at - self._clock()))
        while not self._stop.is_set():
            if resume is not None:
                # Handed over by a reader held up in a callback: open, authenticated, subscribed.
                ws, resume, resumed = resume, None, True
            else:
                resumed = False
                try:
                    ws = self._open(reauth=state.reauths > 0)
                except (SessionTakenOver, AuthError, ConfigurationError) as exc:
                    self._stop_for_good(exc)
                    return
                except _Reconnect as exc:
                    state.reauths += 1
                    if state.reauths > 1:
                        self._stop_for_good(AuthError(
                            f"IBKR refused the stream again after a re-authentication: {exc.reason}",
                            fix="check the credential with `noetl-ib run auth_status --credential "
                                "NAME`; another session may hold this username."))
                        return
                    continue
                except (OSError, TimeoutError, WebSocketException, TransientError) as exc:
                    state.failures += 1
                    if state.failures >= self.settings.max_failures:
                        self._stop_for_good(TransientError(
                            f"the stream could not connect {state.failures} times in a row: "
                            f"{type(exc).__name__}"))
                        return
                    self._emit(ErrorEvent(kind="connect_failed", message=_safe(exc),
                                          received_at=self._wall()))
                    self._backoff(state.failures)
                    continue
                state.failures = 0
                self.connections += 1
                self._ws = ws
            backoff = 0
            try:
                if not resumed:
                    self._resubscribe(ws)
                    if self.connections > 1:
                        state.reconnects += 1
                        self._resync(state.reconnects)
                    state.reauths = 0
                self._pump(ws, resumed=resumed)
            except SessionTakenOver as exc:
                self._stop_for_good(exc)
                return
            except _Reconnect as exc:
                if exc.reauth:
                    state.reauths += 1
                    now = self._clock()
                    # A socket that authenticates and is dropped again at once would otherwise
                    # loop (each turn a forced brokerage session): twice within REAUTH_WINDOW stops.
                    lost = state.lost_auth_at
                    if lost is not None and now - lost < REAUTH_WINDOW:
                        state.reauths += 1
                    state.lost_auth_at = now
                    if state.reauths > 1:
                        self._stop_for_good(AuthError(
                            "IBKR ended the stream's authentication twice in a row",
                            fix="check the credential with `noetl-ib run auth_status --credential NAME`."))
                        return
                self._emit(ErrorEvent(kind="reconnect", message=exc.reason,
                                      received_at=self._wall()))
                backoff = 1
            except (ConnectionClosed, OSError) as exc:
                self._emit(ErrorEvent(kind="reconnect", message=_safe(exc),
                                      received_at=self._wall()))
                backoff = 1
            finally:
                if self._thread is threading.current_thread():  # else: the new reader's socket
                    self._ready.clear()
                    self._ws = None
                    _quiet_close(ws)
            if backoff:
                self._backoff(backoff)
        self.buffer.end(self.error)

    def _stop_for_good(self, exc: BaseException) -> None:
        """Record why and end the buffer (the consumer gets StreamClosed from `exc`)."""
        log.warning("stream stopped: %s", _safe(exc))
        self.error = exc
        self._stop_keepalive()
        self.buffer.end(exc)

    def _stop_keepalive(self) -> None:
        """Stop the REST keepalive this stream started (once; bounded by its stop_timeout)."""
        with self._lock:
            keepalive, self._keepalive = self._keepalive, None
        if keepalive is not None:
            keepalive.stop()

    def _backoff(self, n: int) -> None:
        """Exponential backoff with jitter, cut short by close(); what the failure announced
        is delivered first (a reader taking over meanwhile waits out the rest: retry_at)."""
        state = self._state
        state.retry_at = self._clock() + self._reconnect.delay(n)
        self._deliver_now()
        self._stop.wait(max(0.0, state.retry_at - self._clock()))

    def _open(self, *, reauth: bool) -> WebSocket:
        """Brokerage session, `/tickle`, handshake, then wait for `sts authenticated: true`."""
        client = self.client
        if reauth:
            # A token IBKR no longer takes is replaced by the IBClient itself when this REST
            # call gets 401; the new token's brokerage session then opens as usual. With the
            # same token, the brokerage session is reopened (SessionTakenOver if another holds it).
            before = client.provider.current_token().value
            client.tickle()
            client.brokerage(force=client.provider.current_token().value == before)
        else:
            client.brokerage()
        answer = client.tickle()
        session = answer.get("session") if isinstance(answer, dict) else None
        if not isinstance(session, str) or not session:
            raise TransientError("`POST /tickle` answered without a session for the stream")
        url = websocket_url(client.trading_base_url)
        if client.provider.scheme == "oauth1a":
            token: Any = getattr(getattr(client.provider, "data", None), "access_token", None)
            secret = token.get_secret_value() if token is not None else ""
            url += "?oauth_token=" + quote(str(secret), safe="")
        try:
            ws = self._connector(
                url, open_timeout=self.settings.open_timeout,
                close_timeout=self.settings.close_timeout, ping_interval=None,
                additional_headers={"Cookie": f"api={session}"},
                user_agent_header="ClientPortalGW/1", logger=_wire_log, max_size=2**22)
        except InvalidStatus as exc:
            if exc.response.status_code in (401, 403):
                raise _Reconnect(f"handshake refused with HTTP {exc.response.status_code}",
                                 reauth=True) from None
            raise
        # The socket outlives this call (the reader thread owns and closes it): entered as
        # `with connect(...)` would (a library connector, websockets >= 17.1, warns otherwise).
        ws = ws.__enter__()
        try:
            self._await_authenticated(ws)
        except BaseException:
            _quiet_close(ws)
            raise
        log.info("stream connected to %s", url.partition("?")[0])
        return ws

    def _await_authenticated(self, ws: WebSocket) -> None:
        """Read until `sts authenticated: true` (bounded by auth_timeout)."""
        deadline = self._clock() + self.settings.auth_timeout
        while True:
            left = deadline - self._clock()
            if left <= 0:
                raise TimeoutError("no `sts authenticated: true` in time")
            text = ws.recv(timeout=left)
            if isinstance(text, str) and self._handle(text):
                self._ready.set()
                return

    def _resubscribe(self, ws: WebSocket) -> None:
        """Everything subscribed so far, again (also the first time: the outbox is replaced)."""
        with self._lock:
            self._outbox.clear()
            texts = [_smd(c, ids) for c, ids in self._quotes.items()]
            texts += [_SUBSCRIBE[t] for t in sorted(self._topics)]
            texts += [sub for sub, _ in self._account_subs.values()]
            self._raw.clear()
        for text in texts:
            ws.send(text)

    def _resync(self, reconnects: int) -> None:
        """Start one REST read of live orders after a reconnect (merged and announced by
        `_finish_resync` once done, while market data goes on)."""
        if self._read_live_orders is None or "orders" not in self._topics:
            return
        if self._pending is not None:  # the previous read first: its orders are older
            if not self._pending.wait(RESYNC_WAIT):
                self._emit(ErrorEvent(kind="resync_failed", message="the previous live-orders "
                                      "read is still running", received_at=self._wall()))
                return
            self._finish_resync()
        self._pending = Resync(self._read_live_orders, reconnects)

    def _finish_resync(self) -> None:
        """Merge the finished read, announce it, then the order updates that waited for it."""
        job, self._pending = self._pending, None
        if job is None:
            return
        if job.error is not None:
            self._emit(ErrorEvent(kind="resync_failed", message=_safe(job.error),
                                  received_at=self._wall()))
        else:
            with self._lock:
                for order in job.orders:
                    oid = as_int(order.get("orderId"))
                    if oid is not None:
                        self._orders[oid] = {**self._orders.get(oid, {}), **order}
            self._emit(ResyncedEvent(orders=job.orders, reconnects=job.reconnects,
                                     received_at=self._wall()))
        for args, received_at in job.deferred:
            self._order_updates(args, received_at)

    def _pump(self, ws: WebSocket, *, resumed: bool = False) -> None:
        """Read, send `tic` when due, drain the outbox, replace a stale socket, renew quotes.
        `resumed`: a socket handed over, whose `tic` and renewal stay due when they were."""
        s, state = self.settings, self._state
        clock, recv, handle, stop = self._clock, ws.recv, self._handle, self._stop.is_set
        wake = self.buffer.wake
        now = clock()
        if not resumed:
            state.next_tic, state.renew_at = now + s.tic_interval, now + s.renew_quotes_after
        last_rx, next_tic, renew_at = now, state.next_tic, state.renew_at
        # The next time something besides reading is due (tic, stale check, renewal).
        due = min(next_tic, last_rx + s.stale_after)
        self._deliver_now()  # what the handshake announced (sts, system)
        while not stop():
            if self._pending is not None and self._pending.done():
                self._finish_resync()
                self._deliver_now()
            if self._outbox:  # a plain look first: the lock only when something waits
                with self._lock:
                    outgoing = list(self._outbox)
                    self._outbox.clear()
                for command in outgoing:
                    ws.send(command)
            # Consumers woken once per read, just before this thread blocks (buffer.wake).
            wake()
            text: str | bytes | None
            try:
                text = recv(min(0.25, max(0.0, due - now)))
            except TimeoutError:
                text = None
            now = clock()
            if text.__class__ is str:
                handle(text)
                if self._delivery is not None:
                    self._deliver_now()
                    now = clock()  # a callback's time is not the socket's silence
                last_rx = now
            elif now - last_rx >= s.stale_after:
                raise _Reconnect(f"no message for {s.stale_after:g} s: stale socket replaced")
            if now >= next_tic:
                ws.send("tic")
                next_tic = state.next_tic = now + s.tic_interval
            due = min(next_tic, last_rx + s.stale_after)
            if now >= renew_at:
                renew_at = state.renew_at = now + s.renew_quotes_after
                with self._lock:
                    self._outbox.extend(_smd(c, ids) for c, ids in self._quotes.items())

    def _emit(self, event: StreamEvent) -> None:
        """Queue an event for the consumer."""
        self.buffer.put(event)

    def _handle(self, text: str) -> bool:
        """One message; True when it was `sts authenticated: true`."""
        now = self._wall()
        try:
            msg = _loads(text)
        except ValueError:
            try:  # what orjson refuses and json reads (NaN, a lone surrogate): not lost
                msg = json.loads(text)
            except ValueError:
                msg = _MALFORMED
        if msg is _MALFORMED:
            self._emit(ErrorEvent(kind="malformed", message=f"a frame that is not JSON "
                                  f"({len(text)} characters) was skipped", received_at=now))
            return False
        if msg.__class__ is not dict:
            return False
        topic = msg.get("topic")
        if topic.__class__ is not str:
            topic = "" if topic is None else str(topic)
        if topic.startswith("smd+"):  # market data first: nearly every message is one
            self._quote(topic, msg, now)
        elif topic == "sts":
            return self._status(msg.get("args"), now)
        elif topic == "system":
            if "success" in msg:
                self._emit(SystemEvent(username=str(msg["success"]), received_at=now))
        elif topic == "sor":
            if self._pending is not None:
                self._pending.deferred.append((msg.get("args"), now))
            else:
                self._order_updates(msg.get("args"), now)
        elif topic == "str":
            trades = msg.get("args")
            for trade in trades if isinstance(trades, list) else []:
                if isinstance(trade, dict):
                    self._emit(TradeEvent(trade=trade, received_at=now))
        elif topic == "spl":
            if isinstance(msg.get("args"), dict):
                self._emit(PnlEvent(rows=msg["args"], received_at=now))
        elif topic == "error":
            self._emit(ErrorEvent(kind="ibkr", message=str(msg.get("error", ""))[:300],
                                  received_at=now))
        else:  # account topics, act/blt/ntf, unsubscribe confirmations (account_events.py)
            other = decode_other(topic, msg, now)
            if other is not None:
                self._emit(other)
        return False

    def _status(self, args: Any, now: float) -> bool:
        """`sts`: authenticated (True), competing (SessionTakenOver) or re-authenticate."""
        args = args if isinstance(args, dict) else {}
        event = StatusEvent(authenticated=args.get("authenticated") is True,
                            competing=args.get("competing") is True,
                            message=str(args.get("message") or "")[:300], received_at=now)
        self._emit(event)
        if event.authenticated:
            return True
        if event.competing:
            raise SessionTakenOver(
                "another session of this IBKR username took the brokerage session; the stream "
                "stopped instead of taking it back",
                fix="stop the other session (IBKR allows one per username), then start the "
                    "stream again.")
        raise _Reconnect("IBKR says the stream is no longer authenticated", reauth=True)

    def _quote(self, topic: str, msg: dict[str, Any], now: float) -> None:
        """Merge `smd` fields into the conid's quote and queue the typed result."""
        conid = msg.get("conid")
        if conid.__class__ is not int:
            conid = as_int(conid) or as_int(topic.partition("+")[2])
            if conid is None:
                return
        if "error" in msg:
            self._emit(ErrorEvent(kind=market_data_error_kind(msg["error"]),
                                  message=str(msg["error"])[:300], received_at=now))
            return
        with self._lock:
            if conid not in self._quotes:
                # Not asked for (or unsubscribed): a broker sending endless conids must not
                # grow the per-conid state and the buffer without bound.
                return
            state = self._raw.get(conid)
            if state is None:
                state = self._raw[conid] = QuoteState(conid)
            event = state.apply(msg, now)
            self._last[conid] = event
        if self._delivery is not None and self._direct is None and not self.buffer.pending():
            self._direct = event  # to the callbacks after this message, without the buffer
        else:
            self.buffer.put(event, wake=False)  # woken when the reader next blocks (_pump)

    def _order_updates(self, args: Any, now: float) -> None:
        """Merge each `sor` entry into its order's full state and queue it."""
        for update in args if isinstance(args, list) else []:
            if not isinstance(update, dict):
                continue
            oid = as_int(update.get("orderId"))
            if oid is None:
                continue
            with self._lock:
                merged = {**self._orders.get(oid, {}), **update}
                self._orders[oid] = merged
            self._emit(OrderEvent(order_id=oid, order=dict(merged),
                                  changed=sorted(update), received_at=now))


def _smd(conid: int, ids: tuple[str, ...]) -> str:
    """IBKR's market data subscription text."""
    return f"smd+{conid}+" + json.dumps({"fields": list(ids)}, separators=(",", ":"))


def market_data_error_kind(error: Any) -> str:
    """`market_data_lines` when IBKR refused a subscription for the account's market data lines
    (its limit), else `market_data`."""
    text = str(error).lower()
    return "market_data_lines" if "max number of tickers" in text \
        or "market data lines" in text else "market_data"


def _safe(exc: BaseException) -> str:
    """An exception as a short line without URLs' query strings (no oauth_token)."""
    text = f"{type(exc).__name__}: {exc}"
    return text.split("?", 1)[0][:300]


def _quiet_close(ws: WebSocket) -> None:
    """Close a socket we are giving up on, bounded by its close_timeout."""
    with contextlib.suppress(ConnectionClosed, OSError, RuntimeError):
        ws.close()
