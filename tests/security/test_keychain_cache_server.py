"""The NoETL keychain token cache gets the guards every other credential-bearing call has."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from noetl_ib_plugin.auth.cache import FileTokenCache
from noetl_ib_plugin.auth.keychain_cache import TOKEN_KIND, KeychainTokenCache, keychain_layer_over
from noetl_ib_plugin.errors import ConfigurationError

from .hostile_server import Behaviour, drip_body, hostile_server, json_ok, redirect_to

KEY = "0123456789abcdef0123456789abcdef"
BEARER = "bearer-canary-3b7f0c"


def _entry(**overrides: object) -> dict[str, object]:
    """A token entry valid for an hour, with `overrides` applied."""
    now = time.time()
    entry: dict[str, object] = {"value": BEARER, "expires_at": now + 3600, "obtained_at": now,
                                "scheme": "oauth2", "extra": {}}
    entry.update(overrides)
    return entry


def _found(entry: object) -> Callable[[threading.Event], Behaviour]:
    """A keychain that answers every GET with `entry` as a found token entry (raw JSON text)."""
    raw = entry if isinstance(entry, str) else json.dumps(entry)
    body = ('{"status": "found", "data": {"kind": "' + TOKEN_KIND + '", "entry": ' + raw + "}}").encode()
    return lambda _stop: json_ok(body)


def test_keychain_post_is_not_redirected_to_another_origin(tmp_path: Path) -> None:
    """A 307 from the keychain does not re-send the bearer to the Location's origin."""
    with hostile_server(lambda _s: json_ok()) as elsewhere, \
            hostile_server(lambda _s: redirect_to(elsewhere.url + "/steal")) as keychain:
        cache = KeychainTokenCache(keychain.url, "42", FileTokenCache(tmp_path / "c"))
        cache.store(KEY, _entry())
        cache.load(KEY)
        cache.delete(KEY)
        assert keychain.hits  # it was asked
        assert elsewhere.hits == []  # and nothing followed the redirect


def test_keychain_drip_is_cut_by_a_total_deadline(tmp_path: Path) -> None:
    """A keychain dripping a byte a second is cut at the total deadline; the host file is used."""
    local = FileTokenCache(tmp_path / "c")
    local.store(KEY, _entry(value="host-token"))
    with hostile_server(lambda stop: drip_body(stop, every=1.0, total_bytes=600)) as keychain:
        cache = KeychainTokenCache(keychain.url, "42", local, deadline=2.0)
        started = time.monotonic()
        entry = cache.load(KEY)
        elapsed = time.monotonic() - started
    assert entry is not None and entry["value"] == "host-token"
    assert elapsed < 300.0  # the drip alone would last 600 s; the deadline is 2 s


@pytest.mark.parametrize(
    "entry",
    [_entry(expires_at=1e300), '{"value": "x", "expires_at": Infinity, "obtained_at": 1, '
     '"scheme": "oauth2"}', _entry(value="a b\u202e"), _entry(obtained_at=time.time() + 9e6),
     _entry(scheme="oauth1a", value="not base64!")],
    ids=["huge-expiry", "infinity", "bad-chars", "future", "lst-not-base64"],
)
def test_keychain_entry_failing_the_cache_rules_is_a_miss(tmp_path: Path, entry: object) -> None:
    """A shared entry the file cache would refuse is a miss: the host's own entry is used instead."""
    local = FileTokenCache(tmp_path / "c")
    local.store(KEY, _entry(value="host-token"))
    with hostile_server(_found(entry)) as keychain:
        cache = KeychainTokenCache(keychain.url, "42", local)
        loaded = cache.load(KEY)
    assert loaded is not None and loaded["value"] == "host-token"
    assert local.load(KEY) == loaded  # the bad entry was not mirrored over the host's


def test_keychain_claim_ignores_an_entry_failing_the_cache_rules(tmp_path: Path) -> None:
    """claim_fetch never hands a provider a shared entry that breaks the cache rules."""
    with hostile_server(_found(_entry(expires_at=1e300))) as keychain:
        cache = KeychainTokenCache(keychain.url, "42", FileTokenCache(tmp_path / "c"), wait=0.0)
        assert cache.claim_fetch(KEY, lambda _e: True) is None


