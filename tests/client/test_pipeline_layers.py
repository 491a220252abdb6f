"""The request pipeline's layers one at a time: auth refresh, brokerage bootstrap, trading guard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
import responses

from noetl_ib_plugin.client.authorized import AuthorizedSender
from noetl_ib_plugin.client.brokerage_session import BrokerageSessionManager
from noetl_ib_plugin.errors import AuthError, BrokerError, LiveTradingRefused

from .fakes import FakeClock, FakeProvider, add_bootstrap, make_client


def _answer(status: int, body: bytes = b"{}") -> requests.Response:
    """A finished answer with `status` and `body`."""
    resp = requests.Response()
    resp.status_code = status
    resp._content = body
    return resp


class ScriptedTransport:
    """Answers with the scripted statuses in turn; records the token each send used."""

    def __init__(self, provider: FakeProvider, statuses: list[int]) -> None:
        self.provider = provider
        self.statuses = statuses
        self.tokens: list[str] = []

    def send(self, method: str, path: str, params: Any, json: Any,
             idempotent: bool) -> tuple[requests.Response, str]:
        """The next scripted answer, authorised by the provider's current token."""
        token = self.provider.current_token().value
        self.tokens.append(token)
        return _answer(self.statuses.pop(0)), token


def test_auth_layer_refreshes_once_then_resends_with_the_new_token() -> None:
    """A 401 invalidates the refused token and the call goes once more, with a fresh token."""
    provider = FakeProvider()
    transport = ScriptedTransport(provider, [401, 200])
    ran: list[int] = []
    resp, token = AuthorizedSender(transport, provider).send(  # type: ignore[arg-type]
        "GET", "/iserver/accounts", None, None, True, before=lambda: ran.append(1))
    assert resp.status_code == 200 and transport.tokens == ["tok1", "tok2"] and token == "tok2"
    assert provider.fetches == 2 and ran == [1, 1]


def test_auth_layer_raises_when_the_refreshed_token_is_refused_too() -> None:
    """A second 401/410 is an AuthError with the status and a fix; no third send."""
    provider = FakeProvider()
    transport = ScriptedTransport(provider, [401, 410, 200])
    with pytest.raises(AuthError) as info:
        AuthorizedSender(transport, provider).send(  # type: ignore[arg-type]
            "GET", "/iserver/accounts", None, None, True)
    assert info.value.status == 410 and len(transport.tokens) == 2 and info.value.fix


def _no_bridge_sender(count: list[int]) -> Callable[[Callable[[], None]], tuple[requests.Response, str]]:
    """Always answers IBKR's 400 "no bridge" and counts the sends."""

    def send(before: Callable[[], None]) -> tuple[requests.Response, str]:
        before()
        count.append(1)
        return _answer(400, b'{"error": "Bad Request: no bridge"}'), "tok1"

    return send


def _sessions(provider: FakeProvider) -> BrokerageSessionManager:
    """A manager whose own calls must not happen in these tests."""

    def call(method: str, path: str, json: Any) -> Any:
        raise AssertionError(f"unexpected bootstrap call {method} {path}")

    clock = FakeClock()
    return BrokerageSessionManager(provider, call, explicit_account_id=None, compete=True,
                             clock=clock, sleep=clock.sleep)


def test_bootstrap_layer_without_reopen_sends_once() -> None:
    """The bootstrap's own calls (reopen=False) turn "no bridge" into a BrokerError at once."""
    count: list[int] = []
    with pytest.raises(BrokerError) as info:
        _sessions(FakeProvider()).send("GET", "/iserver/accounts", None,
                                       _no_bridge_sender(count), reopen=False)
    assert count == [1] and info.value.status == 400 and "no bridge" in str(info.value)


@responses.activate
def test_truthy_allow_live_is_not_an_opt_in() -> None:
    """Only allow_live=True opens a live account: a truthy string (a bot's env var) does not."""
    add_bootstrap(responses, account="U7654321", is_paper=False)
    client = make_client(environment="live", allow_live="yes")
    with pytest.raises(LiveTradingRefused) as info:
        client.ensure_trading_allowed()
    assert info.value.field == "account_id" and "allow_live=True" in (info.value.fix or "")


def test_trading_base_url_is_the_one_name_of_the_trading_root() -> None:
    """Provider and client agree on the trading root; the older `api_base_url` attribute is gone."""
    provider = FakeProvider("https://api.test/v1/api")
    client = make_client(provider)
    assert provider.trading_base_url == client.trading_base_url == "https://api.test/v1/api"
    assert not hasattr(provider, "api_base_url") and not hasattr(client, "api_base_url")
