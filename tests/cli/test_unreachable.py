"""A host that never answers: on loopback the fix says to restart the simulator, else: connectivity."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from noetl_ib_plugin.auth.http import unreachable_fix
from noetl_ib_plugin.simulator import Simulator

from .helpers import cli, process_env


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_stopped_simulator_fix_names_the_simulator(sim_env: Simulator, tmp_path: Path) -> None:
    """A credentials file left by a stopped simulator: exit 5 and a fix that says how to start it again."""
    payload = json.loads(sim_env.credentials_file.read_text())
    port = _closed_port()
    for record in payload["credentials"]:
        record["data"]["api_base_url"] = f"http://127.0.0.1:{port}"
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(payload))
    stale.chmod(0o600)
    proc = cli("run", "accounts", "--credential", "sim_oauth2", "--credentials-file", str(stale),
               env=process_env(NOETL_IB_RETRY_MAX_RETRIES="0"))
    assert proc.returncode == 5, proc.stderr
    error = json.loads(proc.stderr.strip().splitlines()[-1])["error"]
    assert f"nothing answers at http://127.0.0.1:{port}: if that is the simulator" in error["message"]
    assert "`noetl-ib simulator --state-dir DIR`" in error["message"]


def test_remote_host_fix_is_about_connectivity() -> None:
    """A host that is not loopback keeps the connectivity fix and the number of tries."""
    assert unreachable_fix("https://api.ibkr.com/v1/api/iserver/accounts", 6) == (
        "check connectivity to the IBKR API host; the request was tried 6 times.")
    assert unreachable_fix("http://localhost:5000/x", 1).startswith("nothing answers at http://localhost:5000:")
