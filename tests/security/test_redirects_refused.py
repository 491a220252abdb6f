"""No redirect is followed on any auth or authenticated request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from noetl_ib_plugin import IBTokenProvider
from noetl_ib_plugin.auth import MemoryTokenCache
from noetl_ib_plugin.auth.oauth1a import LiveSessionTokenProvider
from noetl_ib_plugin.cli import main as cli_main
from noetl_ib_plugin.client import IBClient, Pacer
from noetl_ib_plugin.common.backoff import RetryPolicy
from noetl_ib_plugin.credentials.stores import ServerStore
from noetl_ib_plugin.errors import ConfigurationError, RedirectRefused
from noetl_ib_plugin.simulator import Simulator
from tests.client.fakes import FakeProvider
from tests.security.hostile_server import Hostile, hostile_server, json_ok, redirect_to


def _quiet() -> RetryPolicy:
    return RetryPolicy(max_attempts=3, base_delay=0.0, sleep=lambda _s: None)


@pytest.fixture
def elsewhere() -> Iterator[Hostile]:
    """The origin a redirect points at: it must never see a request."""
    with hostile_server(lambda _stop: json_ok()) as server:
        yield server


@pytest.fixture
def redirector(elsewhere: Hostile) -> Iterator[Hostile]:
    """Answers every request with 307 to `elsewhere`."""
    with hostile_server(lambda _stop: redirect_to(elsewhere.url + "/steal")) as server:
        yield server


def _oauth2(pem: str, **urls: str) -> dict[str, Any]:
    return {"client_id": "c", "key_id": "k", "private_key": pem, "credential": "u", **urls}


def test_token_endpoint_redirect_is_an_error(
    rsa_pem: str, redirector: Hostile, elsewhere: Hostile
) -> None:
    """A 307 from the token endpoint raises RedirectRefused; the assertion goes nowhere else."""
    provider = IBTokenProvider(_oauth2(rsa_pem, api_base_url=redirector.url),
                               cache=MemoryTokenCache(), retry_policy=_quiet())
    with pytest.raises(RedirectRefused) as info:
        provider.fetch_token()
    assert info.value.status == 307 and "not followed" in str(info.value)
    assert len(redirector.hits) == 1 and elsewhere.hits == []


def test_sso_endpoint_redirect_is_an_error(
    rsa_pem: str, redirector: Hostile, elsewhere: Hostile
) -> None:
    """A 307 from the SSO endpoint is refused; the access token is not re-sent elsewhere."""
    token = b'{"access_token": "acc", "token_type": "Bearer", "expires_in": 3600}'
    with hostile_server(lambda _stop: json_ok(token)) as token_server:
        provider = IBTokenProvider(
            _oauth2(rsa_pem, api_base_url=redirector.url,
                    token_url=token_server.url + "/oauth2/api/v1/token"),
            cache=MemoryTokenCache(), retry_policy=_quiet())
        with pytest.raises(RedirectRefused):
            provider.fetch_token()
        assert len(token_server.hits) == 1
    assert elsewhere.hits == []


def test_live_session_token_redirect_is_an_error(
    sim_reset: Simulator, redirector: Hostile, elsewhere: Hostile
) -> None:
    """OAuth 1.0a: a 307 from /oauth/live_session_token is refused, never followed."""
    records = json.loads(sim_reset.credentials_file.read_text())
    records = records.get("credentials", records) if isinstance(records, dict) else records
    record = next(r for r in records if r["name"] == "sim_oauth1a")
    record["data"]["api_base_url"] = redirector.url
    provider = LiveSessionTokenProvider(record, cache=MemoryTokenCache(), retry_policy=_quiet())
    with pytest.raises(RedirectRefused):
        provider.fetch_token()
    assert elsewhere.hits == []


def test_trading_request_redirect_is_an_error(redirector: Hostile, elsewhere: Hostile) -> None:
    """An authenticated trading call answered 307 raises; the bearer stays at its origin."""
    client = IBClient(FakeProvider(redirector.url + "/v1/api"), pacer=Pacer.disabled(),
                      retry_policy=_quiet())
    with pytest.raises(RedirectRefused):
        client.request("POST", "/tickle")
    assert elsewhere.hits == []


def test_noetl_server_store_redirect_is_refused(redirector: Hostile, elsewhere: Hostile) -> None:
    """The NoETL server store does not follow a redirect with include_data=true."""
    with pytest.raises(ConfigurationError) as info:
        ServerStore(redirector.url).find("ib_paper")
    assert info.value.field == "NOETL_SERVER_URL" and "RedirectRefused" in str(info.value)
    assert elsewhere.hits == []


def test_credentials_register_redirect_is_refused(
    sim_reset: Simulator, redirector: Hostile, elsewhere: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    """`credentials register` does not re-POST private keys to a redirect's target (exit 2)."""
    code = cli_main(["credentials", "register", str(sim_reset.credentials_file), "--server",
                     redirector.url])
    assert code == 2
    assert json.loads(capsys.readouterr().err.strip().splitlines()[-1])["error"]["field"] == "server"
    assert len(redirector.hits) == 1 and elsewhere.hits == []
