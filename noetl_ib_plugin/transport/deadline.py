"""The total deadline per HTTP call: one watchdog thread shuts a late call's socket down.

`requests` only bounds each socket read, so a server that drips one byte every few seconds
can hold a call forever. `DeadlineAdapter` arms a watchdog per request that shuts the socket
down when the call's total deadline passes (headers or body), reads the body itself under a
byte cap, and refuses every 3xx instead of following it (credentials never travel to another
origin). A socket does not exist while its host's name is looked up, so the lookup cannot be
shut down: new connections are opened by `dns.open_connection`, which bounds the lookup by
what is left of the deadline. Every request and answer is logged at DEBUG without headers,
query or body.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import math
import os
import socket
import sys
import threading
import time
from typing import Any

import requests
import requests.adapters
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family

from ..errors import ConfigurationError, RedirectRefused, ResponseTooLarge
from .dns import Resolver, open_connection
from .urls import LazyWhere, loggable_url, origin

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_BYTES",
    "DeadlineAdapter",
    "DeadlineExceeded",
    "parse_deadline",
]

#: The package's name, as before the split: log filters that name it keep working.
log = logging.getLogger("noetl_ib_plugin.transport")

#: Seconds one HTTP attempt may take from sending to the last body byte (env NOETL_IB_HTTP_DEADLINE).
DEFAULT_DEADLINE = 45.0
#: Largest body (after decompression) read from any server: 16 MiB.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
ENV_DEADLINE = "NOETL_IB_HTTP_DEADLINE"
_CHUNK = 64 * 1024


class DeadlineExceeded(requests.exceptions.ReadTimeout):
    """The whole call outlived its total deadline; its socket was shut down."""


class _NotConnectedInTime(DeadlineExceeded, requests.exceptions.ConnectTimeout):
    """The deadline passed before a connection was open (name lookup or connect): nothing was
    sent, as a ConnectTimeout says, so an order is known not placed rather than unknown."""


def parse_deadline(raw: str) -> float:
    """`NOETL_IB_HTTP_DEADLINE`'s text (a front door's `Settings`) as seconds (1..600); unset
    ("") is DEFAULT_DEADLINE; anything else is a ConfigurationError naming the variable."""
    raw = raw.strip()
    if not raw:
        return DEFAULT_DEADLINE
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 1.0 <= value <= 600.0):
        raise ConfigurationError(
            f"{ENV_DEADLINE}={raw[:20]!r} is not a number of seconds between 1 and 600",
            field=ENV_DEADLINE,
            fix=f"unset {ENV_DEADLINE} to use {DEFAULT_DEADLINE:g} s, or give e.g. 30.",
        )
    return value


class _Watch:
    """The connections one call uses; `fire()` shuts their sockets down from the watchdog thread.
    `due` (monotonic) bounds what cannot be shut down (a name lookup), with `resolver`."""

    def __init__(self, due: float = math.inf, resolver: Resolver = socket.getaddrinfo) -> None:
        self.due, self.resolver = due, resolver
        self.fired = False
        #: Set when the call ended; the watchdog then drops the entry without firing.
        self.done = False
        self._conns: list[Any] = []
        self._lock = threading.Lock()

    def add(self, conn: Any) -> None:
        with self._lock:
            self._conns.append(conn)
            if self.fired:
                _shutdown(conn)

    def finish(self) -> None:
        """The call is over: its connection may go back to the pool, so never fire after this."""
        with self._lock:
            self.done = True

    def past_due(self) -> bool:
        """The call's deadline has passed (the watchdog may not have fired yet)."""
        return time.monotonic() >= self.due

    def fire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.fired = True
            for conn in self._conns:
                _shutdown(conn)


class _Watchdog:
    """One daemon thread for all deadlines of the process (a thread per call would cost ~0.2 ms)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def reset_after_fork(self) -> None:
        """A forked child starts clean: the parent's lock may have been held at fork time."""
        self._cond = threading.Condition()
        self._heap = []
        self._thread = None

    def arm(self, watch: _Watch, seconds: float) -> None:
        """Fire `watch` after `seconds` unless it is marked done first."""
        entry = (time.monotonic() + seconds, next(self._seq), watch)
        with self._cond:
            heapq.heappush(self._heap, entry)
            if self._thread is None or not self._thread.is_alive():  # first use, or after fork
                self._thread = threading.Thread(target=self._run, name="noetl-ib-deadlines",
                                                daemon=True)
                self._thread.start()
            elif self._heap[0] is entry:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                due, _, watch = self._heap[0]
                delay = due - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)
            watch.fire()


_watchdog = _Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_watchdog.reset_after_fork)


