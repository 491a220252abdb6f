"""A step whose warm server died after taking it: the error has the CLI's JSON shape and is logged."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from .test_server import ORDER, HoldingServer, holding
from .warmfix import NOETL_IB, Warm

__all__ = ["holding"]


def test_lost_server_error_is_json_and_reaches_the_error_log(
    warm: Warm, holding: HoldingServer, tmp_path: Path
) -> None:
    """Exit 6 prints one `{"error": ...}` line (category unknown) and appends it to NOETL_IB_ERROR_LOG."""
    error_log = tmp_path / "errors.jsonl"
    server_pid = warm.start()["pid"]
    creds = tmp_path / "my creds.json"
    creds.write_text('{"credentials": {}}')
    client = subprocess.Popen([NOETL_IB, *ORDER, f"--credentials-file={creds}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**warm.env, "NOETL_SERVER_URL": holding.url,
                                   "NOETL_IB_ERROR_LOG": str(error_log)})
    assert holding.accepted.wait(60), "the child never asked for the credential"
    os.kill(server_pid, signal.SIGKILL)
    out, err = client.communicate(timeout=60)
    assert (client.returncode, out) == (6, "")
    lines = err.strip().splitlines()
    assert len(lines) == 1
    error = json.loads(lines[0])["error"]
    assert error["category"] == "unknown"
    assert "outcome is unknown" in error["message"] and "not re-run" in error["message"]
    assert (f"`noetl-ib run get_open_orders --credential held --credentials-file '{creds}'`"
            in error["message"])
    entries = [json.loads(line) for line in error_log.read_text().splitlines()]
    assert [(e["command"], e["exit_code"], e["error"]) for e in entries] == [
        ("run place_order", 6, error)]
