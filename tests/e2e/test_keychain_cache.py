"""The token cache shared through NoETL's keychain API, against the stand-in server and the simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from noetl_ib_plugin.auth.cache import FileTokenCache
from noetl_ib_plugin.auth.keychain_cache import KeychainTokenCache, contains_private_key
from noetl_ib_plugin.common.step_context import StepContext, current_step, running_step
from noetl_ib_plugin.credentials import parse_record
from noetl_ib_plugin.errors import ConfigurationError
from noetl_ib_plugin.runner import default_host, reset_default_host
from noetl_ib_plugin.simulator import Simulator
from tests.cli.helpers import record_secrets

from .noetl_server import NoetlServer
from .test_entry import CODE, sim_record
from .worker import run_python_step

KEY = "0123456789abcdef0123456789abcdef"
ENTRY = {"value": "bearer-1", "expires_at": 2000.0, "obtained_at": 1000.0, "scheme": "oauth2",
         "extra": {}}
SESSION = {**ENTRY, "state": {"brokerage": {"accounts": ["DU1"], "selected_account": "DU1",
                                             "is_paper": True, "opened_at": 1400.0}}}
#: What of SESSION crosses the keychain: the opening time only (a hint IBKR re-checks).
SHARED_SESSION = {**ENTRY, "state": {"brokerage": {"opened_at": 1400.0}}}


@pytest.fixture
def noetl_server() -> Iterator[NoetlServer]:
    """A strict NoETL server stand-in whose clock is fixed at t=1500."""
    server = NoetlServer(clock=lambda: 1500.0).start()
    yield server
    server.stop()


def _cache(server: NoetlServer, tmp_path: Path, host: str, **kw: Any) -> KeychainTokenCache:
    """One host's layered cache: its own directory, the shared keychain, a fixed clock."""
    kw.setdefault("clock", lambda: 1500.0)
    kw.setdefault("sleep", lambda _s: None)
    return KeychainTokenCache(server.url, "42", FileTokenCache(tmp_path / host), owner=host, **kw)


def test_store_writes_the_documented_keychain_shape(noetl_server: NoetlServer, tmp_path: Path) -> None:
    """A token goes to POST /api/keychain/42/noetl-ib-<key> as global with its remaining life."""
    a = _cache(noetl_server, tmp_path, "a")
    a.store(KEY, ENTRY)
    assert noetl_server.keychain_posts == [
        {"data": {"kind": "noetl-ib-token", "key": KEY, "entry": ENTRY}, "scope_type": "global",
         "expires_in": 500}
    ]
    b = _cache(noetl_server, tmp_path, "b")
    assert b.load(KEY) == ENTRY
    assert json.loads((tmp_path / "b" / f"{KEY}.json").read_text()) == ENTRY  # mirrored locally
    b.delete(KEY)
    assert a.load(KEY) == ENTRY  # a's own host file still has it
    assert _cache(noetl_server, tmp_path, "c").load(KEY) is None


def test_private_key_material_never_reaches_the_keychain(noetl_server: NoetlServer, tmp_path: Path) -> None:
    """An entry holding a PEM or a private-key field is kept on the host and never POSTed."""
    a = _cache(noetl_server, tmp_path, "a")
    a.store(KEY, {**ENTRY, "extra": {"note": "-----BEGIN PRIVATE KEY-----\nabc"}})
    a.store(KEY, {**ENTRY, "extra": {"x": {"private_key": "k"}}})
    assert noetl_server.keychain_posts == []
    assert contains_private_key([{"signature_key": ""}]) and not contains_private_key({"value": "t"})


def test_expired_shared_entry_falls_back_to_the_host(noetl_server: NoetlServer, tmp_path: Path) -> None:
    """An entry the server reports expired is a miss; the host file answers instead."""
    a = _cache(noetl_server, tmp_path, "a")
    a.store(KEY, {**ENTRY, "expires_at": 1501.0})
    noetl_server.clock = lambda: 1600.0
    b = _cache(noetl_server, tmp_path, "b")
    assert b.load(KEY) is None
    assert a.load(KEY) == {**ENTRY, "expires_at": 1501.0}


def test_unreachable_server_degrades_to_the_host_cache(tmp_path: Path) -> None:
    """With the keychain down, store/load/claim behave like the host file cache alone."""
    cache = KeychainTokenCache("http://127.0.0.1:9", "42", FileTokenCache(tmp_path / "a"),
                               timeout=(0.5, 0.5), sleep=lambda _s: None)
    cache.store(KEY, ENTRY)
    assert cache.load(KEY) == ENTRY
    assert cache.claim_fetch(KEY, lambda _e: True) is None


