"""IBKR and its gateways answer with HTML pages (403 "Access Denied", 502/524 proxy pages):
no error the package raises ever carries the page (issue 23 input 8 and its kind)."""

from __future__ import annotations

import pytest
import requests

from noetl_ib_plugin.auth.http import problem_detail
from noetl_ib_plugin.client.trading_transport import decode_answer
from noetl_ib_plugin.errors import AuthError, BrokerError

PAGE = (b"<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY>You don't have permission to "
        b"access this resource.<P>Reference #18.4f2f1002</BODY></HTML>")


def _response(status: int, body: bytes, content_type: str) -> requests.Response:
    """A finished response with its body read."""
    resp = requests.Response()
    resp.status_code = status
    resp._content = body
    resp.headers["Content-Type"] = content_type
    return resp


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "text/plain", ""])
def test_problem_detail_never_quotes_an_html_page(content_type: str) -> None:
    """An HTML body (by content type or by its first character) is summarised, never quoted."""
    detail = problem_detail(_response(502, PAGE, content_type))
    assert detail == "HTTP 502 with an HTML page (not shown)"


def test_problem_detail_still_quotes_plain_text_and_json() -> None:
    """IBKR's own words in plain text or JSON `error` are still shown."""
    assert problem_detail(_response(500, b"gone fishing", "text/plain")) == "gone fishing"
    body = b'{"error": "Invalid account: X"}'
    assert problem_detail(_response(500, body, "application/json")) == "Invalid account: X"


@pytest.mark.parametrize("body", [PAGE, b'{"error": "Forbidden", "statusCode": 403}'])
def test_403_is_an_auth_error_with_a_fix_and_no_page(body: bytes) -> None:
    """403 (HTML or JSON) is AuthError (exit 3) whose fix names /iserver/auth/status."""
    with pytest.raises(AuthError) as info:
        decode_answer("GET", "/portfolio/accounts", _response(403, body, "text/html"))
    text = str(info.value)
    assert info.value.category == "auth" and info.value.status == 403
    assert "/iserver/auth/status" in (info.value.fix or "") and "permissions" in text
    assert "<" not in text and "Reference #" not in text


def test_other_html_errors_are_broker_errors_without_the_page() -> None:
    """A 502 proxy page stays a BrokerError for its status, without the markup."""
    with pytest.raises(BrokerError) as info:
        decode_answer("GET", "/iserver/accounts", _response(502, PAGE, "text/html"))
    assert info.value.status == 502 and "<" not in str(info.value)
