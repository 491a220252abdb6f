"""A loopback HTTP server that misbehaves on purpose: redirects, drips bytes, answers too much."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Behaviour = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Hostile:
    """A running server: `url`, the requests it saw (`hits`), and `stop` to end any drip early."""

    url: str
    hits: list[tuple[str, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


def redirect_to(location: str, status: int = 307) -> Behaviour:
    """Answer every request with a redirect to `location`."""

    def run(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Location", location)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return run


def json_ok(body: bytes = b'{"ok": true}') -> Behaviour:
    """A plain 200 JSON answer."""

    def run(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return run


def drip_body(stop: threading.Event, every: float = 3.0, total_bytes: int = 100) -> Behaviour:
    """Headers at once, then one body byte every `every` seconds (the issue's slow loris)."""

    def run(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(total_bytes))
        h.end_headers()
        h.wfile.flush()
        for _ in range(total_bytes):
            h.wfile.write(b" ")
            h.wfile.flush()
            if stop.wait(every):
                return

    return run


def drip_headers(stop: threading.Event, every: float = 3.0, count: int = 100) -> Behaviour:
    """The status line at once, then one header line every `every` seconds, never finishing."""

    def run(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\n")
        h.wfile.flush()
        for i in range(count):
            h.wfile.write(f"X-Drip-{i}: 1\r\n".encode())
            h.wfile.flush()
            if stop.wait(every):
                return

    return run


def endless_body(stop: threading.Event, chunk: int = 64 * 1024) -> Behaviour:
    """A 200 with no length that streams JSON-looking bytes until the client hangs up."""

    def run(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Connection", "close")
        h.end_headers()
        data = b"[" + b"1," * (chunk // 2)
        try:
            while not stop.is_set():
                h.wfile.write(data)
        except OSError:
            return

    return run


@contextmanager
def hostile_server(make: Callable[[threading.Event], Behaviour], *,
                   announce_close: bool = True) -> Iterator[Hostile]:
    """Serve `make(stop)` for every GET/POST/DELETE on 127.0.0.1; record (method, path) hits.

    Each connection serves one request; `announce_close=False` leaves out `Connection: close`
    (the client then holds the socket as a keep-alive connection, a different code path).
    """
    state = Hostile(url="")
    chosen = make(state.stop)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            state.hits.append((self.command, self.path))
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            with suppress(OSError):
                chosen(self)
            self.close_connection = True

        do_GET = do_POST = do_DELETE = _any  # noqa: N815 - http.server's naming

        def end_headers(self) -> None:
            # Every answer ends the connection, so say so (RFC 9112 9.6): without the header a
            # client may reuse the pooled connection while the close is in flight and see a
            # reset that the behaviour under test never asked for.
            if announce_close:
                self.send_header("Connection", "close")
            super().end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stop.set()
        server.shutdown()
        server.server_close()
