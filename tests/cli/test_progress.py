"""Waits of a second or more are said on stderr (what and how long); stdout stays the one result."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from noetl_ib_plugin.testing import running_simulator

from .helpers import cli, one_json, process_env

_WAIT = re.compile(r"^noetl-ib: waiting (\d+\.\d) s for (.+)$", re.MULTILINE)


@pytest.mark.serial  # the second process must start within ~4 s of the first's request
def test_pacing_wait_is_announced_with_its_endpoint_and_length(tmp_path: Path) -> None:
    """A second `trades` within IBKR's 1-per-5 s limit says it waits ~5 s for that endpoint's pacing."""
    with running_simulator(pacing=False, state_dir=tmp_path / "sim") as sim:
        env = process_env(NOETL_IB_CREDENTIALS=str(sim.credentials_file), NOETL_IB_PACING="on",
                          NOETL_IB_CACHE_DIR=str(tmp_path / "cache"))
        first = cli("run", "trades", "--credential", "sim_oauth2", env=env)
        second = cli("run", "trades", "--credential", "sim_oauth2", env=env)
    assert first.returncode == second.returncode == 0, second.stderr
    assert _WAIT.search(first.stderr) is None
    [(seconds, what)] = _WAIT.findall(second.stderr)
    assert 1.0 <= float(seconds) <= 5.0
    assert what == "IBKR's pacing limit on GET /iserver/account/trades"
    assert one_json(second.stdout)["count"] == 0


def test_bridge_warm_up_is_announced_and_short_polls_are_not(tmp_path: Path) -> None:
    """A 2.5 s bridge warm-up: polls of 1 s and more are said (what, length); shorter ones are not."""
    with running_simulator(pacing=False, bridge_warmup=2.5, state_dir=tmp_path / "sim") as sim:
        env = process_env(NOETL_IB_CREDENTIALS=str(sim.credentials_file), NOETL_IB_PACING="off",
                          NOETL_IB_CACHE_DIR=str(tmp_path / "cache"))
        proc = cli("run", "accounts", "--credential", "sim_oauth2", env=env)
    assert proc.returncode == 0, proc.stderr
    waits = _WAIT.findall(proc.stderr)
    assert waits and all(float(s) >= 1.0 for s, _ in waits)
    assert {what for _, what in waits} == {
        "IBKR's brokerage bridge to list the accounts (it warms up after ssodh/init)"}
    assert one_json(proc.stdout)["accounts"]
