"""Shared plumbing for the benchmarks: a simulator in its own process, stats, timing helpers."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

VENV_BIN = Path(sys.executable).parent


@dataclass
class SimProcess:
    """A simulator running in a separate process so it does not share the client's GIL."""

    url: str
    credentials_file: Path
    proc: subprocess.Popen[str]

    def stats(self) -> dict[str, Any]:
        """The simulator's counters."""
        body: dict[str, Any] = requests.get(f"{self.url}/__sim/stats", timeout=10).json()
        return body

    def admin(self, path: str, payload: dict[str, Any]) -> None:
        """POST to an admin endpoint (faults, reset, price)."""
        requests.post(f"{self.url}/__sim/{path}", json=payload, timeout=10).raise_for_status()


@contextmanager
def simulator(*args: str) -> Iterator[SimProcess]:
    """Start `python -m noetl_ib_plugin.simulator ARGS`, wait for its JSON line, stop it after."""
    with tempfile.TemporaryDirectory(prefix="nib-bench-") as state:
        proc = subprocess.Popen(
            [sys.executable, "-m", "noetl_ib_plugin.simulator", "--port", "0", "--state-dir", state, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert proc.stdout is not None
            ready = json.loads(proc.stdout.readline())
            yield SimProcess(ready["url"], Path(ready["credentials_file"]), proc)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def isolated_cache() -> Iterator[Path]:
    """A fresh token cache directory, exported so child processes share it."""
    with tempfile.TemporaryDirectory(prefix="nib-cache-") as cache:
        old = os.environ.get("NOETL_IB_CACHE_DIR")
        os.environ["NOETL_IB_CACHE_DIR"] = cache
        try:
            yield Path(cache)
        finally:
            if old is None:
                os.environ.pop("NOETL_IB_CACHE_DIR", None)
            else:
                os.environ["NOETL_IB_CACHE_DIR"] = old


def median(values: Sequence[float]) -> float:
    """Median, as a plain float."""
    return float(statistics.median(values))


def emit(result: dict[str, Any]) -> None:
    """Every benchmark prints exactly one JSON object."""
    print(json.dumps(result, indent=2, sort_keys=True))
