"""Numbers from servers are finite and bounded, or the answer is refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from noetl_ib_plugin.auth.cache import MemoryTokenCache
from noetl_ib_plugin.auth.oauth1a import LiveSessionTokenProvider
from noetl_ib_plugin.auth.oauth2 import IBTokenProvider
from noetl_ib_plugin.common.quote_fields import as_float, as_int, parse_number
from noetl_ib_plugin.errors import AuthError
from noetl_ib_plugin.simulator import Simulator
from tests.fixtures.simulators import provider_for


class _TokenEndpoint(BaseHTTPRequestHandler):
    """Answers every POST with the body the test set (raw text, so NaN literals are possible)."""

    body = b"{}"

    def do_POST(self) -> None:
        """Drain the request and answer 200 with the configured body."""
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def endpoint() -> Iterator[tuple[str, type[_TokenEndpoint]]]:
    """A loopback token endpoint whose answer each test sets."""
    handler = type("Handler", (_TokenEndpoint,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("expires_in", ['"NaN"', "NaN", '"Infinity"', "Infinity", "-Infinity",
                                        "-5", "0", "1e12", '"1e308"', "true", "null", '"soon"',
                                        "[3600]"])
def test_token_expires_in_out_of_range_is_refused(endpoint: tuple[str, type[_TokenEndpoint]],
                                                  rsa_pem: str, expires_in: str) -> None:
    """An access token whose expires_in is not a finite 0 < s <= 31 days is an AuthError naming it."""
    url, handler = endpoint
    handler.body = f'{{"access_token":"at-0123456789","expires_in":{expires_in}}}'.encode()
    provider = IBTokenProvider(
        {"client_id": "c", "key_id": "k", "private_key": rsa_pem, "credential": "u",
         "api_base_url": url},
        cache=MemoryTokenCache(),
    )
    with pytest.raises(AuthError) as info:
        provider.current_token()
    assert info.value.field == "expires_in"
    assert "at-0123456789" not in str(info.value)


def test_token_expires_in_in_range_is_accepted(endpoint: tuple[str, type[_TokenEndpoint]],
                                               rsa_pem: str) -> None:
    """A normal expires_in (as text, as IBKR may send it) passes and sets the token lifetime."""
    url, handler = endpoint
    handler.body = b'{"access_token":"at-0123456789","expires_in":"3600"}'
    provider = IBTokenProvider(
        {"client_id": "c", "key_id": "k", "private_key": rsa_pem, "credential": "u",
         "api_base_url": url},
        cache=MemoryTokenCache(),
    )
    token = provider.current_token()  # the same body answers the SSO call: its token is the bearer
    assert token.value == "at-0123456789"
    assert token.expires_at - token.obtained_at == pytest.approx(3600, abs=5)


@pytest.mark.parametrize("ttl", [1e9, 40 * 86400.0])
def test_live_session_token_expiration_out_of_range_is_refused(sim_reset: Simulator, ttl: float) -> None:
    """An LST expiration that is infinite or months away is refused, not trusted for that long."""
    saved = sim_reset.lst_ttl
    sim_reset.lst_ttl = ttl
    try:
        with pytest.raises(AuthError):
            provider_for(sim_reset, "sim_oauth1a").current_token()
    finally:
        sim_reset.lst_ttl = saved
    assert provider_for(sim_reset, "sim_oauth1a").current_token().expires_at > 0


@pytest.mark.parametrize("expiration", ["NaN", "Infinity", "-Infinity", '"NaN"', "true", "null"])
def test_live_session_token_expiration_not_finite_is_refused(expiration: str) -> None:
    """A non-finite or non-numeric live_session_token_expiration is an AuthError, never a float."""
    resp = requests.Response()
    resp.status_code = 200
    resp._content = (
        '{"diffie_hellman_response":"abcd","live_session_token_signature":"00",'
        f'"live_session_token_expiration":{expiration}}}'
    ).encode()
    with pytest.raises(AuthError) as info:
        LiveSessionTokenProvider._parse(resp)
    assert "live_session_token_expiration" in str(info.value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), "1e999999",
                                   "-1e999999", "NaN", "Infinity", "9" * 400 + "K"])
def test_market_numbers_that_are_not_finite_are_not_numbers(value: object) -> None:
    """Snapshot/portfolio numbers that are NaN or overflow to infinity parse as missing (None)."""
    assert parse_number(value) is None and as_float(value) is None


@pytest.mark.parametrize("value", ["\u00b2", "\u0661\u0662", "\uff11"])
def test_ids_with_unicode_digits_are_not_ids(value: str) -> None:
    """An id made of non-ASCII digits from the broker is not an id (and never a crash)."""
    assert as_int(value) is None
