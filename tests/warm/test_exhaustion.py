"""A server out of file descriptors refuses jobs and keeps serving; it never dies mid-step."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from .warmfix import NOETL_IB, Warm, pid_alive

PRLIMIT = shutil.which("prlimit")


@pytest.mark.skipif(PRLIMIT is None, reason="needs util-linux prlimit")
@pytest.mark.parametrize("nofile", [10, 11, 12])
def test_server_at_its_descriptor_limit_survives_a_job(warm: Warm, nofile: int) -> None:
    """`ulimit -n` so low that a job cannot get its descriptors: the step runs, the server lives."""
    limit = [str(PRLIMIT), f"--nofile={nofile}:{nofile}"]
    start = subprocess.run([*limit, NOETL_IB, "warm", "start", "--idle", "60"], env=warm.env,
                           capture_output=True, text=True, timeout=60, check=False)
    assert start.returncode == 0, start.stderr
    warm.pid = json.loads(start.stdout)["pid"]
    step = subprocess.run([*limit, NOETL_IB, "--version"], env=warm.env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert step.returncode == 0, step.stderr
    assert step.stdout.startswith("noetl-ib ")
    assert pid_alive(warm.pid), warm.log_text()
    status = warm.status()
    assert status["running"] is True and status["jobs_running"] == 0
