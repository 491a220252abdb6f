"""`noetl-ib credentials check|register` and `noetl-ib actions`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from noetl_ib_plugin.cli import main
from noetl_ib_plugin.simulator import Simulator

from .helpers import one_json, record_secrets


class _Recorder(BaseHTTPRequestHandler):
    """A tiny NoETL server stand-in: records POSTs, answers like /api/credentials."""

    requests: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        type(self).requests.append(
            {"path": self.path, "content_type": self.headers.get("Content-Type"), "body": json.loads(body)}
        )
        reply = json.dumps({"status": "success", "name": json.loads(body).get("name"), "id": "7"}).encode()
        if type(self).status != 200:
            reply = json.dumps({"detail": "credential type not allowed"}).encode()
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@pytest.fixture
def noetl_server() -> Iterator[tuple[str, type[_Recorder]]]:
    """A loopback HTTP server recording what `credentials register` sends."""
    handler = type("Recorder", (_Recorder,), {"requests": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def _error(err: str) -> dict[str, Any]:
    value = json.loads(err.strip().splitlines()[-1])["error"]
    assert isinstance(value, dict)
    return value


def test_check_summarises_each_record_without_secrets(
    sim_env: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """A valid file: exit 0, one summary per record (type, account, secret field names), no secret value."""
    assert main(["credentials", "check", str(sim_env.credentials_file)]) == 0
    out = capsys.readouterr().out
    report = one_json(out)
    assert report["valid"] is True
    by_name = {r["name"]: r for r in report["records"]}
    assert by_name["sim_oauth2"]["secret_fields"] == ["private_key"]
    assert by_name["sim_oauth1a"]["type"] == "interactive_brokers_oauth1a"
    for secret in record_secrets(sim_env.credentials_file):
        assert secret not in out


def test_check_reports_invalid_records_and_exits_2(
    sim_env: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad key fails the full check: the report still lists every record, the exit code is 2."""
    records = json.loads(sim_env.credentials_file.read_text())["credentials"]
    records[0]["data"]["private_key"] = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"
    records.append({"name": "typo", "type": "interactive_brokers_oauth", "data": {"client_id": "x"}})
    path = tmp_path / "creds.json"
    path.write_text(json.dumps(records))
    assert main(["credentials", "check", str(path)]) == 2
    out, err = capsys.readouterr()
    report = one_json(out)
    assert [r["valid"] for r in report["records"]] == [False, True, False]
    assert report["records"][0]["error"]["field"] == "data.private_key"
    assert report["records"][2]["error"]["field"].startswith("data")
    assert _error(err)["category"] == "input"


def test_register_posts_each_record_like_noetl(
    sim_env: Simulator, noetl_server: tuple[str, type[_Recorder]], capsys: pytest.CaptureFixture[str]
) -> None:
    """One `POST {server}/api/credentials` per record with the record as the JSON body."""
    url, recorder = noetl_server
    assert main(["credentials", "register", str(sim_env.credentials_file), "--server", url]) == 0
    result = one_json(capsys.readouterr().out)
    sent = json.loads(sim_env.credentials_file.read_text())["credentials"]
    assert [r["path"] for r in recorder.requests] == ["/api/credentials"] * 2
    assert {r["content_type"] for r in recorder.requests} == {"application/json"}
    assert [r["body"] for r in recorder.requests] == sent
    assert [r["status"] for r in result["registered"]] == [200, 200]


def test_register_uses_noetl_server_url(
    sim_env: Simulator, noetl_server: tuple[str, type[_Recorder]], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without --server, NOETL_SERVER_URL names the server."""
    url, recorder = noetl_server
    monkeypatch.setenv("NOETL_SERVER_URL", url + "/")
    assert main(["credentials", "register", str(sim_env.credentials_file)]) == 0
    assert one_json(capsys.readouterr().out)["endpoint"] == f"{url}/api/credentials"
    assert len(recorder.requests) == 2


def test_register_server_rejection_exits_4(
    sim_env: Simulator, noetl_server: tuple[str, type[_Recorder]], capsys: pytest.CaptureFixture[str]
) -> None:
    """A 4xx from the server stops at that record: exit 4 with the server's words."""
    url, recorder = noetl_server
    recorder.status = 422
    assert main(["credentials", "register", str(sim_env.credentials_file), "--server", url]) == 4
    error = _error(capsys.readouterr().err)
    assert "422" in error["message"] and "not allowed" in error["message"]
    assert len(recorder.requests) == 1


def test_register_refuses_invalid_records_and_unreachable_servers(
    tmp_path: Path, sim_env: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Invalid records are not sent (exit 2); an unreachable server is a configuration error (exit 2)."""
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "type": "interactive_brokers_oauth", "data": {}}))
    assert main(["credentials", "register", str(bad), "--server", "http://127.0.0.1:9"]) == 2
    assert "invalid" in _error(capsys.readouterr().err)["message"]
    records = str(sim_env.credentials_file)
    assert main(["credentials", "register", records, "--server", "http://127.0.0.1:9"]) == 2
    assert _error(capsys.readouterr().err)["field"] == "server"


def test_actions_lists_every_action_with_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    """`actions` lists each action, whether it trades, and its arguments with types and defaults."""
    assert main(["actions", "--json"]) == 0
    catalog = {a["name"]: a for a in one_json(capsys.readouterr().out)["actions"]}
    assert {"place_order", "cancel_order", "get_positions", "snapshot", "get_open_orders",
            "account_summary"} <= set(catalog)
    assert catalog["place_order"]["trading"] is True
    args = {a["name"]: a for a in catalog["place_order"]["arguments"]}
    assert args["side"]["required"] is True
    assert args["order_type"]["required"] is True  # an omitted type must not become a market order
