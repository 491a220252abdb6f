"""NoETL server store and `credentials register` - https, no userinfo, capped answers."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from noetl_ib_plugin.cli import main as cli_main
from noetl_ib_plugin.credentials import load_credential as load_from_store
from noetl_ib_plugin.credentials.stores import SERVER_MAX_BYTES, ServerStore
from noetl_ib_plugin.errors import ConfigurationError, CredentialNotFound
from noetl_ib_plugin.runner import load_credential
from noetl_ib_plugin.simulator import Simulator
from tests.security.hostile_server import Hostile, endless_body, hostile_server, json_ok

PASSWORD = "s3cr3t-Pa55"


@pytest.fixture
def recorder() -> Iterator[Hostile]:
    """A loopback server that answers 200 and records requests."""
    with hostile_server(lambda _stop: json_ok()) as server:
        yield server


def _last_error(err: str) -> dict[str, object]:
    error = json.loads(err.strip().splitlines()[-1])["error"]
    assert isinstance(error, dict)
    return error


@pytest.mark.parametrize("url", ["http://noetl.example.com:8082", "http://10.1.2.3:8082"])
def test_store_refuses_plain_http_to_a_remote_server(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NOETL_SERVER_URL over plain http to a non-loopback host is refused before connecting."""
    monkeypatch.setenv("NOETL_SERVER_URL", url)
    with pytest.raises(ConfigurationError) as info:
        load_credential("ib_paper")
    assert info.value.field == "NOETL_SERVER_URL" and "https" in str(info.value)


def test_store_never_prints_userinfo(recorder: Hostile, monkeypatch: pytest.MonkeyPatch) -> None:
    """user:password in NOETL_SERVER_URL is refused and never appears in any message."""
    host = recorder.url.removeprefix("http://")
    monkeypatch.setenv("NOETL_SERVER_URL", f"http://admin:{PASSWORD}@{host}")
    with pytest.raises(ConfigurationError) as info:
        load_credential("ib_paper")
    assert PASSWORD not in str(info.value) and "admin" not in str(info.value)
    assert "user:password@" in str(info.value)
    assert recorder.hits == []
    store = ServerStore(f"http://admin:{PASSWORD}@{host}")
    assert PASSWORD not in store.describe("x") and PASSWORD not in repr(vars(store).get("display"))


def test_not_found_message_does_not_echo_userinfo(monkeypatch: pytest.MonkeyPatch) -> None:
    """The searched-places list of CredentialNotFound shows the server's origin only."""
    store = ServerStore(f"https://admin:{PASSWORD}@noetl.example.com")
    assert store.describe("x") == "NoETL server 'https://noetl.example.com'"
    with pytest.raises(ConfigurationError):
        load_from_store("x", store=store)
    monkeypatch.setenv("NOETL_SERVER_URL", f"https://admin:{PASSWORD}@noetl.example.com")
    with pytest.raises((ConfigurationError, CredentialNotFound)) as info:
        load_credential("ib_paper")
    assert PASSWORD not in str(info.value)


def test_store_caps_an_endless_answer() -> None:
    """A server streaming forever is cut at SERVER_MAX_BYTES with a configuration error."""
    with hostile_server(endless_body) as server, pytest.raises(ConfigurationError) as info:
        ServerStore(server.url).find("ib_paper")
    assert "ResponseTooLarge" in str(info.value)
    assert SERVER_MAX_BYTES <= 1024 * 1024


