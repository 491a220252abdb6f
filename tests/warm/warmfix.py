"""Fixtures for the warm step server: a short private cache dir, a started server, and runners."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..cli.helpers import VENV_BIN, process_env

__all__ = ["NOETL_IB", "Warm", "pid_alive", "poll", "warm"]

NOETL_IB = str(VENV_BIN / "noetl-ib")


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
