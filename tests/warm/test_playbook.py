"""The warm example playbook run by the REAL `noetl` CLI: its shell steps end and are served warm."""

from __future__ import annotations

import json

import pytest

from noetl_ib_plugin.simulator import Simulator

from ..cli.helpers import REPO, VENV_BIN, noetl
from .warmfix import Warm


@pytest.mark.slow
def test_warm_playbook_starts_the_server_and_its_steps_are_served(warm: Warm, sim_env: Simulator) -> None:
    """`noetl-ib warm start` as a step does not hang the run; later steps are served by the server."""
    env = warm.env
    env["PATH"] = f"{VENV_BIN}:{env['PATH']}"
    proc = noetl("run", str(REPO / "examples" / "playbooks" / "warm_positions.yaml"), "--runtime",
                 "local", "--json", "--set", "idle_seconds=120", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = {k: json.loads(v) for k, v in json.loads(proc.stdout)["step_results"].items()}
    assert results["start"]["running"] is True
    warm.pid = int(results["start"]["pid"])
    assert results["positions"]["count"] > 0
    assert results["status"]["jobs_done"] == 2  # positions and summary ran in forked children
