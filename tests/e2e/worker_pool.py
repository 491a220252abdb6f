"""A pool of NoETL worker hosts, all cold, running the same IBKR step at the same moment.

Each simulated host has its own token cache directory (its own disk); every step is a separate
`<python> <file>` process run through the worker harness, with the NoETL server stand-in as
`NOETL_SERVER_URL` and a `catalog_id` in `variables`, so the plugin shares through the keychain.
The processes import everything, then wait at a file barrier and start the action together: the
coldest start a pool can have. Used by tests/e2e/test_worker_pool.py and bench/bench_worker_pool.py.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .worker import WorkerRun, run_python_step

__all__ = ["POOL_STEP", "PoolResult", "figures", "run_pool"]

#: The step's code: imports first, then the barrier, then the plugin's main.
POOL_STEP = """\
import os
import time
from pathlib import Path

from noetl_ib_plugin.entry import main as ib_main


def main(barrier, **step_args):
    where = Path(barrier)
    (where / ("ready-" + str(os.getpid()))).touch()
    deadline = time.monotonic() + 300
    while not (where / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    return ib_main(**step_args)
"""


@dataclass
class PoolResult:
    """Every step's run, per host."""

    runs: dict[str, list[WorkerRun]]

    @property
    def ok(self) -> int:
        """Steps whose result says ok."""
        return sum(1 for rs in self.runs.values() for r in rs
                   if isinstance(r.data, dict) and r.data.get("ok") is True)


def run_pool(
    *,
    hosts: int,
    per_host: int,
    work_dir: Path,
    server_url: str,
    credential: str,
    action: str = "get_positions",
    catalog_id: int = 470000000000000001,
    env: dict[str, str] | None = None,
) -> PoolResult:
    """Run hosts x per_host steps at once (threads spawn the processes); returns their runs."""
    barrier = work_dir / "barrier"
    barrier.mkdir(parents=True)
    runs: dict[str, list[WorkerRun]] = {f"host{h}": [] for h in range(hosts)}
    lock = threading.Lock()

    def one(host: str, index: int) -> None:
        run = run_python_step(
            POOL_STEP,
            {"barrier": str(barrier), "action": action, "credential": credential},
            variables={"catalog_id": catalog_id},
            execution_id=str(480000000000000000 + index),
            step=f"{host}-step{index}",
            server_url=server_url,
            worker_env={"NOETL_SERVER_URL": server_url,
                        "NOETL_IB_CACHE_DIR": str(work_dir / host / "cache"), **(env or {})},
            timeout_seconds=600,
        )
        with lock:
            runs[host].append(run)

    threads = [threading.Thread(target=one, args=(host, i)) for host in runs for i in range(per_host)]
    for t in threads:
        t.start()
    total = hosts * per_host
    deadline = time.monotonic() + 600
    while len(list(barrier.glob("ready-*"))) < total and time.monotonic() < deadline:
        if not any(t.is_alive() for t in threads):
            break
        time.sleep(0.02)
    (barrier / "go").touch()
    for t in threads:
        t.join(timeout=900)
    return PoolResult(runs)


def figures(stats: dict[str, Any], result: PoolResult, steps: int) -> dict[str, Any]:
    """The numbers the issue asks for, from the simulator's counters (kicks when it counts them)."""
    out: dict[str, Any] = {
        "steps": steps,
        "steps_ok": result.ok,
        "token_requests": stats["oauth2_token_requests"],
        "sso_session_requests": stats["sso_session_requests"],
        "ssodh_init_requests": stats["ssodh_init_requests"],
    }
    for name in ("kicks", "sessions_kicked"):  # the simulator's name for it varies by version
        if name in stats:
            out["kicks"] = stats[name]
    return out
