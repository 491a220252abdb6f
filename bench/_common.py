"""Shared plumbing for the benchmarks: a simulator in its own process, stats, timing, verdicts.

Each benchmark declares its targets; `emit` prints the figures plus one verdict per target
(`value`, `target`, `met`) and, with `--strict` or NOETL_IB_BENCH_STRICT=1 (for CI), exits 1 when
a target is missed. Without it a miss is reported, not fatal, so `make bench` always shows every
figure.
"""

from __future__ import annotations

import json
import operator
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
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


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq,
}


@dataclass(frozen=True)
class Target:
    """One figure's target: `figure` is a dotted path into the result, e.g. "processes.errors"."""

    figure: str
    op: str
    value: float
    why: str = ""

    def judge(self, result: dict[str, Any]) -> dict[str, Any]:
        """The verdict for this target: the measured value, the target as text, met or not."""
        value: Any = result
        for part in self.figure.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        met = isinstance(value, (int, float)) and _OPS[self.op](value, self.value)
        verdict = {"figure": self.figure, "value": value, "target": f"{self.op} {self.value:g}",
                   "met": bool(met)}
        if self.why:
            verdict["why"] = self.why
        return verdict


def strict_mode() -> bool:
    """`--strict` on the command line or NOETL_IB_BENCH_STRICT=1: a missed target exits 1."""
    return "--strict" in sys.argv[1:] or os.environ.get("NOETL_IB_BENCH_STRICT") == "1"


def emit(result: dict[str, Any], targets: Sequence[Target] = ()) -> None:
    """Print one JSON object: the figures, a verdict per target, and whether all were met.

    Also prints one `MET`/`MISSED` line per target on stderr for a person reading `make bench`.
    """
    verdicts = [t.judge(result) for t in targets]
    out = dict(result)
    if verdicts:
        out["verdicts"] = verdicts
        out["all_targets_met"] = all(v["met"] for v in verdicts)
    print(json.dumps(out, indent=2, sort_keys=True))
    for v in verdicts:
        print(f"  {'MET   ' if v['met'] else 'MISSED'} {v['figure']} = {v['value']} "
              f"(target {v['target']})", file=sys.stderr)
    sys.stdout.flush()
    if verdicts and not out["all_targets_met"] and strict_mode():
        sys.exit(1)


def timed_run(cmd: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one command run to completion; a failing command ends the bench."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                          check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed: {proc.stderr.decode()[-400:]}")
    return elapsed
