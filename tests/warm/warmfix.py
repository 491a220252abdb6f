"""Fixtures for the warm step server: a short private cache dir, a started server, and runners."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..cli.helpers import VENV_BIN, process_env

__all__ = ["NOETL_IB", "Warm", "pid_alive", "poll", "rogue_receives", "warm"]

NOETL_IB = str(VENV_BIN / "noetl-ib")

#: A hostile same-user process: unlinks the socket (argv[1]), binds its own, sends a fake "ok"
#: and "placed" exit, then prints what it received (bytes, fds, whether argv[2] was in them).
_ROGUE_SERVER = r"""
import array, json, os, socket, struct, sys
path = sys.argv[1]
os.unlink(path)  # the warm directory is this uid's: no capability needed
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path); s.listen(1)
print("listening", flush=True)
conn, _ = s.accept()
conn.settimeout(20)
def frame(m):
    body = json.dumps(m).encode()
    return struct.pack("!I", len(body)) + body
try:  # a fake acceptance and a fake "placed" exit, before the client says anything
    conn.sendall(frame({"t": "ok"}) + frame({"t": "exit", "code": 0}))
except OSError:
    pass
got, fds = b"", 0
while True:
    try:
        data, anc, _, _ = conn.recvmsg(65536, socket.CMSG_LEN(16 * 4))
    except OSError:
        break
    for level, kind, blob in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds += len(blob) // 4
    if not data:
        break
    got += data
print(json.dumps({"bytes": len(got), "fds": fds, "canary": sys.argv[2].encode() in got}), flush=True)
"""


def rogue_receives(warm: Warm, prefix: list[str], canary: str
                   ) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    """Start the server, let `prefix + python` rebind its socket, run a step with `canary` as
    OAUTH_ACCESS_TOKEN_SECRET: (what the rogue received, the step). The server is then ended."""
    warm.start()
    sock = next(warm.sock_dir.glob("*.sock"))
    rogue = subprocess.Popen([*prefix, sys.executable, "-c", _ROGUE_SERVER, str(sock), canary],
                             stdout=subprocess.PIPE, text=True, env={"PATH": os.environ["PATH"]})
    try:
        assert rogue.stdout is not None
        assert rogue.stdout.readline().strip() == "listening"
        client = warm.run("-v", "run", "get_positions", "--credential", "no_such_record",
                          OAUTH_ACCESS_TOKEN_SECRET=canary)
        received: dict[str, Any] = json.loads(rogue.stdout.readline())
    finally:
        rogue.kill()
        rogue.wait(timeout=30)
    assert pid_alive(warm.pid)
    os.kill(warm.pid, signal.SIGTERM)  # its socket is gone; the fixture cannot stop it by name
    return received, client


def poll(check: Any, timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll `check()` until it is truthy (no sleep stands in for synchronisation)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return False


@dataclass
class Warm:
    """A warm server for one test: its environment, socket and the console script runner."""

    cache: Path
    pid: int = 0

    @property
    def env(self) -> dict[str, str]:
        """The test's environment now (the simulator fixture may have set variables since)."""
        return process_env(NOETL_IB_CACHE_DIR=str(self.cache))

    def run(self, *args: str, timeout: float = 60, **extra: str) -> subprocess.CompletedProcess[str]:
        """`noetl-ib ARGS` as a shell step runs it (the console script: tries the server first)."""
        return subprocess.run([NOETL_IB, *args], capture_output=True, text=True,
                              env={**self.env, **extra}, timeout=timeout, check=False)

    def start(self, idle: float = 120) -> dict[str, Any]:
        """`noetl-ib warm start` and its JSON answer."""
        proc = self.run("warm", "start", "--idle", str(idle))
        assert proc.returncode == 0, proc.stderr
        out: dict[str, Any] = json.loads(proc.stdout)
        self.pid = int(out["pid"])
        return out

    def status(self) -> dict[str, Any]:
        """`noetl-ib warm status` as a dict."""
        proc = self.run("warm", "status")
        assert proc.returncode == 0, proc.stderr
        out: dict[str, Any] = json.loads(proc.stdout)
        return out

    @property
    def sock_dir(self) -> Path:
        """`<cache>/warm`."""
        return self.cache / "warm"

    def log_text(self) -> str:
        """Everything the server logged."""
        return "".join(p.read_text() for p in self.sock_dir.glob("*.log"))


@pytest.fixture
def warm() -> Iterator[Warm]:
    """A short private cache dir (AF_UNIX paths are short) and a server stopped after the test."""
    cache = Path(tempfile.mkdtemp(prefix="nibw", dir="/tmp"))
    w = Warm(cache=cache)
    try:
        yield w
    finally:
        w.run("warm", "stop", timeout=30)
        if w.pid and pid_alive(w.pid):
            os.kill(w.pid, signal.SIGKILL)
        shutil.rmtree(cache, ignore_errors=True)
