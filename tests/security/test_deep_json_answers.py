"""An answer nested deeper than Python's recursion limit is a typed error, not a crash."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from noetl_ib_plugin.auth.cache import MemoryTokenCache
from noetl_ib_plugin.auth.http import problem_detail
from noetl_ib_plugin.auth.oauth2 import IBTokenProvider
from noetl_ib_plugin.client.trading_transport import decode_answer
from noetl_ib_plugin.errors import AuthError, BrokerError

#: 200 KB of brackets: far under every size cap, far over the recursion limit.
DEEP = b"[" * 100_000 + b"]" * 100_000


class _Deep(BaseHTTPRequestHandler):
    """Answers every POST with `status` and the deeply nested body."""

    status = 200

    def do_POST(self) -> None:
        """Drain the request and answer with DEEP."""
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(DEEP)))
        self.end_headers()
        self.wfile.write(DEEP)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def deep_endpoint() -> Iterator[tuple[str, type[_Deep]]]:
    """A loopback token endpoint answering DEEP with the status a test sets."""
    handler = type("Handler", (_Deep,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("status", [200, 400])
def test_deep_token_answer_is_an_auth_error(
    deep_endpoint: tuple[str, type[_Deep]], rsa_pem: str, status: int
) -> None:
    """A token endpoint answering 100k nested arrays (as success or refusal) gives an AuthError."""
    url, handler = deep_endpoint
    handler.status = status
    provider = IBTokenProvider(
        {"client_id": "c", "key_id": "k", "private_key": rsa_pem, "credential": "u",
         "api_base_url": url},
        cache=MemoryTokenCache(),
    )
    with pytest.raises(AuthError) as info:
        provider.current_token()
    assert info.value.status == status


def _response(status: int, body: bytes) -> requests.Response:
    """A finished response as the DeadlineAdapter hands it over (body already read)."""
    resp = requests.Response()
    resp.status_code = status
    resp._content = body
    resp.headers["Content-Type"] = "application/json"
    return resp


@pytest.mark.parametrize("status", [200, 500])
def test_deep_trading_answer_is_a_broker_error(status: int) -> None:
    """A trading answer nested 100k deep is a BrokerError carrying the status."""
    with pytest.raises(BrokerError) as info:
        decode_answer("GET", "/iserver/accounts", _response(status, DEEP))
    assert info.value.status == status


def test_deep_error_detail_is_summarised() -> None:
    """problem_detail of a deep body falls back to the status line instead of crashing."""
    assert problem_detail(_response(502, DEEP)).startswith(("HTTP 502", "[[["))
