"""IBClient error paths with `responses`: retries, Retry-After, 401 refresh, no bridge, paper guard."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import responses

from noetl_ib_plugin.client import IBClient, Pacer
from noetl_ib_plugin.errors import (
    AuthError,
    BrokerError,
    LiveTradingRefused,
    OutcomeUnknown,
    RateLimited,
    TransientError,
)
from noetl_ib_plugin.wiring.host import Host
from noetl_ib_plugin.wiring.settings import Settings

from .fakes import BASE, FakeClock, FakeProvider, add_bootstrap, calls_to, make_client


@responses.activate
def test_get_retries_429_honouring_retry_after() -> None:
    """A 429 with Retry-After: 2 is retried after at least 2 s, then succeeds."""
    clock = FakeClock()
    client = make_client(clock=clock)
    responses.add(responses.POST, f"{BASE}/tickle", status=429, headers={"Retry-After": "2"},
                  json={"error": "too many"})
    responses.add(responses.POST, f"{BASE}/tickle", json={"session": "x"})
    assert client.tickle() == {"session": "x"}
    assert clock.sleeps and clock.sleeps[0] >= 2.0


@responses.activate
def test_get_retries_5xx_then_gives_up_with_transient_error() -> None:
    """GETs retry 5xx a bounded number of times, then raise TransientError with the status."""
    clock = FakeClock()
    client = make_client(clock=clock)
    add_bootstrap(responses)
    responses.add(responses.GET, f"{BASE}/iserver/secdef/search", status=503,
                  json={"error": "internal timeout"})
    with pytest.raises(TransientError) as info:
        client.get("/iserver/secdef/search", params={"symbol": "AAPL"})
    assert info.value.status == 503
    assert "internal timeout" in str(info.value)
    assert calls_to(responses, "/iserver/secdef/search") == 4
    assert len(clock.sleeps) == 3


@responses.activate
def test_rate_limited_after_budget() -> None:
    """A 429 that outlasts the retry budget surfaces as RateLimited with IBKR's hint."""
    client = make_client()
    for _ in range(4):
        responses.add(responses.POST, f"{BASE}/tickle", status=429, headers={"Retry-After": "1"},
                      json={"error": "slow down"})
    with pytest.raises(RateLimited) as info:
        client.tickle()
    assert info.value.retry_after == 1.0


@responses.activate
def test_network_errors_on_get_are_retried() -> None:
    """A connection error on a GET is retried and the second answer is returned."""
    client = make_client()
    responses.add(responses.POST, f"{BASE}/tickle", body=requests.ConnectionError("reset"))
    responses.add(responses.POST, f"{BASE}/tickle", json={"ok": 1})
    assert client.tickle() == {"ok": 1}


@responses.activate
def test_order_post_is_never_retried_on_500_or_reset() -> None:
    """Placing an order is not retried on 5xx or a dropped connection: the outcome is unknown."""
    client = make_client()
    add_bootstrap(responses)
    url = f"{BASE}/iserver/account/DU1110001/orders"
    responses.add(responses.POST, url, status=500, json={"error": "boom"})
    with pytest.raises(OutcomeUnknown):
        client.post("/iserver/account/DU1110001/orders", json={"orders": []})
    assert calls_to(responses, "/iserver/account/DU1110001/orders") == 1
    responses.replace(responses.POST, url, body=requests.ConnectionError("reset by peer"))
    with pytest.raises(OutcomeUnknown):
        client.post("/iserver/account/DU1110001/orders", json={"orders": []})
    assert calls_to(responses, "/iserver/account/DU1110001/orders") == 2


@responses.activate
def test_401_refreshes_once_and_retries() -> None:
    """A 401 drops that token, fetches one new token and resends the request once."""
    provider = FakeProvider()
    client = make_client(provider)
    responses.add(responses.POST, f"{BASE}/tickle", status=401, json={"error": "invalid token"})
    responses.add(responses.POST, f"{BASE}/tickle", json={"ok": True})
    assert client.tickle() == {"ok": True}
    assert provider.fetches == 2
    auths = [c.request.headers["Authorization"] for c in responses.calls]
    assert auths == ["Bearer tok1", "Bearer tok2"]


@responses.activate
def test_second_401_raises_auth_error_without_secrets() -> None:
    """Two 401s in a row give AuthError with the status and IBKR's message, never the token."""
    client = make_client()
    responses.add(responses.POST, f"{BASE}/tickle", status=401,
                  json={"error": "id: 39687, error: invalid consumer", "statusCode": 401})
    with pytest.raises(AuthError) as info:
        client.tickle()
    text = str(info.value)
    assert "401" in text and "invalid consumer" in text
    assert "tok1" not in text and "tok2" not in text and "Bearer" not in text
    assert calls_to(responses, "/tickle") == 2


@responses.activate
def test_bootstrap_runs_once_and_no_bridge_reruns_it() -> None:
    """ssodh/init + /iserver/accounts run once; a later "no bridge" re-runs them once, then retries."""
    client = make_client()
    add_bootstrap(responses)
    search = f"{BASE}/iserver/secdef/search"
    responses.add(responses.GET, search, json=[])
    client.get("/iserver/secdef/search", params={"symbol": "A"})
    client.get("/iserver/secdef/search", params={"symbol": "B"})
    assert calls_to(responses, "/iserver/auth/ssodh/init") == 1
    responses.replace(responses.GET, search, status=400,
                      json={"error": "Bad Request: no bridge", "statusCode": 400})
    responses.add(responses.GET, search, json=[{"conid": "1"}])
    assert client.get("/iserver/secdef/search", params={"symbol": "C"}) == [{"conid": "1"}]
    assert calls_to(responses, "/iserver/auth/ssodh/init") == 2