def test_claim_elects_the_last_writer_and_the_others_reuse_its_token(
    noetl_server: NoetlServer, tmp_path: Path
) -> None:
    """Two cold hosts: both claim, the last claim wins and fetches, the other waits for its token."""
    b = _cache(noetl_server, tmp_path, "b")
    steps: list[str] = []

    def a_sleeps(seconds: float) -> None:
        steps.append(f"sleep {seconds}")
        if len(steps) == 1:  # b read "not found" before a's claim landed; b's claim lands last
            assert b._post(KEY, {"kind": "noetl-ib-claim", "owner": "b", "at": 1500.0}, 30)
            assert b.claim_fetch(KEY, lambda _e: True) is None  # b reads its own claim: b fetches
        elif len(steps) == 2:  # while a polls, b finishes its fetch and stores the token
            b.store(KEY, ENTRY)
        else:  # then b opens the brokerage session, which rides in the same entry
            b.store(KEY, SESSION)

    a = _cache(noetl_server, tmp_path, "a", sleep=a_sleeps, settle=0.5, poll=0.2)
    assert a.claim_fetch(KEY, lambda _e: True) == SHARED_SESSION
    assert steps == ["sleep 0.5", "sleep 0.2", "sleep 0.2"]
    claims = [p["data"]["owner"] for p in noetl_server.keychain_posts if "owner" in p["data"]]
    assert claims == ["a", "b"]


def test_claim_wait_is_bounded(noetl_server: NoetlServer, tmp_path: Path) -> None:
    """A peer that claimed and never stored cannot block a host past `wait` seconds."""
    now = [1500.0]
    other = _cache(noetl_server, tmp_path, "other")
    other._post(KEY, {"kind": "noetl-ib-claim", "owner": "other", "at": 1500.0}, 30)

    def tick(seconds: float) -> None:
        now[0] += seconds

    a = _cache(noetl_server, tmp_path, "a", clock=lambda: now[0], sleep=tick, wait=5.0, poll=1.0)
    assert a.claim_fetch(KEY, lambda _e: True) is None
    assert now[0] == 1505.0


def test_wait_for_the_winners_session_is_bounded(noetl_server: NoetlServer, tmp_path: Path) -> None:
    """A token whose winner never opens a session is used after `state_wait` seconds."""
    now = [1500.0]
    other = _cache(noetl_server, tmp_path, "other")
    other._post(KEY, {"kind": "noetl-ib-claim", "owner": "other", "at": 1500.0}, 30)

    def tick(seconds: float) -> None:
        now[0] += seconds
        if now[0] >= 1502.0:
            other.store(KEY, ENTRY)

    a = _cache(noetl_server, tmp_path, "a", clock=lambda: now[0], sleep=tick, poll=1.0,
               state_wait=3.0)
    assert a.claim_fetch(KEY, lambda _e: True) == ENTRY
    assert now[0] == 1505.0  # token seen at 1502, then 3 s for the session that never came
    assert _cache(noetl_server, tmp_path, "late").claim_fetch(KEY, lambda _e: True) == ENTRY


def test_stale_shared_token_is_not_accepted(noetl_server: NoetlServer, tmp_path: Path) -> None:
    """claim_fetch returns a peer's token only when the provider calls it fresh; else it claims."""
    a = _cache(noetl_server, tmp_path, "a")
    a.store(KEY, ENTRY)
    assert a.claim_fetch(KEY, lambda _e: False) is None
    assert noetl_server.keychain_posts[-1]["data"]["owner"] == "a"


@pytest.mark.parametrize(
    "planted",
    [
        {"kind": "noetl-ib-token", "key": KEY, "entry": {**ENTRY, "expires_at": 1e300}},
        {"kind": "noetl-ib-token", "key": KEY, "entry": {**ENTRY, "value": "a b\r\nX-Evil: 1"}},
        {"kind": "noetl-ib-token", "key": KEY, "entry": {**ENTRY, "state": [1]}},
        {"kind": "noetl-ib-token", "key": KEY, "entry": {**ENTRY, "extra": "zz"}},
        {"kind": "noetl-ib-token", "key": KEY, "entry": {**ENTRY, "expires_at": "2000"}},
        {"kind": "noetl-ib-token", "key": "f" * 32, "entry": ENTRY},  # another credential's token
        {"kind": "noetl-ib-token", "entry": ENTRY},  # names no key
    ],
    ids=["forever", "header-injection", "state-list", "extra-text", "text-time", "other-key", "no-key"],
)
def test_malformed_or_foreign_shared_entry_is_a_miss(
    noetl_server: NoetlServer, tmp_path: Path, planted: dict[str, Any]
) -> None:
    """A shared entry that fails the file cache's checks or names another key is never used."""
    _cache(noetl_server, tmp_path, "other")._post(KEY, planted, 30)
    a = _cache(noetl_server, tmp_path, "a")
    assert a.load(KEY) is None
    assert not (tmp_path / "a" / f"{KEY}.json").exists()  # not mirrored into the host file
    assert a.claim_fetch(KEY, lambda _e: True) is None  # a claims and fetches its own
    assert noetl_server.keychain_posts[-1]["data"]["owner"] == "a"


