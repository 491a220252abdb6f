"""streaming/connection.py against the websockets library's own server on loopback."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, InvalidStatus
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection, serve

from noetl_ib_plugin.streaming.connection import connect


@contextmanager
def _server(handler: Callable[[ServerConnection], None],
            process_request: Any = None) -> Iterator[str]:
    """A websockets server on a free loopback port running `handler` per connection."""
    with serve(handler, "127.0.0.1", 0, process_request=process_request) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}/v1/api/ws"
        finally:
            server.shutdown()
            thread.join(5)


def test_refused_handshake_raises_invalid_status() -> None:
    """A 401 answer to the upgrade is InvalidStatus carrying the status, as the library raises."""
    def refuse(conn: ServerConnection, request: Request) -> Response:
        return conn.respond(401, "not authenticated\n")

    with _server(lambda ws: None, refuse) as url, pytest.raises(InvalidStatus) as info:
        connect(url, open_timeout=5)
    assert info.value.response.status_code == 401


def test_messages_fragments_headers_and_the_server_close() -> None:
    """Text, fragmented, binary messages in order, headers sent; the server's close is OK."""
    seen: dict[str, str] = {}

    def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        seen.update(cookie=ws.request.headers.get("Cookie", ""),
                    agent=ws.request.headers.get("User-Agent", ""))
        ws.send('{"topic":"system"}')
        ws.send(["frag", "mented"])
        ws.send(b"\x00\x01")
        ws.recv(timeout=5)  # the client's "bye"
        ws.close()

    with _server(handler) as url:
        ws = connect(url, open_timeout=5, additional_headers={"Cookie": "api=s1"},
                     user_agent_header="ClientPortalGW/1")
        assert ws.recv(timeout=5) == '{"topic":"system"}'
        assert ws.recv(timeout=5) == "fragmented"
        assert ws.recv(timeout=5) == b"\x00\x01"
        ws.send("bye")
        with pytest.raises(ConnectionClosedOK):
            ws.recv(timeout=5)
        with pytest.raises(ConnectionClosed):
            ws.send("after")
    assert seen == {"cookie": "api=s1", "agent": "ClientPortalGW/1"}


def test_pings_are_answered_and_recv_times_out_on_time() -> None:
    """A server ping gets its pong while the client reads; an empty recv times out on time."""
    ponged = threading.Event()

    def handler(ws: ServerConnection) -> None:
        if ws.ping().wait(5):
            ponged.set()
        ws.recv(timeout=10)

    with _server(handler) as url:
        ws = connect(url, open_timeout=5)
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)
        assert 0.4 <= time.monotonic() - start < 2.0
        assert ponged.wait(5)
        ws.close()


def test_close_from_another_thread_ends_a_blocked_reader() -> None:
    """close() while another thread waits in recv: that reader gets ConnectionClosed promptly."""
    def handler(ws: ServerConnection) -> None:
        ws.recv(timeout=10)

    with _server(handler) as url:
        ws = connect(url, open_timeout=5, close_timeout=2)
        outcome: list[BaseException] = []

        def read() -> None:
            try:
                while True:
                    ws.recv(timeout=0.25)
            except TimeoutError:
                pass
            except ConnectionClosed as exc:
                outcome.append(exc)

        def reader_loop() -> None:
            while not outcome:
                read()

        reader = threading.Thread(target=reader_loop, daemon=True)
        reader.start()
        time.sleep(0.2)
        start = time.monotonic()
        ws.close()
        reader.join(5)
        assert outcome and not reader.is_alive()
        assert time.monotonic() - start < 3.0


def test_a_dropped_connection_is_connection_closed_error() -> None:
    """The server's socket vanishing without a close frame ends recv with ConnectionClosedError."""
    def handler(ws: ServerConnection) -> None:
        ws.send("one")
        ws.socket.close()

    with _server(handler) as url:
        ws = connect(url, open_timeout=5)
        assert ws.recv(timeout=5) == "one"
        with pytest.raises(ConnectionClosedError):
            ws.recv(timeout=5)


def _raw_server(after_handshake: Callable[[socket.socket], None]) -> tuple[str, threading.Event]:
    """A hostile server on loopback: a real 101 answer, then `after_handshake(socket)`."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # its window fills soon
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def run() -> None:
        conn, _ = listener.accept()
        listener.close()
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(4096)
        key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key:"))
        accept = base64.b64encode(hashlib.sha1(
            key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        try:
            after_handshake(conn)
            stop.wait(30)
        finally:
            conn.close()

    threading.Thread(target=run, daemon=True).start()
    return f"ws://127.0.0.1:{listener.getsockname()[1]}/v1/api/ws", stop


def test_a_server_that_pings_and_never_reads_ends_the_connection_in_time() -> None:
    """Pings flooded by a server that reads nothing: the pongs' write times out, recv ends."""
    def flood(conn: socket.socket) -> None:
        conn.settimeout(0.5)
        ping = b"\x89\x7d" + b"p" * 125
        with contextlib.suppress(OSError):
            while True:
                conn.sendall(ping * 64)

    url, stop = _raw_server(flood)
    ws = connect(url, open_timeout=2, close_timeout=1)
    outcome: list[BaseException] = []

    def read() -> None:
        while True:
            try:
                ws.recv(timeout=0.25)
            except TimeoutError:
                continue
            except BaseException as exc:  # the test records how recv ended
                outcome.append(exc)
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(15)
    stop.set()
    assert not reader.is_alive(), "recv hung writing pongs to a server that never reads"
    assert isinstance(outcome[0], ConnectionClosedError)


def test_a_text_frame_that_is_not_utf8_is_read_not_raised() -> None:
    """A hostile text frame of invalid UTF-8 (whole or fragmented), then a valid one: all read."""
    def send(conn: socket.socket) -> None:
        conn.sendall(b"\x81\x03\xff\xfe{"  # one whole text frame
                     b"\x01\x01\xc3" b"\x80\x01\x28"  # fragments: an invalid 2-byte sequence
                     b"\x81\x02{}")

    url, stop = _raw_server(send)
    ws = connect(url, open_timeout=2, close_timeout=1)
    try:
        got = [ws.recv(timeout=5) for _ in range(3)]
    finally:
        stop.set()
        ws.close()
    assert got[0] == "\ufffd\ufffd{" and got[1] == "\ufffd(" and got[2] == "{}"