def _shutdown(conn: Any) -> None:
    """Unblock any thread reading this connection; the plain-socket call avoids racing TLS state."""
    sock = conn if isinstance(conn, socket.socket) else getattr(conn, "sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


_current = threading.local()


def _watch_socket(conn: Any) -> None:
    """Register the socket itself: http.client hands it to a `Connection: close` response and
    sets `conn.sock` to None, which would leave a dripping body out of the deadline's reach."""
    watch = getattr(_current, "watch", None)
    if watch is not None and isinstance(conn.sock, socket.socket):
        watch.add(conn.sock)


def _new_socket(conn: HTTPConnection) -> socket.socket:
    """urllib3's `HTTPConnection._new_conn` (same errors) with the name lookup inside the
    connect timeout and what is left of the calling thread's deadline."""
    watch = getattr(_current, "watch", None)
    bounds = [float(conn.timeout)] if isinstance(conn.timeout, (int, float)) else []
    if watch is not None:
        bounds.append(max(0.0, watch.due - time.monotonic()))
    timeout = min(bounds) if bounds else None
    try:
        sock = open_connection(
            conn._dns_host, conn.port, timeout,  # _dns_host keeps an FQDN's trailing dot
            resolver=watch.resolver if watch is not None else socket.getaddrinfo,
            family=allowed_gai_family(), source_address=conn.source_address,
            socket_options=conn.socket_options)
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    except TimeoutError as exc:
        raise ConnectTimeoutError(conn, f"{exc} (connect timeout={timeout})") from exc
    except OSError as exc:
        raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc
    sys.audit("http.client.connect", conn, conn.host, conn.port)
    return sock


class _WatchedHTTPConnection(HTTPConnection):
    """Registers its socket with the calling thread's watchdog before reading an answer; opens
    it with the name lookup inside the call's deadline."""

    def _new_conn(self) -> socket.socket:
        return _new_socket(self)

    def getresponse(self) -> Any:
        _watch_socket(self)
        return super().getresponse()


class _WatchedHTTPSConnection(HTTPSConnection):
    """HTTPS twin of `_WatchedHTTPConnection`."""

    def _new_conn(self) -> socket.socket:
        return _new_socket(self)

    def getresponse(self) -> Any:
        _watch_socket(self)
        return super().getresponse()


class _WatchedHTTPPool(HTTPConnectionPool):
    """Registers each connection it uses with the calling thread's watchdog."""

    ConnectionCls = _WatchedHTTPConnection

    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        watch = getattr(_current, "watch", None)
        if watch is not None:
            watch.add(conn)
        return super()._make_request(conn, *args, **kwargs)


class _WatchedHTTPSPool(HTTPSConnectionPool):
    """HTTPS twin of `_WatchedHTTPPool`."""

    ConnectionCls = _WatchedHTTPSConnection

    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        watch = getattr(_current, "watch", None)
        if watch is not None:
            watch.add(conn)
        return super()._make_request(conn, *args, **kwargs)


class DeadlineAdapter(requests.adapters.HTTPAdapter):
    """An HTTPAdapter with a total deadline per call, a body cap and no redirects.

    `deadline` (seconds, default 45; the `Host` passes `NOETL_IB_HTTP_DEADLINE`) bounds one attempt from the
    first byte sent to the last byte read, the name lookup of a new connection included
    (`resolver`: getaddrinfo's shape, injected by tests); `max_bytes` bounds the decoded body.
    The body is always read before `send` returns (a `stream=True` caller gets it preloaded).
    Raises `DeadlineExceeded` (a `requests.ReadTimeout`), `ResponseTooLarge` or `RedirectRefused`.
    """

    def __init__(
        self,
        *,
        deadline: float | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        resolver: Resolver = socket.getaddrinfo,
        **kwargs: Any,
    ) -> None:
        self.deadline = DEFAULT_DEADLINE if deadline is None else deadline
        self.max_bytes = max_bytes
        self.resolver = resolver
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }

    def send(  # noqa: PLR0917 - requests calls it with this signature
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        debug = log.isEnabledFor(logging.DEBUG)
        where = loggable_url(request.url) if debug else LazyWhere(request.url)
        watch = _Watch(time.monotonic() + self.deadline, self.resolver)
        previous = getattr(_current, "watch", None)
        _current.watch = watch
        started = time.monotonic()
        if debug:
            log.debug("HTTP %s %s", request.method, where)
        _watchdog.arm(watch, self.deadline)
        try:
            try:
                resp = super().send(request, stream=True, timeout=timeout, verify=verify,
                                    cert=cert, proxies=proxies)
                if resp.is_redirect or 300 <= resp.status_code < 400:
                    resp.close()
                    raise RedirectRefused(
                        f"{request.method} {where}: HTTP {resp.status_code} redirect to "
                        f"{origin(resp.headers.get('Location') or '')} was not followed",
                        status=resp.status_code,
                        fix="configure the final URL of the endpoint; redirects are never "
                        "followed so that credentials cannot be sent to another origin.",
                    )
                body = self._read_capped(resp, request, where, watch)
            except requests.RequestException as exc:
                if watch.fired or watch.past_due():
                    late = _NotConnectedInTime if isinstance(
                        exc, requests.exceptions.ConnectTimeout) else DeadlineExceeded
                    raise late(
                        f"{request.method} {where}: no complete answer within the total "
                        f"deadline of {self.deadline:g} s",
                        request=request,
                    ) from None
                raise
            if watch.fired:
                resp.close()
                raise DeadlineExceeded(
                    f"{request.method} {where}: no complete answer within the total deadline "
                    f"of {self.deadline:g} s",
                    request=request,
                )
        finally:
            watch.finish()
            _current.watch = previous
        resp._content = body
        resp._content_consumed = True  # type: ignore[attr-defined]
        if debug:
            log.debug("HTTP %s %s -> %s, %d bytes in %.0f ms", request.method, where,
                      resp.status_code, len(body), (time.monotonic() - started) * 1000)
        return resp

    def _read_capped(self, resp: requests.Response, request: requests.PreparedRequest,
                     where: object, watch: _Watch) -> bytes:
        """The decoded body, at most `max_bytes`; the connection goes back to the pool."""
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in resp.iter_content(_CHUNK):
                if watch.fired:  # the socket was shut down; stop at once
                    raise requests.exceptions.ConnectionError("total deadline passed")
                size += len(chunk)
                if size > self.max_bytes:
                    raise ResponseTooLarge(
                        f"{request.method} {where}: answer larger than {self.max_bytes} bytes; "
                        "reading stopped",
                        status=resp.status_code,
                        fix="check that the URL points at the intended API; its answers are "
                        "never this large.",
                    )
                chunks.append(chunk)
        finally:
            watch.finish()  # before the connection can be handed to another call
            resp.close()
        return b"".join(chunks)