@pytest.mark.parametrize("at", ["abc", [1], {"x": 1}, None, "nan", True])
def test_malformed_claim_is_not_live(noetl_server: NoetlServer, tmp_path: Path, at: Any) -> None:
    """A claim whose `at` is not a finite number is ignored (the host claims), never a crash."""
    _cache(noetl_server, tmp_path, "other")._post(
        KEY, {"kind": "noetl-ib-claim", "owner": "other", "at": at}, 30
    )
    a = _cache(noetl_server, tmp_path, "a")
    assert a.claim_fetch(KEY, lambda _e: True) is None
    assert noetl_server.keychain_posts[-1]["data"]["owner"] == "a"


def test_default_cache_layers_the_keychain_inside_a_step(
    noetl_server: NoetlServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside a step with server and catalog the default cache is shared; `file` opts out."""
    assert isinstance(_default_cache(), FileTokenCache)
    with running_step(StepContext(server_url=noetl_server.url, catalog_id="42")):
        shared = _default_cache()
        assert isinstance(shared, KeychainTokenCache) and shared.catalog_id == "42"
        monkeypatch.setenv("NOETL_IB_TOKEN_CACHE", "file")
        assert isinstance(_default_cache(), FileTokenCache)
    monkeypatch.setenv("NOETL_IB_TOKEN_CACHE", "keychain")
    with pytest.raises(ConfigurationError) as info:
        _default_cache()
    assert info.value.field == "NOETL_SERVER_URL"
    assert shared.directory is not None and shared.directory.name == "token-cache"  # host locks


@pytest.mark.parametrize(("credential", "counter"), [("sim_oauth2", "oauth2_token_requests"),
                                                     ("sim_oauth1a", "lst_requests")])
def test_two_hosts_share_one_token_and_one_brokerage_session(
    sim_env: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, credential: str, counter: str
) -> None:
    """Host B (own cache dir) reuses host A's token or LST and brokerage session through the keychain."""
    server = NoetlServer().start()
    try:
        for host in ("a", "b"):
            monkeypatch.setenv("NOETL_IB_CACHE_DIR", str(tmp_path / host))
            run = run_python_step(CODE, {"action": "get_positions", "credential": credential},
                                  variables={"catalog_id": 42},
                                  worker_env={"NOETL_SERVER_URL": server.url})
            assert run.result["ok"] is True, run.result
        stats = sim_env.stats()
        assert stats[counter] == 1
        assert stats["ssodh_init_requests"] == 1
        posted = json.dumps(server.keychain_posts)
        assert "brokerage" in posted
        for secret in record_secrets(sim_env.credentials_file):
            assert secret not in posted
        assert "PRIVATE KEY" not in posted
    finally:
        server.stop()


def test_legacy_token_provider_surface(sim_env: Simulator) -> None:
    """fetch_token, is_token_valid, clear_cache and invalidate_token keep NoETL's old meaning."""
    reset_default_host()
    record = parse_record(sim_record(sim_env), default_host().registry.credential_types)
    provider = default_host().token_provider(record)
    assert not provider.is_token_valid()
    token = provider.fetch_token(audience="ignored")
    assert provider.is_token_valid() and provider.fetch_token() == token
    provider.invalidate_token()
    assert not provider.is_token_valid()
    assert provider.fetch_token() != token
    assert sim_env.stats()["oauth2_token_requests"] == 2


def test_keychain_redirect_never_carries_the_token_elsewhere(tmp_path: Path) -> None:
    """A keychain answering 307 to another origin: the token is kept on the host, never re-POSTed."""
    from tests.security.hostile_server import hostile_server, json_ok, redirect_to

    with hostile_server(lambda _stop: json_ok()) as elsewhere, \
            hostile_server(lambda _stop: redirect_to(elsewhere.url + "/steal")) as keychain:
        cache = KeychainTokenCache(keychain.url, "42", FileTokenCache(tmp_path / "a"),
                                   clock=lambda: 1500.0, sleep=lambda _s: None)
        cache.store(KEY, ENTRY)  # no exception: the shared layer steps aside
        assert cache.load(KEY) == ENTRY  # from the host file
        cache.delete(KEY)
        assert [m for m, _ in keychain.hits] == ["POST", "GET", "DELETE"]
        assert elsewhere.hits == []


def test_oversized_keychain_answer_is_a_miss(tmp_path: Path) -> None:
    """A 2 MiB keychain answer (even a well-formed one) is not read past the cap: a miss."""
    from tests.security.hostile_server import hostile_server, json_ok

    big = json.dumps({"status": "found", "data": {"kind": "noetl-ib-token", "key": KEY,
                                                  "entry": ENTRY, "pad": "x" * (2 << 20)}})
    with hostile_server(lambda _stop: json_ok(big.encode())) as keychain:
        cache = KeychainTokenCache(keychain.url, "42", FileTokenCache(tmp_path / "a"),
                                   clock=lambda: 1500.0, sleep=lambda _s: None)
        assert cache.load(KEY) is None
        assert cache.claim_fetch(KEY, lambda _e: True) is None


def _default_cache() -> object:
    """The token cache the front doors' host picks for the current step."""
    return default_host().token_cache(current_step())
