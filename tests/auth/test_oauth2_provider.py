"""IBTokenProvider against a real loopback OAuth 2.0 server: assertions, caching, refresh, errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from cryptography.hazmat.primitives.asymmetric import rsa
from freezegun import freeze_time

from noetl_ib_plugin import IBTokenProvider
from noetl_ib_plugin.auth.cache import FileTokenCache, MemoryTokenCache
from noetl_ib_plugin.common.backoff import RetryPolicy
from noetl_ib_plugin.errors import AuthError, RateLimited, TransientError

from .token_server import TokenServer, TokenServerState, verify_jws


def _data(url: str, pem: str, **extra: Any) -> dict[str, Any]:
    return {
        "client_id": "client-123",
        "key_id": "kid-1",
        "private_key": pem,
        "credential": "paperuser",
        "api_base_url": url,
        **extra,
    }


@pytest.fixture
def server(rsa_key: rsa.RSAPrivateKey) -> Iterator[TokenServer]:
    """A loopback token server that trusts the session's throw-away key."""
    state = TokenServerState(
        client_id="client-123",
        key_id="kid-1",
        public_key=rsa_key.public_key(),
        username="paperuser",
        clock=lambda: time.time(),  # noqa: PLW0108 - looked up per call so freezegun can move it
    )
    with TokenServer(state) as srv:
        yield srv


def _no_sleep_policy() -> RetryPolicy:
    return RetryPolicy(max_attempts=3, base_delay=0.01, max_total=2.0, sleep=lambda s: None)


def test_fetch_token_returns_sso_bearer_that_the_api_accepts(server: TokenServer, rsa_pem: str) -> None:
    """The bearer from the SSO step (not the access token) authenticates trading calls."""
    provider = IBTokenProvider(_data(server.url, rsa_pem), cache=MemoryTokenCache())
    headers: dict[str, str] = {}
    used = provider.authorize("GET", f"{provider.trading_base_url}/echo", headers)
    resp = requests.get(f"{server.url}/v1/api/echo", headers=headers, timeout=5)
    assert resp.status_code == 200
    assert used in server.state.bearers
    assert used not in server.state.access_tokens
    assert server.state.token_requests == 1 and server.state.sso_requests == 1


def test_client_assertions_verify_with_an_independent_decoder(
    rsa_key: rsa.RSAPrivateKey, rsa_pem: str
) -> None:
    """Assertions verify with raw `cryptography` (not PyJWT): header, claims, lifetime, unique jti."""
    provider = IBTokenProvider(
        _data("http://127.0.0.1:1", rsa_pem, audience="/token"), cache=MemoryTokenCache()
    )
    jtis = set()
    before = time.time()
    for _ in range(100):
        header, claims = verify_jws(provider.client_assertion(), rsa_key.public_key())
        assert header == {"alg": "RS256", "typ": "JWT", "kid": "kid-1"}
        assert claims["iss"] == claims["sub"] == "client-123"
        assert claims["aud"] == "/token"
        assert before - 11 <= claims["iat"] <= time.time() - 9
        assert 0 < claims["exp"] - claims["iat"] <= 60
        jtis.add(claims["jti"])
    assert len(jtis) == 100


def test_sso_jwt_carries_configured_claims(rsa_key: rsa.RSAPrivateKey, rsa_pem: str) -> None:
    """The SSO body names the username and puts the IP under the configured claim name."""
    provider = IBTokenProvider(
        _data("http://127.0.0.1:1", rsa_pem, ip="203.0.113.7", ip_claim="userIp", service="AM.LOGIN"),
        cache=MemoryTokenCache(),
    )
    _, claims = verify_jws(provider.sso_session_jwt(), rsa_key.public_key())
    assert claims["credential"] == "paperuser"
    assert claims["userIp"] == "203.0.113.7" and "ip" not in claims
    assert claims["service"] == "AM.LOGIN"
    assert claims["exp"] - claims["iat"] == 86400


def test_expiry_buffer_reuse_refresh_inside_buffer_and_after_expiry(
    server: TokenServer, rsa_pem: str
) -> None:
    """Reused before the buffer, refreshed inside it, refreshed after expiry (freezegun)."""
    server.state.token_ttl = 3600  # buffer = min(300 s, 10 % of 3600 s) = 300 s
    with freeze_time("2026-01-05 14:00:00") as frozen:
        provider = IBTokenProvider(_data(server.url, rsa_pem), cache=MemoryTokenCache())
        first = provider.fetch_token()
        frozen.tick(3600 - 301)
        assert provider.fetch_token() == first
        assert server.state.token_requests == 1
        frozen.tick(2)  # now 299 s before expiry: inside the buffer
        second = provider.fetch_token()
        assert second != first and server.state.token_requests == 2
        frozen.tick(7200)  # long past expiry
        third = provider.fetch_token()
        assert third not in (first, second) and server.state.token_requests == 3