def test_keychain_oversized_answer_is_a_miss(tmp_path: Path) -> None:
    """A 3 MiB keychain answer is not read past the server cap: the host entry is used."""
    local = FileTokenCache(tmp_path / "c")
    local.store(KEY, _entry(value="host-token"))
    padding = "x" * (3 << 20)
    with hostile_server(_found(_entry(pad=padding))) as keychain:
        loaded = KeychainTokenCache(keychain.url, "42", local).load(KEY)
    assert loaded is not None and loaded["value"] == "host-token"


@pytest.mark.parametrize("url", ["http://noetl.example:8082", "http://user:pw-canary@127.0.0.1:8082",
                                 "http://evil.example:1\\@127.0.0.1:8082"])
def test_keychain_server_url_follows_the_one_url_rule(
    url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Tokens go to the keychain only over https or loopback, never to a URL with userinfo."""
    monkeypatch.setenv("NOETL_SERVER_URL", url)
    monkeypatch.setenv("NOETL_IB_KEYCHAIN_CATALOG_ID", "42")
    local = FileTokenCache(tmp_path / "c")
    assert keychain_layer_over(local, *_env_keychain()) is None  # best effort: the host's files only
    with pytest.raises(ConfigurationError) as info:
        keychain_layer_over(local, *_env_keychain(), required=True)
    assert info.value.field == "NOETL_SERVER_URL"
    assert "pw-canary" not in str(info.value)
    with pytest.raises(ConfigurationError):
        KeychainTokenCache(url, "42", local)


def test_keychain_loopback_and_https_urls_are_accepted(tmp_path: Path) -> None:
    """The rule still lets the usual URLs through: loopback http and any https host."""
    local = FileTokenCache(tmp_path / "c")
    assert KeychainTokenCache("http://127.0.0.1:8082/", "42", local).server_url == \
        "http://127.0.0.1:8082"
    assert KeychainTokenCache("https://noetl.example", "42", local).server_url == \
        "https://noetl.example"



@pytest.mark.parametrize("at", ['"soon"', "[]", "NaN", "-Infinity", "1e400"])
def test_keychain_claim_with_a_garbage_time_is_not_live(tmp_path: Path, at: str) -> None:
    """A peer claim whose `at` is not a finite number is stale, not a crash and not a winner."""
    body = ('{"status": "found", "data": {"kind": "noetl-ib-claim", "owner": "peer", "at": '
            + at + "}}").encode()
    now = [1000.0]
    with hostile_server(lambda _s: json_ok(body)) as keychain:
        cache = KeychainTokenCache(keychain.url, "42", FileTokenCache(tmp_path / "c"), wait=5.0,
                                   clock=lambda: now[0],
                                   sleep=lambda s: now.__setitem__(0, now[0] + s + 1.0))
        assert cache.claim_fetch(KEY, lambda _e: True) is None
        assert ("POST", "/api/keychain/42/noetl-ib-" + KEY) in keychain.hits  # it claimed itself


class _StaleKeepAlive(BaseHTTPRequestHandler):
    """Answers the first request of a connection keep-alive, then drops the next one unanswered."""

    protocol_version = "HTTP/1.1"
    seen: list[str] = []

    def handle(self) -> None:
        self.handled = 0
        super().handle()

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.handled:  # what a server that closed an idle connection does to a late request
            self.close_connection = True
            return
        self.handled += 1
        self.seen.append(self.command)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = _any  # noqa: N815 - http.server's naming

    def log_message(self, *args: object) -> None:
        pass


def test_keychain_write_survives_a_stale_keep_alive_connection(tmp_path: Path) -> None:
    """A write sent on a pooled connection the server dropped is resent once and lands."""
    _StaleKeepAlive.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StaleKeepAlive)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cache = KeychainTokenCache(f"http://127.0.0.1:{server.server_address[1]}", "42",
                                   FileTokenCache(tmp_path / "c"))
        cache.load(KEY)  # GET: answered, the connection stays pooled
        assert cache._post(KEY, {"kind": TOKEN_KIND, "key": KEY, "entry": _entry()}, 60)
    finally:
        server.shutdown()
        server.server_close()
    assert _StaleKeepAlive.seen == ["GET", "POST"]  # the dropped POST was resent, once


def _env_keychain() -> tuple[str | None, str | None]:
    """The server and catalog id the front door's settings would pass (NOETL_SERVER_URL, ...)."""
    from noetl_ib_plugin.wiring.settings import Settings

    settings = Settings.from_environ(os.environ)
    return settings.server_url, settings.keychain_catalog_id
