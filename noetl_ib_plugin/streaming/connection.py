"""A client WebSocket read in the caller's thread: `websockets`' sans-I/O `ClientProtocol` does the
opening handshake and all framing (masking, fragments, pings, the closing handshake, size limits);
this module only moves bytes between it and a socket.

Why not `websockets.sync.client.connect`: it reads the socket in a thread of its own and hands
every message to the caller's thread through a queue and a condition. At IBKR's market data
rates that hand-over cost more than everything the stream does with a message (bench_stream.py:
about 55 µs of CPU per message for recv alone, against about 25 µs here). The stream has one
reader thread anyway, so the socket is read there.

Same surface as the library's sync connection where the stream uses it: `recv(timeout)`,
`send(text)`, `close()`, context manager; the same exceptions (`InvalidStatus` for a refused
handshake, `ConnectionClosed` once the socket is gone, `TimeoutError`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import select
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

from ..transport.dns import Resolver, open_connection

__all__ = ["Connection", "WebSocket", "connect"]

_CHUNK = 65536


class WebSocket(Protocol):
    """What StreamClient needs of a socket (the library's sync ClientConnection has it too)."""

    def recv(self, timeout: float | None = None) -> str | bytes: ...

    def send(self, message: str) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> WebSocket: ...


class Connection:
    """One open WebSocket. `recv` from one thread at a time; `send`/`close` from any thread."""

    def __init__(self, sock: socket.socket, protocol: ClientProtocol, *,
                 close_timeout: float) -> None:
        self._sock, self._protocol = sock, protocol
        self._close_timeout = close_timeout
        #: Guards the protocol object and socket writes.
        self._lock = threading.Lock()
        #: Held while a thread reads the socket (a reader and close() never read at once).
        self._reading = threading.Lock()
        self._messages: deque[str | bytes] = deque()
        self._fragments: list[Frame] = []
        self._finished = False
        self._tls = isinstance(sock, ssl.SSLSocket)
        #: poll(2) on this one socket, registered once (select() builds three lists per call).
        self._poll: Callable[[int], list[tuple[int, int]]] | None = None
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock.fileno(), select.POLLIN)
            self._poll = poller.poll

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- receiving ---------------------------------------------------------------------------
    def recv(self, timeout: float | None = None) -> str | bytes:
        """The next message (text as str); TimeoutError after `timeout` s, ConnectionClosed
        once the connection ended (messages received before the end come first)."""
        messages = self._messages
        if messages:
            return messages.popleft()
        if not self._reading.acquire(timeout=-1 if timeout is None else max(0.0, timeout)):
            raise TimeoutError("another thread is reading this WebSocket")
        try:
            deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
            while not messages:
                if self._finished:
                    raise self._protocol.close_exc
                left = None if deadline is None else deadline - time.monotonic()
                if not self._readable(left):
                    raise TimeoutError("no WebSocket message in time")
                self._read_once()
            return messages.popleft()
        finally:
            self._reading.release()

    def _readable(self, timeout: float | None) -> bool:
        """Whether bytes wait on the socket (a TLS socket may hold decrypted bytes already)."""
        if self._tls and self._sock.pending():  # type: ignore[attr-defined]
            return True
        if self._poll is None:  # no poll(2) on this platform
            ready, _, _ = select.select([self._sock], [], [], None if timeout is None
                                        else max(0.0, timeout))
            return bool(ready)
        # poll(2) takes whole milliseconds: round up, so a short wait is not a busy loop.
        return bool(self._poll(-1 if timeout is None else
                               max(0, math.ceil(timeout * 1000))))

    def _read_once(self) -> None:
        """One socket read fed to the protocol; complete messages queued; the end noticed."""
        try:
            data = self._sock.recv(_CHUNK)
        except (ssl.SSLWantReadError, BlockingIOError):
            return
        except OSError:
            data = b""  # a reset: the same as an end without a closing handshake
        protocol = self._protocol
        with self._lock:
            if data:
                protocol.receive_data(data)
            else:
                protocol.receive_eof()
            events = protocol.events_received()
            try:
                self._flush()  # pongs, the answer to a close frame
                stuck = False
            except OSError:  # a peer that reads nothing (the write timed out) or a reset
                stuck = True
            ended = stuck or not data or protocol.close_rcvd is not None or \
                protocol.parser_exc is not None or protocol.state is State.CLOSED
            if ended and protocol.state is not State.CLOSED:
                # The server closed (or broke the protocol); its TCP close would follow, but
                # nothing more can come from it.
                protocol.receive_eof()
        for event in events:
            if event.__class__ is Frame:
                self._frame(event)
        if ended:
            self._end()

    def _frame(self, frame: Frame) -> None:
        """Reassemble data frames into messages (control frames are the protocol's)."""
        if frame.opcode not in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            return
        if frame.fin and not self._fragments:  # the common case: one whole frame, no copy
            self._messages.append(_text(frame.data) if frame.opcode is Opcode.TEXT
                                  else bytes(frame.data))
            return
        self._fragments.append(frame)
        if frame.fin:
            first, data = self._fragments[0], b"".join(f.data for f in self._fragments)
            self._fragments = []
            self._messages.append(_text(data) if first.opcode is Opcode.TEXT else data)

    # -- sending and closing -----------------------------------------------------------------
    def _flush(self) -> None:
        """Write what the protocol wants sent (caller holds the lock)."""
        out = self._protocol.data_to_send()
        if out:
            data = b"".join(out)
            if data:
                self._sock.sendall(data)

    def send(self, message: str) -> None:
        """Send one text message; ConnectionClosed when the connection is closing or closed."""
        with self._lock:
            if self._protocol.state is not State.OPEN:
                if self._protocol.state is State.CLOSED:
                    raise self._protocol.close_exc
                raise ConnectionError("the WebSocket is closing")
            self._protocol.send_text(message.encode())
            self._flush()

    def close(self) -> None:
        """Send a close frame, wait (close_timeout at most) for the server's, close the socket.
        While another thread is reading, that thread sees the end and closes the socket."""
        with self._lock:
            if self._protocol.state is State.OPEN:
                self._protocol.send_close()
                with contextlib.suppress(OSError):
                    self._flush()
        if not self._reading.acquire(blocking=False):
            return
        try:
            deadline = time.monotonic() + self._close_timeout
            while not self._finished and self._readable(deadline - time.monotonic()):
                self._read_once()
        except OSError:
            pass
        finally:
            self._reading.release()
            self._end()

    def _end(self) -> None:
        """The connection is over: the protocol closed, the socket released."""
        with self._lock:
            if self._protocol.state is not State.CLOSED:
                self._protocol.receive_eof()
            self._finished = True
            with contextlib.suppress(OSError):
                self._sock.close()