def test_register_refuses_plain_http_and_userinfo(
    sim_reset: Simulator, recorder: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    """`credentials register` keeps private keys off plain http and never prints a password."""
    assert cli_main(["credentials", "register", str(sim_reset.credentials_file), "--server",
                     "http://noetl.example.com:8082"]) == 2
    error = _last_error(capsys.readouterr().err)
    assert error["field"] == "server" and "https" in str(error["message"])
    host = recorder.url.removeprefix("http://")
    assert cli_main(["credentials", "register", str(sim_reset.credentials_file), "--server",
                     f"http://admin:{PASSWORD}@{host}"]) == 2
    captured = capsys.readouterr()
    assert PASSWORD not in captured.err + captured.out
    assert recorder.hits == []


def test_register_caps_an_endless_answer(
    sim_reset: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """An endless answer to the POST stops at the cap: exit 2, a typed error naming the server."""
    with hostile_server(endless_body) as server:
        code = cli_main(["credentials", "register", str(sim_reset.credentials_file), "--server",
                         server.url])
    assert code == 2
    error = _last_error(capsys.readouterr().err)
    assert error["field"] == "server" and "ResponseTooLarge" in str(error["message"])


def test_register_does_not_echo_a_record_the_server_sends_back(
    sim_reset: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """A refusal that echoes the record (keys included) is reported without the echo."""
    record = json.loads(sim_reset.credentials_file.read_text())
    records = record.get("credentials", record) if isinstance(record, dict) else record
    echoed = json.dumps({"refused": records[0]}).encode()

    def refuse(h: BaseHTTPRequestHandler) -> None:
        h.send_response(422)
        h.send_header("Content-Length", str(len(echoed)))
        h.end_headers()
        h.wfile.write(echoed)

    assert b"PRIVATE KEY" in echoed  # the echo really carries key material
    with hostile_server(lambda _stop: refuse) as server:
        assert cli_main(["credentials", "register", str(sim_reset.credentials_file), "--server",
                         server.url]) == 4
    err = capsys.readouterr().err
    assert "PRIVATE KEY" not in err and "422" in err


def test_operator_named_http_host_is_trusted_and_no_other(monkeypatch: pytest.MonkeyPatch) -> None:
    """http://noetl:8082 passes only when NOETL_IB_HTTP_SERVER_HOSTS names noetl; the fix says so."""
    from noetl_ib_plugin.credentials.stores import check_server_url

    with pytest.raises(ConfigurationError) as info:
        check_server_url("http://noetl:8082", trusted_http_hosts=_trusted_hosts())
    assert "NOETL_IB_HTTP_SERVER_HOSTS=noetl" in str(info.value)
    monkeypatch.setenv("NOETL_IB_HTTP_SERVER_HOSTS", "noetl, other")
    assert check_server_url("http://noetl:8082/", trusted_http_hosts=_trusted_hosts()) == \
        "http://noetl:8082"
    for refused in ("http://evil.example:8082", "http://user:pw@noetl:8082",
                    "http://noetl.evil.example"):
        with pytest.raises(ConfigurationError):
            check_server_url(refused, trusted_http_hosts=_trusted_hosts())


def test_keychain_layer_is_skipped_for_an_untrusted_http_server(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A step whose server is plain http to another host keeps tokens on the host, never sends them."""
    from noetl_ib_plugin.auth.cache import MemoryTokenCache
    from noetl_ib_plugin.auth.keychain_cache import keychain_layer_over

    monkeypatch.setenv("NOETL_SERVER_URL", "http://noetl:8082")
    monkeypatch.setenv("NOETL_IB_KEYCHAIN_CATALOG_ID", "7")
    monkeypatch.delenv("NOETL_IB_HTTP_SERVER_HOSTS", raising=False)
    local = MemoryTokenCache()
    assert keychain_layer_over(local, *_env_keychain(), trusted_http_hosts=_trusted_hosts()) is None
    with pytest.raises(ConfigurationError):
        keychain_layer_over(local, *_env_keychain(), required=True,
                            trusted_http_hosts=_trusted_hosts())
    monkeypatch.setenv("NOETL_IB_HTTP_SERVER_HOSTS", "noetl")
    assert keychain_layer_over(local, *_env_keychain(),
                               trusted_http_hosts=_trusted_hosts()) is not None


def _trusted_hosts() -> frozenset[str]:
    """The plain-http hosts the front door's settings would pass (NOETL_IB_HTTP_SERVER_HOSTS)."""
    from noetl_ib_plugin.wiring.settings import Settings

    return Settings.from_environ(os.environ).http_server_hosts


def _env_keychain() -> tuple[str | None, str | None]:
    """The server and catalog id the front door's settings would pass (NOETL_SERVER_URL, ...)."""
    from noetl_ib_plugin.wiring.settings import Settings

    settings = Settings.from_environ(os.environ)
    return settings.server_url, settings.keychain_catalog_id
