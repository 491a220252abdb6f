"""One URL rule for every endpoint that receives credentials."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from urllib3.util import parse_url

from noetl_ib_plugin import run_action
from noetl_ib_plugin.credentials import parse_record
from noetl_ib_plugin.credentials.urls import UnsafeURL, check_url
from noetl_ib_plugin.errors import CredentialError
from tests.security.hostile_server import Hostile, hostile_server, json_ok

#: Hand-written oracle (independent of the parser under test): URL -> accepted?
ACCEPTED = [
    "https://api.ibkr.com",
    "https://api.ibkr.com/v1/api",
    "https://API.IBKR.com:443/oauth2/api/v1/token",
    "http://127.0.0.1:5000",
    "http://localhost:8082",
    "http://[::1]:5000/v1/api",
    "http://127.8.9.10:1234",
]
REFUSED = [
    "http://evil.example:8080\\@127.0.0.1",  # the input: libraries disagree on the host
    "http://evil.example:8080\\@127.0.0.1/oauth2/api/v1/token",
    "https://http://@",  # hypothesis found it: an empty userinfo after a path, host "http"
    "https://user:pw@api.ibkr.com",
    "http://user@127.0.0.1:5000",
    "http://evil.example@127.0.0.1",
    "http://api.ibkr.com",  # plain http off loopback
    "http://10.0.0.1:5000",
    "http://127.0.0.1.evil.example",
    "http://127.0.0.1\t.evil.example",
    "https://api.ibkr.com\n.evil",
    "https://api.ibkr.com/ x",
    "https://api.ibkr.com/?next=x",
    "https://api.ibkr.com/#frag",
    "https://api.ibkr\u3002com",
    "https://api%2eibkr.com",
    "ftp://api.ibkr.com",
    "file:///etc/passwd",
    "//api.ibkr.com",
    "https://",
    "http://127.0.0.1:99999",
    "",
    "https://" + "a" * 3000 + ".com",
]


@pytest.mark.parametrize("url", ACCEPTED)
def test_well_formed_urls_are_accepted(url: str) -> None:
    """https hosts and loopback simulators pass, with host and port read as written."""
    checked = check_url(url)
    assert checked.scheme in ("http", "https") and checked.host


@pytest.mark.parametrize("url", REFUSED)
def test_ambiguous_or_unsafe_urls_are_refused(url: str) -> None:
    """Userinfo, backslashes, control characters, non-https remote hosts: refused, not echoed."""
    with pytest.raises(UnsafeURL) as info:
        check_url(url)
    assert "pw" not in str(info.value) and "evil" not in str(info.value)


def test_check_url_reads_host_and_port_like_the_http_client() -> None:
    """The checked host and port are the ones requests connects to."""
    checked = check_url("http://[::1]:5000/v1/api")
    assert (checked.host, checked.port, checked.path) == ("::1", 5000, "/v1/api")
    assert checked.origin == "http://[::1]:5000"


@pytest.fixture
def evil_server() -> Iterator[Hostile]:
    """A loopback server standing in for the attacker's host; records any request."""
    with hostile_server(lambda _stop: json_ok()) as server:
        yield server


@pytest.mark.parametrize("field", ["api_base_url", "token_url", "sso_session_url"])
def test_backslash_userinfo_bypass_is_refused_for_every_endpoint_field(
    field: str, rsa_pem: str, evil_server: Hostile
) -> None:
    """The issue's `http://evil:PORT\\@127.0.0.1` is refused for each field; nothing is sent."""
    port = evil_server.url.rsplit(":", 1)[1]
    data = {"client_id": "c", "key_id": "k", "private_key": rsa_pem, "credential": "u",
            "api_base_url": "https://api.ibkr.com",
            field: f"http://localhost:{port}\\@127.0.0.1/oauth2/api/v1/token"}
    record = {"name": "bypass", "type": "interactive_brokers_oauth", "data": data}
    with pytest.raises(CredentialError) as info:
        parse_record(record)
    assert info.value.field == f"data.{field}"
    assert "backslash" in str(info.value)
    with pytest.raises(CredentialError):
        run_action("account_summary", record)
    assert evil_server.hits == []


@pytest.mark.parametrize("field", ["api_base_url", "token_url", "sso_session_url"])
def test_plain_http_to_a_remote_host_is_refused(field: str, rsa_pem: str) -> None:
    """Plain http is only for loopback simulators; the error says why."""
    data = {"client_id": "c", "key_id": "k", "private_key": rsa_pem, "credential": "u",
            field: "http://api.ibkr.com/x"}
    with pytest.raises(CredentialError) as info:
        parse_record({"name": "h", "type": "interactive_brokers_oauth", "data": data})
    assert info.value.field == f"data.{field}" and "https" in str(info.value)


_PIECES = st.sampled_from([
    "http://", "https://", "HTTPS://", "api.ibkr.com", "127.0.0.1", "localhost", "[::1]",
    "evil.example", "@", ":", "\\", "/", "//", "%40", "%2F", "user", ":443", ":5000", "?", "#",
    ".", "\t", " ", "\u3002", "v1", "api",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, min_size=1, max_size=8).map("".join) | st.text(max_size=40))
def test_accepted_urls_mean_the_same_host_to_the_http_client(url: str) -> None:
    """Whatever is accepted: the client's parser sees the same host, no userinfo, https or loopback."""
    try:
        checked = check_url(url)
    except UnsafeURL:
        return
    theirs = parse_url(url.strip())
    assert (theirs.host or "").strip("[]").lower() == checked.host
    assert theirs.auth is None and "@" not in url
    assert theirs.port == checked.port
    if checked.scheme != "https":
        host = checked.host
        assert host == "localhost" or ipaddress.ip_address(host).is_loopback