def test_short_lived_token_is_not_refreshed_in_a_loop(server: TokenServer, rsa_pem: str) -> None:
    """A 30 s token gets a 3 s buffer (10 %), not the 300 s default that would refresh every call."""
    server.state.token_ttl = 30
    with freeze_time("2026-01-05 14:00:00") as frozen:
        provider = IBTokenProvider(_data(server.url, rsa_pem), cache=MemoryTokenCache())
        token = provider.fetch_token()
        for _ in range(5):
            frozen.tick(5)
            assert provider.fetch_token() == token
        assert server.state.token_requests == 1
        frozen.tick(3)  # 27 s into a 30 s life: inside the 3 s buffer
        assert provider.fetch_token() != token


def test_sso_bearer_not_trusted_past_its_own_jwt_exp(rsa_pem: str) -> None:
    """A JWT bearer whose own `exp` is earlier than the access token's caps the cached lifetime."""
    import jwt as pyjwt

    now = 1_800_000_000
    bearer = pyjwt.encode({"exp": now + 600}, "k" * 32, algorithm="HS256")
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST,
            "https://api.ibkr.com/oauth2/api/v1/token",
            json={"access_token": "acc", "token_type": "Bearer", "expires_in": 86399},
        )
        rsps.add(
            responses.POST,
            "https://api.ibkr.com/gw/api/v1/sso-sessions",
            json={"active": True, "access_token": bearer},
            status=201,
        )
        provider = IBTokenProvider(
            _data("https://api.ibkr.com", rsa_pem), cache=MemoryTokenCache(), clock=lambda: now
        )
        token = provider.current_token()
    assert token.expires_at == now + 600


def test_32_threads_on_a_cold_cache_make_one_token_request(server: TokenServer, rsa_pem: str) -> None:
    """Single flight in-process: 32 concurrent callers share one fetch."""
    server.state.delay = 0.05
    provider = IBTokenProvider(_data(server.url, rsa_pem), cache=MemoryTokenCache())
    barrier = threading.Barrier(32)
    results: list[str] = []

    def worker() -> None:
        barrier.wait()
        results.append(provider.fetch_token())

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results) == 32
    assert server.state.token_requests == 1
    assert server.state.sso_requests == 1


def test_providers_in_one_process_share_the_file_cache(
    server: TokenServer, rsa_pem: str, tmp_path: Path
) -> None:
    """A second provider for the same credential reuses the first one's token from disk."""
    cache = FileTokenCache(tmp_path / "c")
    a = IBTokenProvider(_data(server.url, rsa_pem), cache=cache)
    b = IBTokenProvider(_data(server.url, rsa_pem), cache=FileTokenCache(tmp_path / "c"))
    assert a.fetch_token() == b.fetch_token()
    assert server.state.token_requests == 1
    assert b.current_token().from_cache


def test_file_cache_modes_and_no_plain_key(server: TokenServer, rsa_pem: str, tmp_path: Path) -> None:
    """Cache dir is 0700, entries 0600, named by fingerprint, never holding the private key."""
    cache_dir = tmp_path / "cache"
    provider = IBTokenProvider(_data(server.url, rsa_pem), cache=FileTokenCache(cache_dir))
    provider.fetch_token()
    assert cache_dir.stat().st_mode & 0o777 == 0o700
    entries = list(cache_dir.glob("*.json"))
    assert len(entries) == 1
    assert entries[0].stat().st_mode & 0o777 == 0o600
    assert "client-123" not in entries[0].name
    text = entries[0].read_text()
    assert "PRIVATE KEY" not in text and rsa_pem.splitlines()[1] not in text