@responses.activate
def test_persistent_no_bridge_is_a_broker_error() -> None:
    """If the bridge is still missing after one re-bootstrap, the caller gets a BrokerError."""
    client = make_client()
    add_bootstrap(responses)
    responses.add(responses.GET, f"{BASE}/iserver/secdef/search", status=400,
                  json={"error": "Bad Request: no bridge", "statusCode": 400})
    with pytest.raises(BrokerError) as info:
        client.get("/iserver/secdef/search", params={"symbol": "A"})
    assert info.value.status == 400
    assert calls_to(responses, "/iserver/auth/ssodh/init") == 2


@responses.activate
def test_portfolio_accounts_precedes_portfolio_calls_once() -> None:
    """/portfolio/accounts is called once before the first /portfolio/* call, not every time."""
    client = make_client()
    add_bootstrap(responses)
    responses.add(responses.GET, f"{BASE}/portfolio/DU1110001/summary", json={})
    client.get("/portfolio/DU1110001/summary")
    client.get("/portfolio/DU1110001/summary")
    assert calls_to(responses, "/portfolio/accounts") == 1
    order = [c.request.url.split("/v1/api")[1].split("?")[0] for c in responses.calls
             if c.request.url]
    assert order.index("/portfolio/accounts") < order.index("/portfolio/DU1110001/summary")


@responses.activate
def test_bootstrap_state_is_reused_by_a_new_client() -> None:
    """A second client on the same token cache (a new process) does not redo ssodh/init."""
    provider = FakeProvider()
    add_bootstrap(responses)
    responses.add(responses.GET, f"{BASE}/iserver/secdef/search", json=[])
    make_client(provider).get("/iserver/secdef/search", params={"symbol": "A"})
    make_client(provider).get("/iserver/secdef/search", params={"symbol": "A"})
    assert calls_to(responses, "/iserver/auth/ssodh/init") == 1
    assert calls_to(responses, "/iserver/accounts") == 1


@responses.activate
def test_user_agent_and_timeouts_are_sent() -> None:
    """Every request carries the package User-Agent."""
    client = make_client()
    responses.add(responses.POST, f"{BASE}/tickle", json={})
    client.tickle()
    assert responses.calls[0].request.headers["User-Agent"].startswith("noetl-ib-plugin/")


@responses.activate
def test_paper_guard_refuses_live_account() -> None:
    """A non-paper account is refused unless environment=live AND allow_live=True."""
    add_bootstrap(responses, account="U7654321", is_paper=False)
    client = make_client()
    with pytest.raises(LiveTradingRefused) as info:
        client.ensure_trading_allowed()
    assert "allow_live" in str(info.value) and "environment" in str(info.value)
    live_cred = make_client(environment="live")
    with pytest.raises(LiveTradingRefused):
        live_cred.ensure_trading_allowed()
    assert live_cred.with_options(allow_live=True).ensure_trading_allowed() == "U7654321"
    not_live = make_client(allow_live=True)
    with pytest.raises(LiveTradingRefused):
        not_live.ensure_trading_allowed()


@responses.activate
def test_paper_guard_follows_is_paper_not_the_prefix() -> None:
    """An account IBKR marks isPaper trades without opt-ins; a DU id IBKR calls live does not."""
    add_bootstrap(responses, account="U5550001", is_paper=True)
    assert make_client().ensure_trading_allowed() == "U5550001"
    responses.reset()
    add_bootstrap(responses, account="DU5550001", is_paper=False)
    with pytest.raises(LiveTradingRefused):
        make_client().ensure_trading_allowed()


def test_pacer_argument_forms(tmp_path: Path) -> None:
    """A host shares one pacer per credential; None paces a client alone; False turns it off."""
    provider = FakeProvider()
    host = Host(Settings(cache_dir=tmp_path))
    a = IBClient(provider, pacer=host.pacer(provider.cache_key, None))
    b = IBClient(provider, pacer=host.pacer(provider.cache_key, None))
    assert a.transport.pacer is b.transport.pacer and a.transport.pacer.enabled
    alone = IBClient(provider).transport.pacer
    assert alone.enabled and alone is not a.transport.pacer
    assert not IBClient(provider, pacer=False).transport.pacer.enabled
    assert not IBClient(provider, pacer=Pacer.disabled()).transport.pacer.enabled


def test_brokerage_lock_wait_times_out_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A thread stuck holding the brokerage-session lock makes others fail typed, not hang."""
    import threading

    from noetl_ib_plugin.client import brokerage_session as session_module
    from noetl_ib_plugin.errors import TransientError

    monkeypatch.setattr(session_module, "LOCK_WAIT_SECONDS", 0.2)
    client = make_client()
    holding, release = threading.Event(), threading.Event()

    def stuck() -> None:
        with client.brokerage_manager.lock:
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=stuck)
    holder.start()
    try:
        assert holding.wait(10)
        with pytest.raises(TransientError) as info:
            client.brokerage(force=True)
        assert "brokerage-session lock" in str(info.value)
    finally:
        release.set()
        holder.join(10)
