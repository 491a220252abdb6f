"""`noetl-ib simulator` logs one line per request by default, never a secret; its default book is small."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import requests

from noetl_ib_plugin.simulator import Simulator
from tests.cli.helpers import cli, one_json


def test_one_log_line_per_request_without_headers_query_or_body(tmp_path: Path) -> None:
    """A request carrying a bearer, an oauth_token query and a cookie logs method, path and status only."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "noetl_ib_plugin.simulator", "--state-dir", str(tmp_path / "s"),
         "--port", "0", "--no-pacing"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = json.loads(proc.stdout.readline())["url"]
        secret = "Zq7SecretTokenValue"
        answer = requests.get(f"{url}/v1/api/iserver/accounts?oauth_token={secret}", timeout=5,
                              headers={"Authorization": f"Bearer {secret}", "Cookie": f"x={secret}"})
        assert answer.status_code == 401
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    log = proc.stderr.read()
    lines = [line for line in log.splitlines() if "/iserver/accounts" in line]
    assert len(lines) == 1 and lines[0].endswith("GET /v1/api/iserver/accounts -> 401")
    assert secret not in log


def test_default_book_is_small_and_bulk_positions_is_opt_in(sim_env: Simulator) -> None:
    """A default simulator's OAuth 1.0a account holds a few real symbols, no synthetic ZZ0xx filler."""
    proc = cli("run", "get_positions", "--credential", "sim_oauth1a")
    assert proc.returncode == 0, proc.stderr
    symbols = [p["symbol"] for p in one_json(proc.stdout)["positions"]]
    assert 0 < len(symbols) < 10 and not any(s.startswith("ZZ") for s in symbols)
