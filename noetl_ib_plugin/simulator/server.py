"""HTTP/1.1 plumbing: threaded keep-alive server, single-flush responses, faults on the wire."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .common import Request, Response
from .engine import Engine
from .faults import (
    ACCESS_DENIED_HTML,
    BEFORE_KINDS,
    FORBIDDEN,
    MAINTENANCE,
    REPLY_500,
    garbage,
)
from .ws import WS_PATH, StreamSettings, is_upgrade, serve_websocket

__all__ = ["SimHTTPServer"]

log = logging.getLogger("noetl_ib_plugin.simulator")


class SimHTTPServer(ThreadingHTTPServer):
    """Threaded server that remembers open connections so stop() can close keep-alive sockets."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], engine: Engine,
                 stream: StreamSettings | None = None) -> None:
        self.engine = engine
        self.stream = stream or StreamSettings()
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Track the socket for the lifetime of its thread."""
        with self.conn_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget the socket once its thread is done with it."""
        with self.conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_all(self) -> None:
        """Close idle keep-alive connections so their threads exit promptly."""
        with self.conn_lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log handler crashes quietly instead of printing tracebacks to stderr."""
        log.debug("connection error from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    """One connection; every response is written into a buffer and flushed once."""

    protocol_version = "HTTP/1.1"
    server_version = "ibsim/1.0"
    sys_version = ""
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    timeout = 300
    server: SimHTTPServer
    _headers_buffer: list[bytes]  # BaseHTTPRequestHandler's private buffer (not in typeshed)
    raw_requestline: bytes  # set by handle_one_request (not in typeshed)

    def log_message(self, format: str, *args: Any) -> None:
        """Protocol errors go to the debug logger, never straight to stderr."""
        log.debug("%s " + format, self.address_string(), *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """One INFO line per request: method, path without its query, status. Never a header (no
        Authorization, cookie or token), never a query string or a body."""
        status = getattr(code, "value", code)
        log.info("%s %s -> %s", self.command, self.path.partition("?")[0], status)

    def do_GET(self) -> None:
        """Dispatch GET; an Upgrade to `/v1/api/ws` becomes a WebSocket on this connection."""
        if self.path.partition("?")[0] == WS_PATH and is_upgrade(
                {k.lower(): v for k, v in self.headers.items()}):
            self.close_connection = True
            self.wfile.flush()
            serve_websocket(self.connection, self.raw_requestline, list(self.headers.items()),
                            self.server.engine, self.server.stream)
            return
        self._dispatch()

    def do_POST(self) -> None:
        """Dispatch POST."""
        self._dispatch()

    def do_DELETE(self) -> None:
        """Dispatch DELETE."""
        self._dispatch()

    def do_PUT(self) -> None:
        """Dispatch PUT."""
        self._dispatch()

    def _read_request(self) -> Request:
        """Read the body (Content-Length only) and split path and query."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        return Request(self.command, path, query, headers, body, str(self.client_address[0]))

    def _dispatch(self) -> None:
        """Admin calls bypass faults; trading calls get latency, resets and canned errors first."""
        engine = self.server.engine
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._send(Response(411, {"error": "Length Required"},
                                headers={"Connection": "close"}))
            self.close_connection = True
            return
        try:
            req = self._read_request()
            if req.path.startswith("/__sim/"):
                self._send(engine.handle_admin(req))
                return
            decision = engine.faults.decide(req.method, req.path)
            if decision.latency:
                engine.stats.fault("latency")
                time.sleep(decision.latency)
            if decision.kinds & BEFORE_KINDS:
                engine.count(req)
            if "reset_before" in decision:
                engine.stats.fault("reset_before")
                self._abort()
                return
            if "http_429" in decision:
                engine.stats.fault("http_429")
                self._send(Response(429, {"error": "Too many requests (simulated)",
                                          "statusCode": 429}, headers={"Retry-After": "1"}))
                return
            if "http_500" in decision:
                engine.stats.fault("http_500")
                self._send(Response(500, {"error": "Internal Server Error (simulated)",
                                          "statusCode": 500}))
                return
            if "http_403" in decision or "http_403_html" in decision:
                html = "http_403" not in decision
                engine.stats.fault("http_403_html" if html else "http_403")
                self._send(Response(403, ACCESS_DENIED_HTML, "text/html") if html
                           else Response(403, dict(FORBIDDEN)))
                return
            if "http_503_maintenance" in decision:
                engine.stats.fault("http_503_maintenance")
                self._send(Response(503, dict(MAINTENANCE), headers={"Retry-After": "60"}))
                return
            response = engine.handle(req, decision)
            if "reply_500" in decision:
                engine.stats.fault("reply_500")
                response = Response(500, dict(REPLY_500))
            replaced = garbage(decision)
            if replaced is not None:
                engine.stats.fault(str(decision.garbage))
                response = replaced
            lost = next((k for k in ("reset_after", "modify_lost") if k in decision), None)
            if lost is not None:
                engine.stats.fault(lost)
                self._abort()
                return
        except Exception:
            log.exception("simulator request failed")
            response = Response(500, {"error": "internal simulator error", "statusCode": 500})
        self._send(response)

    def _send(self, response: Response) -> None:
        """Serialise and buffer status line, headers and body; handle_one_request flushes once."""
        body = response.body
        if isinstance(body, bytes):
            payload = body
        elif isinstance(body, str):
            payload = body.encode()
        else:
            payload = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        # Instead of end_headers() + write(body): one write of status, headers and body.
        self._headers_buffer.append(b"\r\n" + payload)
        self.flush_headers()

    def _abort(self) -> None:
        """Drop the connection with an RST (SO_LINGER 0) and without a single response byte."""
        self.close_connection = True
        for stream in (self.wfile, self.rfile):
            with contextlib.suppress(OSError):
                stream.close()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.wfile = io.BytesIO()
        self.rfile = io.BytesIO()
