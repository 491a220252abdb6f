"""`TradingStream`: IBKR's WebSocket for bots, from `TradingClient.stream(...)`.

    with TradingClient("paper") as ib, ib.stream(quotes=["AAPL"], topics=["orders"]) as live:
        live.on("order", lambda e: print(e.order["status"]))
        for event in live:                       # or only callbacks: live.wait(seconds)
            if event.topic == "quote" and (event.last or 0) > 190:
                break
        print(live.last_quote("AAPL"))

Events are the models of `noetl_ib_plugin.streaming` (QuoteEvent, OrderEvent, TradeEvent,
PnlEvent, ResyncedEvent, StatusEvent, SystemEvent, ErrorEvent), each with `received_at`.
Thread-safe: subscribe, unsubscribe and `last_quote` from any thread while it runs, beside the
REST calls of the same TradingClient (one token, one brokerage session, one pacer).
"""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from .actions.contracts import resolve_contract
from .client import IBClient
from .errors import InputError, TransientError
from .streaming import (
    DEFAULT_QUOTE_FIELDS,
    StreamClient,
    StreamClosed,
    StreamEvent,
    StreamOverflow,
)
from .streaming.account_events import ACCOUNT_TOPICS
from .streaming.events import QuoteEvent

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["TradingStream"]

log = logging.getLogger(__name__)

#: Event topics a callback may be registered for ("*": every event).
EVENT_TOPICS = ("quote", "order", "trade", "pnl", "resynced", "sts", "system", "error",
                "summary", "ledger", "account", "bulletin", "notification", "unsubscribed", "*")


#: Where callbacks run: `thread` (default) the socket's reader thread while they return within
#: StreamSettings.callback_budget, then a thread of their own; `inline` always the reader thread.
DISPATCH_MODES = ("thread", "inline")


