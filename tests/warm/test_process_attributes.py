"""A warm child has every per-process attribute its client has, or the step runs in process.

Issue 25 item 9: `prlimit --memlock`, `ionice` and the other limits and attributes. Resource
limits (all RLIMIT_*) and the umask are read from the kernel and applied; personality and timer
slack are carried over; scheduling and I/O priority must match (else in process); a working
directory the child could not enter runs in process, as the step would alone.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .test_server import ORDER, HoldingServer, holding
from .warmfix import NOETL_IB, Warm, poll

__all__ = ["holding"]

SETPRIV = shutil.which("setpriv")
NEEDS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="reads another process's /proc as root")
WRAPPERS = {
    "memlock": ["prlimit", "--memlock=65536:65536"],
    "locks": ["prlimit", "--locks=100:200"],
    "sigpending": ["prlimit", "--sigpending=1000:1000"],
    "msgqueue": ["prlimit", "--msgqueue=4096:8192"],
    "rttime": ["prlimit", "--rttime=1000000:2000000"],
    "rss": ["prlimit", "--rss=100000000:100000000"],
    "nproc": ["prlimit", "--nproc=5000:5000"],
    "cpu": ["prlimit", "--cpu=600:900"],
    "core": ["prlimit", "--core=0:0"],
    "stack": ["prlimit", "--stack=4194304:8388608"],
    "personality": ["setarch", platform.machine(), "--addr-no-randomize"],
    "umask": ["/bin/sh", "-c", 'umask 027 && exec "$0" "$@"'],
}


@pytest.fixture
def held_child(warm: Warm, holding: HoldingServer) -> Iterator[Any]:
    """Run a place_order under a wrapper; yield (client pid, child pid) while the child waits."""
    warm.start()
    procs: list[subprocess.Popen[bytes]] = []

    def run(wrapper: list[str]) -> tuple[int, int]:
        if shutil.which(wrapper[0]) is None:
            pytest.skip(f"needs {wrapper[0]}")
        client = subprocess.Popen([*wrapper, NOETL_IB, *ORDER], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL,
                                  env={**warm.env, "NOETL_SERVER_URL": holding.url})
        procs.append(client)
        assert holding.accepted.wait(60), "the child never asked for the credential"
        child = int(poll(lambda: re.findall(r"job (\d+) started", warm.log_text()), what="job")[-1])
        return client.pid, child

    try:
        yield run
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=60)


def _proc(pid: int, name: str) -> str:
    return Path(f"/proc/{pid}/{name}").read_text()


@NEEDS_ROOT
@pytest.mark.parametrize("what", sorted(WRAPPERS))
def test_child_has_the_clients_limits_umask_and_personality(held_child: Any, what: str) -> None:
    """Under prlimit, setarch or umask the served child's limits, umask, personality equal its client's."""
    client, child = held_child(WRAPPERS[what])
    assert _proc(child, "limits") == _proc(client, "limits")
    assert _proc(child, "personality") == _proc(client, "personality")
    umask = [line for line in _proc(client, "status").splitlines() if line.startswith("Umask:")]
    assert umask and umask[0] in _proc(child, "status").splitlines()
    assert _proc(child, "timerslack_ns") == _proc(client, "timerslack_ns")
    if what == "umask":
        assert umask == ["Umask:\t0027"]


@pytest.mark.parametrize("wrapper", [["ionice", "-c", "3"], ["ionice", "-c", "2", "-n", "7"],
                                     ["nice", "-n", "3"], ["taskset", "-c", "0"]], ids=" ".join)
def test_other_io_priority_or_scheduling_runs_in_process(warm: Warm, wrapper: list[str]) -> None:
    """`ionice`, `nice`, `taskset` in the step: the client runs in process and sends nothing."""
    if shutil.which(wrapper[0]) is None:
        pytest.skip(f"needs {wrapper[0]}")
    if wrapper[0] == "taskset" and len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU: taskset -c 0 changes nothing")
    warm.start()
    proc = subprocess.run([*wrapper, NOETL_IB, "-v", "--version"], capture_output=True, text=True,
                          env=warm.env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "differ from this process's" in proc.stderr
    assert warm.status()["jobs_done"] == 0


@pytest.mark.skipif(SETPRIV is None or os.geteuid() != 0, reason="needs root and setpriv")
def test_unsearchable_cwd_runs_in_process_with_the_same_result(warm: Warm) -> None:
    """A cwd the step cannot search gives the in-process exit 2 and error, not a silent exit 1."""
    no_caps = [str(SETPRIV), "--bounding-set=-all", "--inh-caps=-all"]
    start = subprocess.run([*no_caps, NOETL_IB, "warm", "start"], capture_output=True, text=True,
                           env=warm.env, timeout=60, check=False)
    assert start.returncode == 0, start.stderr
    warm.pid = int(start.stdout.split('"pid":')[1].split(",")[0])
    cwd = Path(tempfile.mkdtemp(prefix="nibcwd", dir="/tmp"))
    args = [*no_caps, NOETL_IB, "run", "get_positions", "--credential", "x"]
    try:
        os.chmod(cwd, 0)
        served = subprocess.run(args, capture_output=True, text=True, env=warm.env, cwd=cwd,
                                timeout=60, check=False)
        alone = subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=60,
                               env={**warm.env, "NOETL_IB_WARM": "off"}, check=False)
    finally:
        os.chmod(cwd, 0o700)
        cwd.rmdir()
    assert alone.returncode == 2 and '"field":"credential"' in alone.stderr
    assert (served.returncode, served.stdout, served.stderr) == (alone.returncode, alone.stdout,
                                                                alone.stderr)
    assert warm.status()["jobs_done"] == 0


def test_child_that_cannot_enter_the_cwd_says_so_with_exit_2(tmp_path: Path) -> None:
    """A child that cannot chdir prints a typed JSON error naming the field cwd and exits 2."""
    import json

    from noetl_ib_plugin.cli.warm.child import CwdUnusable, become_client
    from noetl_ib_plugin.cli.warm.server import _cwd_error

    gone = str(tmp_path / "gone")
    with pytest.raises(CwdUnusable) as info:
        become_client({"cwd": gone, "env": {}}, "utf-8", [])
    read, write = os.pipe()
    saved = os.dup(2)
    try:
        os.dup2(write, 2)
        code = _cwd_error(gone, info.value)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(write)
    with os.fdopen(read) as fh:
        error = json.loads(fh.read())["error"]
    assert code == 2
    assert (error["field"], error["category"]) == ("cwd", "input")
    assert gone in error["message"] and error["fix"]
