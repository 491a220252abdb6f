"""Processes started together on a cold cache make one token request and one
ssodh/init between them (the bootstrap is single-flight across processes, like the token)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from noetl_ib_plugin.testing import running_simulator

PROCESSES = 24

WORKER = """
import os, sys, time
from pathlib import Path
from noetl_ib_plugin import IBClient, get_token_provider, load_credential
from noetl_ib_plugin.runner import default_host
cred, creds, gate, me = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]
(gate / f"ready-{me}").touch()
deadline = time.monotonic() + 300
while not (gate / "go").exists() and time.monotonic() < deadline:
    time.sleep(0.005)
client = IBClient(get_token_provider(load_credential(cred, creds)), pacer=False,
                  state_dir=default_host().settings.cache_dir)
found = client.get("/iserver/secdef/search", params={"symbol": "AAPL"})
print("ok" if found else "empty")
"""

TOKEN_COUNTERS = {"sim_oauth2": ("oauth2_token_requests", "sso_session_requests"),
                  "sim_oauth1a": ("lst_requests",)}


@pytest.mark.slow
@pytest.mark.parametrize("cred", ["sim_oauth2", "sim_oauth1a"])
def test_24_cold_processes_make_one_token_request_and_one_ssodh_init(
        cred: str, tmp_path: Path) -> None:
    """24 cold processes released together: 1 token request and 1 ssodh/init (24 without the lock)."""
    gate = tmp_path / "gate"
    gate.mkdir()
    env = dict(os.environ, NOETL_IB_CACHE_DIR=str(tmp_path / "cache"))
    with running_simulator(pacing=False, state_dir=tmp_path / "sim", bridge_warmup=0.5) as sim_reset:
        procs = [subprocess.Popen([sys.executable, "-c", WORKER, cred, str(sim_reset.credentials_file),
                                   str(gate), str(n)], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
                 for n in range(PROCESSES)]
        try:
            deadline = time.monotonic() + 300
            while len(list(gate.glob("ready-*"))) < PROCESSES and time.monotonic() < deadline:
                time.sleep(0.05)
            (gate / "go").touch()
            outputs = [p.communicate(timeout=300) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        assert [out.strip() for out, _ in outputs] == ["ok"] * PROCESSES, outputs[0][1][-2000:]
        stats = sim_reset.stats()
    assert stats["ssodh_init_requests"] == 1
    for counter in TOKEN_COUNTERS[cred]:
        assert stats[counter] == 1, counter
    assert stats["sessions_kicked"] == 0