class TradingStream:
    """A running stream: iterate its events, or register callbacks per topic (one or the other:
    callbacks take the events iteration would have given).

    Callbacks run one at a time, in the order the socket delivered the events, in a copy of the
    context of the first `on` (a callback registered inside a NoETL step runs in that step).

    `dispatch="thread"` (default): callbacks run on the socket's reader thread as long as each
    returns within `StreamSettings.callback_budget` (0.1 s): no thread wake-up per message, about
    half the CPU per message at steady quote rates (docs/benchmarks.md). The first callback
    that runs longer gets the socket handed to a new reader thread (reading waits on it
    for the budget at most), and from then on callbacks run on a thread of their own: a slow
    callback only lets events wait in the bounded buffer (quotes conflate, see EventBuffer).
    `dispatch="inline"`: callbacks always run on the reader thread, as ibind's IbkrWsClient calls
    back: while a callback runs the socket is not read, `tic` is not sent and nothing
    conflates, so a callback must return quickly (hand slow work such as REST orders to a
    thread of your own). A slow callback does not make the socket count as stale; one longer
    than IBKR's minute without `tic` can end the session.
    """

    def __init__(self, client: IBClient, stream: StreamClient, *,
                 dispatch: str = "thread") -> None:
        if dispatch not in DISPATCH_MODES:
            raise InputError(f"unknown dispatch mode {dispatch!r}", field="dispatch",
                             fix='pass "thread" (the default) or "inline" as the dispatch mode.')
        self._client = client
        self._stream = stream
        self._inline = dispatch == "inline"
        self._lock = threading.Lock()
        self._conids: dict[str, int] = {}
        #: Replaced, never changed in place, under the lock: read without it on every event.
        self._callbacks: dict[str, tuple[Callable[[StreamEvent], object], ...]] = {}
        self._routes: dict[str, tuple[Callable[[StreamEvent], object], ...]] = {}
        self._dispatcher: threading.Thread | None = None
        #: The context of the first `on` (callbacks run in it) once registered.
        self._context: contextvars.Context | None = None

    @property
    def client(self) -> StreamClient:
        """The underlying StreamClient."""
        return self._stream

    def _conid(self, item: str | int) -> int:
        """A conid for a symbol (looked up once, like the REST actions do) or a conid."""
        text = str(item).strip()
        if (isinstance(item, int) and not isinstance(item, bool)) or text.isdigit():
            # isascii: int() refuses other digits ('²') and more than 4300 of them (ValueError).
            conid = item if isinstance(item, int) else \
                int(text) if text.isascii() and len(text) <= 10 else 0
            if not 0 < conid < 2**31:
                raise InputError(f"{text[:20]!r} is not an IBKR contract id", field="quotes",
                                 fix="give a symbol or a conid, e.g. quotes=['AAPL', 265598].")
            return conid
        with self._lock:
            known = self._conids.get(text.upper())
        if known is None:
            contract = resolve_contract(self._client, symbol=text)
            known = contract.conid
            with self._lock:
                self._conids[text.upper()] = known
        return known

    def subscribe_quotes(self, items: Iterable[str | int],
                         fields: Iterable[str] = DEFAULT_QUOTE_FIELDS) -> None:
        """Market data for symbols or conids (`fields` by snapshot name: last, bid, ask, ...)."""
        self._stream.subscribe_quotes([self._conid(i) for i in items], fields)

    def unsubscribe_quotes(self, items: Iterable[str | int]) -> None:
        """Stop market data for symbols or conids."""
        self._stream.unsubscribe_quotes([self._conid(i) for i in items])

    def subscribe(self, topic: str, account_id: str | None = None) -> None:
        """`orders`, `trades`, `pnl`, or `summary`/`ledger` of `account_id` (default: the
        client's account)."""
        if topic in ACCOUNT_TOPICS:
            self._stream.subscribe_account(topic, account_id or self._client.account_id)
        else:
            self._stream.subscribe(topic)

    def unsubscribe(self, topic: str, account_id: str | None = None) -> None:
        """Stop `orders`, `trades`, `pnl`, or `summary`/`ledger` of `account_id`."""
        if topic in ACCOUNT_TOPICS:
            self._stream.unsubscribe_account(topic, account_id or self._client.account_id)
        else:
            self._stream.unsubscribe(topic)

    def last_quote(self, item: str | int) -> QuoteEvent | None:
        """The latest merged quote of a symbol or conid (None before its first message)."""
        return self._stream.last_quote(self._conid(item))

    def on(self, topic: str, callback: Callable[[StreamEvent], object]) -> None:
        """Call `callback(event)` for each event of `topic` (quote, order, trade, pnl, resynced,
        sts, system, error, or * for all), on the thread the dispatch mode says (see the class);
        exceptions are logged."""
        if topic not in EVENT_TOPICS:
            raise InputError(f"unknown event topic {topic!r}", field="topic",
                             fix=f"use one of: {', '.join(EVENT_TOPICS)}.")
        with self._lock:
            self._callbacks = {**self._callbacks,
                               topic: (*self._callbacks.get(topic, ()), callback)}
            everyone = self._callbacks.get("*", ())
            # What each topic calls, built once here rather than per event: its own callbacks,
            # then the `*` ones (a topic missing here calls the `*` ones alone).
            routes = {name: (*own, *everyone) for name, own in self._callbacks.items()
                      if name != "*"}
            routes["*"] = everyone
            self._routes = routes
            if self._context is None:
                # In a copy of the caller's context: a callback registered inside a NoETL step
                # runs in that step (its orders go through the step's client and token cache).
                context = self._context = contextvars.copy_context()
                budget = None if self._inline else self._stream.settings.callback_budget
                self._stream.set_delivery(functools.partial(context.run, self._drain),
                                          lambda event: context.run(self._call, event),
                                          budget=budget,
                                          on_handoff=functools.partial(context.run,
                                                                       self._take_over))

    def _take_over(self) -> None:
        """After a hand-over (a callback outran the budget): this thread, no longer the reader,
        delivers every later event until the stream ends."""
        self._dispatcher = threading.current_thread()
        self._drain(wait=0.5)

    def _call(self, event: StreamEvent) -> None:
        """The event's topic's callbacks, then the `*` ones; each one's exception is logged."""
        routes = self._routes
        for callback in routes.get(event.topic) or routes.get("*", ()):
            try:
                callback(event)
            except Exception:
                log.exception("stream callback for %s failed", event.topic)

    def _drain(self, wait: float = 0.0) -> None:
        """Hand buffered events to the callbacks (a loss the buffer reports is logged) until the
        stream ends; `wait` 0 (the reader thread's delivery): also once nothing is waiting."""
        get, call = self._stream.get, self._call
        while True:
            try:
                queued = get(wait)
            except StreamOverflow:
                log.exception("stream events were lost: the callbacks fell behind")
                continue
            except StreamClosed:
                return
            if queued is not None:
                call(queued)
            elif not wait:
                return

    def get(self, timeout: float) -> StreamEvent | None:
        """The next event, or None after `timeout` s."""
        return self._stream.get(timeout)

    def __iter__(self) -> Iterator[StreamEvent]:
        """Events until the stream is closed (its typed error if it stopped for good)."""
        return iter(self._stream)

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        """`async for event in live`: the same events, without blocking the asyncio loop."""
        return aiter(self._stream)

    def wait(self, seconds: float) -> None:
        """Let callbacks run for `seconds` (or until the stream stops); raises its error."""
        thread = self._dispatcher
        if thread is None:
            self._stream.join(seconds)  # at once on the reader thread itself (a callback's)
        elif thread is not threading.current_thread():  # as there, in a callback after a hand-over
            thread.join(seconds)
        if self._stream.error is not None:
            raise self._stream.error

    def close(self) -> None:
        """Unsubscribe and close the socket (bounded), stop the dispatcher."""
        self._stream.close()
        thread = self._dispatcher
        if thread is not None and thread is not threading.current_thread():
            thread.join(2.0)

    def __enter__(self) -> TradingStream:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_stream(client: IBClient, stream: StreamClient, *, quotes: Iterable[str | int],
                fields: Iterable[str], topics: Iterable[str], ready_timeout: float,
                dispatch: str = "thread") -> TradingStream:
    """Subscribe, start and wait for `sts authenticated`; the stream's error if it could not."""
    live = TradingStream(client, stream, dispatch=dispatch)
    try:
        items = list(quotes)
        if items:
            live.subscribe_quotes(items, fields)
        for topic in topics:
            live.subscribe(topic)
        stream.start()
        if not stream.wait_ready(ready_timeout):
            if stream.error is not None:
                raise stream.error
            raise TransientError(f"the stream was not authenticated within {ready_timeout:g} s",
                                 fix="check `noetl-ib run auth_status --credential NAME`, "
                                     "then try again.")
    except BaseException:
        live.close()
        raise
    return live
