"""A warm child never holds more than its client: groups, capabilities, no_new_privs, sandboxes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from .warmfix import NOETL_IB, Warm

SETPRIV = shutil.which("setpriv")


def _run(warm: Warm, prefix: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, NOETL_IB, *args], capture_output=True, text=True,
                          env=warm.env, timeout=60, check=False)


@pytest.mark.skipif(SETPRIV is None, reason="needs util-linux setpriv")
def test_client_with_no_new_privs_runs_in_process(warm: Warm) -> None:
    """A client under no_new_privs (a sandbox any user can enter) runs in process, sending nothing."""
    warm.start()
    proc = _run(warm, [str(SETPRIV), "--no-new-privs"], "-v", "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("noetl-ib ")
    assert "differ from this process's" in proc.stderr
    status = warm.status()
    assert (status["jobs_done"], status["jobs_refused"]) == (0, 0)  # never asked


@pytest.mark.skipif(SETPRIV is None or os.geteuid() != 0, reason="needs root and setpriv")
def test_client_without_capabilities_cannot_read_through_the_server(warm: Warm) -> None:
    """Root with every capability dropped cannot read a 0600 file of another uid, warm or not."""
    warm.start()
    private = Path(tempfile.mkdtemp(prefix="nibid", dir="/tmp"))
    try:
        creds = private / "creds.json"
        creds.write_text('{"credentials": {}}')
        os.chmod(creds, 0o600)
        os.chown(creds, 1001, 1001)
        drop = [str(SETPRIV), "--bounding-set=-all", "--inh-caps=-all"]
        args = ("run", "get_positions", "--credential", "x", "--credentials-file", str(creds))
        served = _run(warm, drop, *args)
        alone = subprocess.run([*drop, NOETL_IB, *args], capture_output=True, text=True,
                               env={**warm.env, "NOETL_IB_WARM": "off"}, timeout=60, check=False)
    finally:
        shutil.rmtree(private, ignore_errors=True)
    assert "Permission denied" in alone.stderr
    assert (served.returncode, served.stdout, served.stderr) == (alone.returncode, alone.stdout,
                                                                alone.stderr)
    assert warm.status()["jobs_done"] == 0


@pytest.mark.skipif(shutil.which("nice") is None, reason="needs coreutils nice")
def test_niced_client_is_not_served_at_the_servers_priority(warm: Warm) -> None:
    """`nice -n 5 noetl-ib ...` runs in process: a child forked from the server would run at nice 0."""
    warm.start()
    proc = _run(warm, [str(shutil.which("nice")), "-n", "5"], "-v", "--version")
    assert proc.returncode == 0, proc.stderr
    assert "differ from this process's" in proc.stderr
    assert warm.status()["jobs_done"] == 0


@pytest.mark.skipif(SETPRIV is None, reason="needs util-linux setpriv")
def test_weaker_process_cannot_stop_the_server(warm: Warm) -> None:
    """`warm stop` from a no_new_privs process of this user is refused; the server keeps serving."""
    warm.start()
    proc = _run(warm, [str(SETPRIV), "--no-new-privs"], "warm", "stop")
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert (answer["running"], answer["stopped"]) == (True, False)
    assert "server's privileges" in answer["not_stopped_because"]
    assert warm.run("--version").returncode == 0
    assert warm.status()["jobs_done"] == 1
