"""Benchmark: real-session behaviour across processes (issue 12 evidence).

1. 8 processes sharing one token cache hammer snapshots and live orders for RUN seconds
   against a simulator enforcing IBKR's pacing (penalty box on): target 0 x 429, never boxed.
2. Two processes of one username with different cache dirs: the second kicks the first, which
   reports SessionTakenOver (target: 1 kick, typed error, no kicking back); with one shared
   cache dir: target 0 kicks.

`python bench/bench_sessions.py [seconds]` (default 30).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit, isolated_cache, simulator

RUN = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
PROCESSES = 8

HAMMER = """
import sys, time
from noetl_ib_plugin import IBClient, get_token_provider, load_credential
creds, start, run, kind = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
client = IBClient(get_token_provider(load_credential("sim_oauth2", creds)))
time.sleep(max(0.0, start - time.time()))
snaps = orders = errors = 0
while time.time() < start + run:
    try:
        if kind == "snapshots":
            client.get("/iserver/marketdata/snapshot",
                       params={"conids": "265598,8314", "fields": "31"})
            snaps += 1
        else:
            client.get("/iserver/account/orders")
            orders += 1
    except Exception as exc:
        errors += 1
        print(type(exc).__name__, exc, file=sys.stderr)
print(snaps, orders, errors, round(time.time() - start, 2))
"""

TWO = """
import sys, time
from pathlib import Path
from noetl_ib_plugin import IBClient, get_token_provider, load_credential
from noetl_ib_plugin.errors import SessionTakenOver
creds, gate, me = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
client = IBClient(get_token_provider(load_credential("sim_oauth2", creds)))
def wait(name):
    deadline = time.monotonic() + 120
    while not (gate / name).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
if me == "second":
    wait("first-open")
client.get("/iserver/secdef/search", params={"symbol": "AAPL"})
(gate / f"{me}-open").touch()
if me == "first":
    wait("second-open")
try:
    client.get("/iserver/secdef/search", params={"symbol": "IBM"})
    print("ok")
except SessionTakenOver:
    print("SessionTakenOver")
"""


def hammer() -> dict[str, object]:
    """Scenario 1."""
    with simulator() as sim, isolated_cache():
        start = time.time() + 3.0
        kinds = ["snapshots", "live_orders"] * (PROCESSES // 2)
        procs = [subprocess.Popen([sys.executable, "-c", HAMMER, str(sim.credentials_file),
                                   str(start), str(RUN), kind], stdout=subprocess.PIPE, text=True)
                 for kind in kinds]
        rows = [p.communicate()[0].split() for p in procs]
        stats = sim.stats()
    snaps = sum(int(r[0]) for r in rows)
    orders = sum(int(r[1]) for r in rows)
    elapsed = max(float(r[3]) for r in rows)
    snap_elapsed = max(float(r[3]) for r, k in zip(rows, kinds, strict=True) if k == "snapshots")
    return {
        "processes": f"{PROCESSES} ({PROCESSES // 2} snapshots, {PROCESSES // 2} live orders), "
        "one cache dir", "run_s": RUN, "elapsed_s": elapsed, "snapshots": snaps,
        "live_orders": orders, "errors": sum(int(r[2]) for r in rows),
        "snapshot_per_s": round(snaps / snap_elapsed, 2), "snapshot_limit_per_s": 10,
        "live_orders_limit": f"1 per 5 s (at most {int(elapsed // 5) + 1} in {elapsed:.0f} s)",
        "http_429": stats["rate_limited_responses"],
        "penalty_box_entries": stats["penalty_box_entries"],
        "target": "0 x 429, 0 penalty box entries, 0 errors",
    }


def two_clients(shared: bool) -> dict[str, object]:
    """Scenario 2, with separate or shared cache dirs."""
    with simulator() as sim, tempfile.TemporaryDirectory() as tmp:
        gate = Path(tmp) / "gate"
        gate.mkdir()
        procs = []
        for me in ("first", "second"):
            cache = Path(tmp) / ("shared" if shared else me)
            env = {**os.environ, "NOETL_IB_CACHE_DIR": str(cache)}
            procs.append(subprocess.Popen([sys.executable, "-c", TWO, str(sim.credentials_file),
                                           str(gate), me], stdout=subprocess.PIPE, text=True,
                                          env=env))
        outcome = {me: p.communicate()[0].strip() for me, p in zip(("first", "second"), procs, strict=True)}
        stats = sim.stats()
    return {"outcome": outcome, "sessions_kicked": stats["sessions_kicked"],
            "ssodh_init_requests": stats["ssodh_init_requests"],
            "target": "0 kicks" if shared else "1 kick, first reports SessionTakenOver"}


def main() -> None:
    """Run the scenarios and print one JSON object."""
    emit({"hammer": hammer(), "two_cache_dirs": two_clients(False),
          "shared_cache_dir": two_clients(True)})


if __name__ == "__main__":
    main()