_PROCESS_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from noetl_ib_plugin import IBTokenProvider
    from noetl_ib_plugin.runner import default_host
    data = json.load(open(sys.argv[1]))
    start = float(sys.argv[2])
    # the front doors' cache: NOETL_IB_CACHE_DIR from the environment
    provider = IBTokenProvider(data, cache=default_host().token_cache())
    time.sleep(max(0.0, start - time.time()))
    print(provider.fetch_token()[:12])
    """
)


@pytest.mark.slow
def test_8_processes_started_together_make_one_token_request(
    server: TokenServer, rsa_pem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cross-process single flight: the file lock lets exactly one of 8 processes fetch."""
    server.state.delay = 0.1
    record = tmp_path / "data.json"
    record.write_text(json.dumps(_data(server.url, rsa_pem)))
    script = tmp_path / "fetch.py"
    script.write_text(_PROCESS_SCRIPT)
    start = time.time() + 2.5
    env = {**__import__("os").environ, "NOETL_IB_CACHE_DIR": str(tmp_path / "shared-cache")}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(record), str(start)], stdout=subprocess.PIPE, env=env, text=True
        )
        for _ in range(8)
    ]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len(set(outs)) == 1
    assert server.state.token_requests == 1


def test_invalidate_with_a_stale_token_keeps_the_fresh_one(
    server: TokenServer, rsa_pem: str, tmp_path: Path
) -> None:
    """invalidate(old) after a refresh does not drop the new token (compare, not clear)."""
    provider = IBTokenProvider(_data(server.url, rsa_pem), cache=FileTokenCache(tmp_path / "c"))
    old = provider.fetch_token()
    assert provider.invalidate(old) is True
    new = provider.fetch_token()
    assert new != old
    assert provider.invalidate(old) is False
    assert provider.fetch_token() == new
    assert server.state.token_requests == 2


def test_fifty_concurrent_401s_cause_one_refresh(server: TokenServer, rsa_pem: str) -> None:
    """Many callers reporting the same failed token trigger one refresh between them."""
    provider = IBTokenProvider(_data(server.url, rsa_pem), cache=MemoryTokenCache())
    bad = provider.fetch_token()
    server.state.revoke_all()
    barrier = threading.Barrier(50)

    def worker() -> None:
        barrier.wait()
        provider.invalidate(bad)
        provider.fetch_token()

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert server.state.token_requests == 2


def test_invalid_client_error_suggests_causes_without_secrets(rsa_pem: str) -> None:
    """A 401 from the token endpoint becomes an AuthError naming the likely causes, no secrets."""
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    state = TokenServerState("client-123", "kid-1", other_key.public_key(), "paperuser")
    with TokenServer(state) as srv:
        provider = IBTokenProvider(_data(srv.url, rsa_pem), cache=MemoryTokenCache())
        with pytest.raises(AuthError) as info:
            provider.fetch_token()
    text = str(info.value)
    assert "HTTP 401" in text and "key_id" in text and "clock" in text
    assert info.value.status == 401
    assert "PRIVATE KEY" not in text
    assert state.token_requests == 1  # a 401 is not retried


@responses.activate
def test_token_endpoint_retries_5xx_and_honours_retry_after(rsa_pem: str) -> None:
    """503 then 429 with Retry-After are retried; the sleep honours Retry-After."""
    url = "https://api.ibkr.com/oauth2/api/v1/token"
    responses.add(responses.POST, url, status=503, json={"error": "down"})
    responses.add(responses.POST, url, status=429, headers={"Retry-After": "1.5"}, json={"error": "slow"})
    responses.add(responses.POST, url, json={"access_token": "acc", "expires_in": 3600})
    responses.add(
        responses.POST,
        "https://api.ibkr.com/gw/api/v1/sso-sessions",
        json={"active": True, "access_token": "bearer-xyz"},
    )
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=4, base_delay=0.01, sleep=sleeps.append, rand=lambda: 0.0)
    provider = IBTokenProvider(
        _data("https://api.ibkr.com", rsa_pem), cache=MemoryTokenCache(), retry_policy=policy
    )
    assert provider.fetch_token() == "bearer-xyz"
    assert len(sleeps) == 2 and sleeps[1] == 1.5
    assertions = [c.request.body for c in responses.calls if c.request.url == url]
    assert len(set(map(str, assertions))) == 3  # every retry signs a fresh assertion


@responses.activate
def test_token_endpoint_gives_up_with_a_typed_error(rsa_pem: str) -> None:
    """Retries are bounded: persistent 429 ends in RateLimited, persistent 500 in TransientError."""
    url = "https://api.ibkr.com/oauth2/api/v1/token"
    responses.add(responses.POST, url, status=429, json={"error": "slow down"})
    provider = IBTokenProvider(
        _data("https://api.ibkr.com", rsa_pem), cache=MemoryTokenCache(), retry_policy=_no_sleep_policy()
    )
    with pytest.raises(RateLimited):
        provider.fetch_token()
    assert len(responses.calls) == 3
    responses.replace(responses.POST, url, status=500, json={"error": "boom"})
    with pytest.raises(TransientError) as info:
        provider.fetch_token()
    assert info.value.status == 500


