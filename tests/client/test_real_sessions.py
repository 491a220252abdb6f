"""The client against IBKR-like sessions: one per username (kicks), warm-up, "Init session
first", "Please query /accounts first", compete, and IBKR's "failed to generate sso dh token"."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import responses

from noetl_ib_plugin.client import IBClient, Pacer
from noetl_ib_plugin.client.brokerage_session import SSO_DH_FIX, is_bootstrap_signal
from noetl_ib_plugin.errors import AuthError, SessionTakenOver
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.testing import running_simulator
from tests.fixtures.simulators import CREDS, provider_for

from .fakes import BASE, FakeClock, make_client

SEARCH = "/iserver/secdef/search"


class FrozenWallClock(FakeClock):
    """Wall-clock time frozen at creation (tokens need a real date), moved only by sleeps."""

    def __init__(self) -> None:
        super().__init__()
        self.now = time.time()


def _client(sim_reset: Simulator, cred: str, cache: Path, monkeypatch: pytest.MonkeyPatch,
            **kw: object) -> IBClient:
    """A client whose token cache lives in `cache` (what a process with that cache dir has)."""
    monkeypatch.setenv("NOETL_IB_CACHE_DIR", str(cache))
    client = IBClient(provider_for(sim_reset, cred), pacer=Pacer.disabled(), state_dir=cache)
    for name, value in kw.items():
        setattr(client.brokerage_manager, name, value)
    return client


@pytest.mark.parametrize("cred", CREDS)
def test_kick_by_another_cache_dir_is_reported_typed_without_kicking_back(
        sim_reset: Simulator, cred: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kicked client raises SessionTakenOver instead of reopening: 1 kick, the other keeps working."""
    first = _client(sim_reset, cred, tmp_path / "a", monkeypatch)
    assert first.get(SEARCH, params={"symbol": "AAPL"})
    second = _client(sim_reset, cred, tmp_path / "b", monkeypatch)
    assert second.get(SEARCH, params={"symbol": "MSFT"})
    assert sim_reset.stats()["sessions_kicked"] == 1
    with pytest.raises(SessionTakenOver) as info:
        first.get(SEARCH, params={"symbol": "IBM"})
    assert info.value.field == "compete" and "NOETL_IB_CACHE_DIR" in str(info.value)
    assert second.get(SEARCH, params={"symbol": "IBM"})
    stats = sim_reset.stats()
    assert stats["sessions_kicked"] == 1 and stats["ssodh_init_requests"] == 2
    # The fix, followed: compete is already true, so the hint is "stop the other one, run again".
    fix = info.value.fix or ""
    assert '"compete": true' not in fix and "stop the other process" in fix
    second.request("POST", "/logout", bootstrap=False)
    assert first.get(SEARCH, params={"symbol": "IBM"})
    assert sim_reset.stats()["sessions_kicked"] == 1  # nobody held it: reopened without a kick


