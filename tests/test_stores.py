"""Credential stores: explicit file, NoETL alias store, NoETL server, in the documented order."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from noetl_ib_plugin.credentials import (
    AliasStore,
    FileStore,
    alias_env_var,
)
from noetl_ib_plugin.errors import ConfigurationError, CredentialError, CredentialNotFound
from noetl_ib_plugin.runner import load_credential


def _record(name: str, client: str = "cid") -> dict[str, Any]:
    return {
        "name": name,
        "type": "interactive_brokers_oauth",
        "description": "test",
        "tags": ["ib"],
        "data": {"client_id": client, "key_id": "kid", "private_key": "pem", "credential": "u"},
    }


@pytest.mark.parametrize(
    "payload",
    [
        _record("ib"),
        [_record("other"), _record("ib")],
        {"credentials": [_record("other"), _record("ib")]},
    ],
)
def test_file_store_reads_one_record_a_list_or_credentials_wrapper(tmp_path: Path, payload: Any) -> None:
    """All three file shapes resolve a record by name."""
    path = tmp_path / "creds.json"
    path.write_text(json.dumps(payload))
    record = load_credential("ib", credentials_file=path)
    assert record.name == "ib" and record.type == "interactive_brokers_oauth"


def test_env_var_points_at_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NOETL_IB_CREDENTIALS is the explicit file when no argument is given."""
    path = tmp_path / "creds.json"
    path.write_text(json.dumps([_record("ib")]))
    monkeypatch.setenv("NOETL_IB_CREDENTIALS", str(path))
    assert load_credential("ib").name == "ib"


def test_broken_json_names_file_and_position_not_content(tmp_path: Path) -> None:
    """A syntax error reports line/column and never quotes the file."""
    path = tmp_path / "creds.json"
    path.write_text('{"name": "ib", "data": {"private_key": "SECRET-CANARY"')
    with pytest.raises(CredentialError) as info:
        FileStore(path).find("ib")
    assert "line 1" in str(info.value) and "SECRET-CANARY" not in str(info.value)


def test_alias_env_var_name_follows_noetl() -> None:
    """Upper-case, '-' and '.' become '_'."""
    assert alias_env_var("ib-paper.main") == "NOETL_CREDENTIAL_IB_PAPER_MAIN"


def test_alias_env_var_wins_over_alias_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NOETL_CREDENTIAL_<ALIAS> is read before <dir>/<alias>; a record without name takes the alias."""
    directory = tmp_path / "aliases"
    directory.mkdir()
    (directory / "ib").write_text(json.dumps(_record("ib", client="from-file")))
    (directory / "ib").chmod(0o600)
    monkeypatch.setenv("NOETL_CREDENTIALS_DIR", str(directory))
    assert load_credential("ib").data.client_id == "from-file"  # type: ignore[attr-defined]
    env_record = _record("ignored", client="from-env")
    del env_record["name"]
    monkeypatch.setenv("NOETL_CREDENTIAL_IB", json.dumps(env_record))
    record = load_credential("ib")
    assert record.data.client_id == "from-env" and record.name == "ib"  # type: ignore[attr-defined]


def test_alias_file_readable_by_others_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A group/world-readable alias file works but logs a chmod 600 warning."""
    (tmp_path / "ib").write_text(json.dumps(_record("ib")))
    (tmp_path / "ib").chmod(0o644)
    with caplog.at_level(logging.WARNING):
        assert AliasStore(tmp_path, os.environ).find("ib") is not None
    assert "chmod 600" in caplog.text


def test_alias_holding_a_bare_token_is_explained(tmp_path: Path) -> None:
    """A non-JSON alias (e.g. an exported bearer) gives an error saying what to store instead."""
    (tmp_path / "ib").write_text("eyJhbGciOi-not-a-record")
    (tmp_path / "ib").chmod(0o600)
    with pytest.raises(CredentialError) as info:
        AliasStore(tmp_path, os.environ).find("ib")
    assert "noetl credential set" in str(info.value)
    assert "eyJhbGciOi" not in str(info.value)


def test_missing_name_lists_every_place_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CredentialNotFound names the file, the env var, the alias file and the server it tried."""
    path = tmp_path / "creds.json"
    path.write_text(json.dumps([_record("other")]))
    monkeypatch.setenv("NOETL_SERVER_URL", "http://127.0.0.1:9")
    with pytest.raises((CredentialNotFound, ConfigurationError)):
        load_credential("ib", credentials_file=path)
    monkeypatch.delenv("NOETL_SERVER_URL")
    with pytest.raises(CredentialNotFound) as info:
        load_credential("ib", credentials_file=path)
    text = str(info.value)
    assert str(path) in text and "NOETL_CREDENTIAL_IB" in text and "alias file" in text
    assert info.value.field == "credential"


class _NoetlServer(BaseHTTPRequestHandler):
    records: dict[str, dict[str, Any]] = {}
    seen: list[str] = []

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        """Serve GET /api/credentials/<name>?include_data=true like the NoETL server."""
        self.seen.append(self.path)
        name = self.path.split("?")[0].rsplit("/", 1)[-1]
        record = self.records.get(name)
        body = json.dumps(record or {"detail": "not found"}).encode()
        self.send_response(200 if record else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def noetl_server() -> Iterator[str]:
    """A loopback stand-in for the NoETL server's credential endpoint."""
    _NoetlServer.records = {"ib": _record("ib", client="from-server")}
    _NoetlServer.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _NoetlServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_server_store_is_last_and_asks_for_data(noetl_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With NOETL_SERVER_URL set, a name not found locally comes from the server with include_data."""
    monkeypatch.setenv("NOETL_SERVER_URL", noetl_server)
    record = load_credential("ib")
    assert record.data.client_id == "from-server"  # type: ignore[attr-defined]
    assert _NoetlServer.seen == ["/api/credentials/ib?include_data=true"]
    with pytest.raises(CredentialNotFound) as info:
        load_credential("nope")
    assert noetl_server in str(info.value)


def test_local_alias_shadows_server(
    noetl_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The documented order: the alias store is consulted before the server."""
    monkeypatch.setenv("NOETL_SERVER_URL", noetl_server)
    monkeypatch.setenv("NOETL_CREDENTIAL_IB", json.dumps(_record("ib", client="local")))
    assert load_credential("ib").data.client_id == "local"  # type: ignore[attr-defined]
    assert _NoetlServer.seen == []