@responses.activate
def test_network_error_is_retried_then_transient(rsa_pem: str) -> None:
    """Connection errors retry within the budget and end as TransientError naming the host only."""
    url = "https://api.ibkr.com/oauth2/api/v1/token"
    responses.add(responses.POST, url, body=requests.ConnectionError("refused"))
    provider = IBTokenProvider(
        _data("https://api.ibkr.com", rsa_pem), cache=MemoryTokenCache(), retry_policy=_no_sleep_policy()
    )
    with pytest.raises(TransientError) as info:
        provider.fetch_token()
    assert "api.ibkr.com" in str(info.value)
    assert len(responses.calls) == 3


def test_access_token_outlives_bearer_and_is_replaced_once_when_refused(
    server: TokenServer, rsa_pem: str
) -> None:
    """An expired bearer reuses the live access token; one the SSO endpoint refuses is replaced once."""
    with freeze_time("2026-01-05 14:00:00") as frozen:
        provider = IBTokenProvider(_data(server.url, rsa_pem), cache=MemoryTokenCache(), sso_lifetime=60)
        first = provider.fetch_token()
        frozen.tick(61)
        second = provider.fetch_token()
        assert second != first
        assert (server.state.token_requests, server.state.sso_requests) == (1, 2)
        server.state.access_tokens.clear()  # IBKR revoked the access token too
        frozen.tick(61)
        assert provider.fetch_token() not in (first, second)
        assert (server.state.token_requests, server.state.sso_requests) == (2, 4)


def test_secret_canary_logs_reprs_exceptions(
    server: TokenServer, rsa_pem: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    """At DEBUG, neither the key, an assertion, the access token nor the bearer leaks anywhere."""
    provider = IBTokenProvider(_data(server.url, rsa_pem), cache=MemoryTokenCache())
    token = provider.current_token()
    bearer, access = token.value, token.extra["access_token"]
    assertion = server.state.assertions[-1]
    provider.invalidate(bearer)
    provider.fetch_token()
    # The canary is only as good as its input: DEBUG lines of ours and of urllib3 were written.
    names = {r.name for r in debug_logs.records if r.levelname == "DEBUG"}
    assert "noetl_ib_plugin.auth.oauth2" in names and "urllib3.connectionpool" in names, names
    texts = [
        debug_logs.text,
        repr(provider),
        repr(token),
        str(token),
        repr(provider.data),
        str(provider.data),
        json.dumps(provider.token_info()),
        provider.data.model_dump_json(),
    ]
    bad = IBTokenProvider(
        _data("http://127.0.0.1:9", rsa_pem), cache=MemoryTokenCache(), retry_policy=_no_sleep_policy()
    )
    with pytest.raises(TransientError) as info:
        bad.fetch_token()
    texts.append(str(info.value))
    blob = "\n".join(texts)
    key_body = "".join(rsa_pem.splitlines()[1:-1])
    for secret in (bearer, access, assertion, key_body[:40], rsa_pem.splitlines()[5]):
        assert secret not in blob


def test_a_different_key_never_reuses_another_keys_token(
    server: TokenServer, rsa_pem: str, tmp_path: Path
) -> None:
    """Same client and key id but another private key: its own cache entry, so a wrong key fails now."""
    cache_dir = tmp_path / "shared"
    good = IBTokenProvider(_data(server.url, rsa_pem), cache=FileTokenCache(cache_dir))
    good.fetch_token()
    other_pem = _pem_of(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    wrong = IBTokenProvider(_data(server.url, other_pem), cache=FileTokenCache(cache_dir))
    assert wrong.cache_key != good.cache_key
    with pytest.raises(AuthError):
        wrong.fetch_token()
    key_file = tmp_path / "key.pem"
    key_file.write_text(rsa_pem)
    by_path = {**_data(server.url, rsa_pem), "private_key": None, "private_key_path": str(key_file)}
    del by_path["private_key"]
    same = IBTokenProvider(by_path, cache=FileTokenCache(cache_dir))
    assert same.cache_key == good.cache_key  # the same key, inline or from a file, shares tokens
    assert same.fetch_token() == good.fetch_token()


def _pem_of(key: rsa.RSAPrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