def _text(data: bytes | bytearray | memoryview) -> str:
    """A text message's bytes as str (any buffer, decoded without a copy); bytes that are not
    UTF-8 (a broken or hostile peer) become U+FFFD, so the stream reports the message as
    malformed instead of its reader dying."""
    return str(data, "utf-8", "replace")


def connect(url: str, *, open_timeout: float = 10.0, close_timeout: float = 2.0,
            additional_headers: dict[str, str] | None = None,
            user_agent_header: str | None = None, logger: logging.Logger | None = None,
            max_size: int | None = 2**20, ping_interval: float | None = None,
            resolver: Resolver = socket.getaddrinfo) -> Connection:
    """Open `url` (ws:// or wss://, verified TLS) and complete the opening handshake within
    `open_timeout` s, the host's name lookup (`resolver`, getaddrinfo's shape) included
    (afterwards the bound of one socket write or started read). Raises InvalidStatus when the
    server refuses it (e.g. HTTP 401), OSError or TimeoutError (naming the host, never the URL
    with its `oauth_token`) when it cannot be reached in time. `ping_interval` must be None:
    IBKR's stream is kept alive by `tic`, not by pings."""
    if ping_interval is not None:
        raise ValueError("this connection sends no pings of its own")
    uri = parse_uri(url)
    deadline = time.monotonic() + open_timeout
    sock = open_connection(uri.host, uri.port, open_timeout, resolver=resolver,
                           socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    try:
        if uri.secure:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=uri.host)
        protocol = ClientProtocol(uri, max_size=max_size, logger=logger)
        request = protocol.connect()
        for name, value in (additional_headers or {}).items():
            request.headers[name] = value
        if user_agent_header is not None:
            request.headers["User-Agent"] = user_agent_header
        protocol.send_request(request)
        sock.sendall(b"".join(protocol.data_to_send()))
        events: list[Any] = []
        while not any(isinstance(e, Response) for e in events):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the WebSocket handshake took too long")
            sock.settimeout(left)
            data = sock.recv(_CHUNK)
            if data:
                protocol.receive_data(data)
            else:
                protocol.receive_eof()
            events += protocol.events_received()
            if not data and not any(isinstance(e, Response) for e in events):
                raise ConnectionError("the server closed the connection during the handshake")
        if protocol.handshake_exc is not None:
            raise protocol.handshake_exc
        # Not None: after poll() a read or write that makes no progress for open_timeout s
        # (a TLS record dripped byte by byte, a peer that reads none of our pongs) raises
        # TimeoutError instead of holding the reader thread for ever.
        sock.settimeout(open_timeout)
        conn = Connection(sock, protocol, close_timeout=close_timeout)
        for event in events:  # frames that came in the same read as the handshake's answer
            if isinstance(event, Frame):
                conn._frame(event)
        return conn
    except BaseException:
        with contextlib.suppress(OSError):
            sock.close()
        raise