@pytest.mark.parametrize("cred", CREDS)
def test_shared_cache_dir_means_one_session_and_no_kicks(
        sim_reset: Simulator, cred: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two clients (fresh providers, as in two processes) on one cache dir share one session."""
    first = _client(sim_reset, cred, tmp_path / "shared", monkeypatch)
    second = _client(sim_reset, cred, tmp_path / "shared", monkeypatch)
    for n in range(3):
        assert first.get(SEARCH, params={"symbol": "AAPL"})
        assert second.get(SEARCH, params={"symbol": "MSFT"}), n
    stats = sim_reset.stats()
    assert stats["sessions_kicked"] == 0 and stats["ssodh_init_requests"] == 1


def test_compete_false_refuses_up_front(sim_reset: Simulator, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """compete=false against a live session raises SessionTakenOver at once and leaves the holder alone."""
    holder = _client(sim_reset, "sim_oauth2", tmp_path / "a", monkeypatch)
    assert holder.get(SEARCH, params={"symbol": "AAPL"})
    polite = _client(sim_reset, "sim_oauth2", tmp_path / "b", monkeypatch, compete=False)
    with pytest.raises(SessionTakenOver) as info:
        polite.get(SEARCH, params={"symbol": "AAPL"})
    assert "compete=false" in str(info.value)
    assert holder.get(SEARCH, params={"symbol": "IBM"})
    assert sim_reset.stats()["sessions_kicked"] == 0
    # The fix, followed: "compete": true takes the session over on the next run.
    assert '"compete": true' in (info.value.fix or "")
    polite.brokerage_manager.compete = True
    assert polite.get(SEARCH, params={"symbol": "MSFT"})
    assert sim_reset.stats()["sessions_kicked"] == 1


def test_compete_comes_from_the_credential_record(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """data.compete (default true) sets the client's ssodh/init compete flag."""
    with running_simulator(pacing=False, state_dir=tmp_path / "sim") as sim_reset:
        assert _client(sim_reset, "sim_oauth2", tmp_path / "c", monkeypatch).brokerage_manager.compete is True
        data = dict(sim_reset.credentials[0]["data"], compete=False)
        from noetl_ib_plugin.auth.oauth2 import IBTokenProvider

        client = IBClient(IBTokenProvider(data), pacer=Pacer.disabled())
        assert client.brokerage_manager.compete is False


def test_waits_out_the_bridge_warm_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After ssodh/init the client polls accounts through the injected clock until the bridge is warm."""
    clock = FrozenWallClock()
    with running_simulator(pacing=False, state_dir=tmp_path / "sim", bridge_warmup=3.0,
                           clock=clock) as sim_reset:
        monkeypatch.setenv("NOETL_IB_CACHE_DIR", str(tmp_path / "cache"))
        client = IBClient(provider_for(sim_reset, "sim_oauth2"), pacer=Pacer.disabled(),
                          clock=clock, sleep=clock.sleep)
        assert client.get(SEARCH, params={"symbol": "AAPL"})
        assert client.account_id == "DU1234567"
        polls = sim_reset.stats()["requests_by_endpoint"]["GET /v1/api/iserver/accounts"]
        assert polls >= 2 and 3.0 <= sum(clock.sleeps) <= 3.0 + 2.0


def test_bridge_wait_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bridge that never lists accounts fails after bridge_wait seconds with a typed error."""
    clock = FrozenWallClock()
    with running_simulator(pacing=False, state_dir=tmp_path / "sim", bridge_warmup=1e9,
                           clock=clock) as sim_reset:
        monkeypatch.setenv("NOETL_IB_CACHE_DIR", str(tmp_path / "cache"))
        client = IBClient(provider_for(sim_reset, "sim_oauth2"), pacer=Pacer.disabled(),
                          clock=clock, sleep=clock.sleep)
        client.brokerage_manager.bridge_wait = 5.0
        with pytest.raises(Exception) as info:
            client.get(SEARCH, params={"symbol": "AAPL"})
        assert "no accounts" in str(info.value) and "within 5 s" in str(info.value)
        assert sum(clock.sleeps) <= 5.0


def test_init_session_first_is_treated_like_no_bridge(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """400 "Init session first" makes the client reopen the session and resend once, like no bridge."""
    with running_simulator(pacing=False, state_dir=tmp_path / "sim",
                           uninitialised="init session first") as sim_reset:
        monkeypatch.setenv("NOETL_IB_CACHE_DIR", str(tmp_path / "cache"))
        client = IBClient(provider_for(sim_reset, "sim_oauth2"), pacer=Pacer.disabled())
        assert client.get(SEARCH, params={"symbol": "AAPL"})
        sim_reset.engine.broker.reset()  # sessions forgotten: the next call is "Init session first"
        assert client.get(SEARCH, params={"symbol": "IBM"})
        assert sim_reset.stats()["ssodh_init_requests"] == 2


def test_bootstrap_signals() -> None:
    """Exactly IBKR's three bootstrap answers count; other 400/500s do not."""
    assert is_bootstrap_signal(400, '{"error":"Bad Request: no bridge","statusCode":400}')
    assert is_bootstrap_signal(400, '{"error":"Init session first","statusCode":400}')
    assert is_bootstrap_signal(500, '{"error":"Please query /accounts first"}')
    assert not is_bootstrap_signal(500, '{"error":"no bridge"}')
    assert not is_bootstrap_signal(400, '{"error":"Please query /accounts first"}')
    assert not is_bootstrap_signal(400, '{"error":"Bad Request: invalid conids"}')


@responses.activate
def test_failed_to_generate_sso_dh_token_names_its_causes() -> None:
    """500 "failed to generate sso dh token" is an AuthError whose fix names eligibility and new accounts."""
    client = make_client()
    for _ in range(4):
        responses.add(responses.POST, f"{BASE}/iserver/auth/ssodh/init", status=500,
                      json={"error": "failed to generate sso dh token", "statusCode": 500})
    with pytest.raises(AuthError) as info:
        client.get(SEARCH, params={"symbol": "AAPL"})
    assert info.value.fix == SSO_DH_FIX
    assert "eligible" in str(info.value) and "new paper account" in str(info.value)


@responses.activate
def test_authenticated_false_without_competing_is_an_auth_error() -> None:
    """ssodh/init authenticated=false (not competing) is one AuthError with IBKR's fail text, no loop."""
    client = make_client()
    responses.add(responses.POST, f"{BASE}/iserver/auth/ssodh/init",
                  json={"authenticated": False, "competing": False, "fail": "not allowed"})
    with pytest.raises(AuthError) as info:
        client.get(SEARCH, params={"symbol": "AAPL"})
    assert "not allowed" in str(info.value)
    assert len(responses.calls) == 1
