"""Benchmark: client cost per item stays linear to 30,000 positions and 250 snapshot conids.

The simulator runs in its own process (pacing off) with N synthetic positions on the OAuth 1.0a
account (`--bulk-positions N`); this process measures its own CPU time (`time.process_time`,
so the simulator's work is not counted) for `get_positions` over every page, at N = 1,000,
10,000 and 30,000, and for a warm `snapshot` of 25, 100 and 250 conids (250 as three calls:
the action takes at most 100). Figures: µs per position and per conid. Targets: the largest
size costs at most 1.5x per item what the smallest does (no per-item work that grows with N).
"""

from __future__ import annotations

import time
from typing import Any

from _common import Target, emit, isolated_cache, simulator

POSITIONS = (1_000, 10_000, 30_000)
CONIDS = (25, 100, 250)
FIRST_BULK_CONID = 900001


def _cpu(fn: Any) -> tuple[float, Any]:
    start = time.process_time()
    value = fn()
    return time.process_time() - start, value


def _snapshot_cpu(creds: dict[str, Any], n: int) -> float:
    """Best of 3 CPU seconds to quote `n` bulk conids, in calls of at most 100 (the input cap)."""
    from noetl_ib_plugin.runner import run_action

    conids = list(range(FIRST_BULK_CONID, FIRST_BULK_CONID + n))
    calls: list[dict[str, Any]] = [{"conids": conids[i:i + 100], "poll_interval": 0.05}
                                   for i in range(0, n, 100)]

    def quote_all() -> None:
        for args in calls:
            out = run_action("snapshot", "sim_oauth1a", **creds, **args)
            assert len(out["snapshots"]) == len(args["conids"]), out["errors"][:1]

    quote_all()  # subscribe: IBKR answers a first snapshot before its fields arrive
    return min(_cpu(quote_all)[0] for _ in range(3))


def main() -> None:
    """One simulator per position count; snapshots against the largest."""
    from noetl_ib_plugin.runner import reset_default_host, run_action

    per_position: dict[str, float] = {}
    per_conid: dict[str, float] = {}
    for count in POSITIONS:
        with simulator("--no-pacing", "--bulk-positions", str(count)) as sim, isolated_cache():
            creds: dict[str, Any] = {"credentials_file": sim.credentials_file}
            run_action("get_positions", "sim_oauth1a", **creds)  # token, session, pool warm
            best = float("inf")
            for _ in range(3):
                cpu, result = _cpu(lambda c=creds: run_action("get_positions", "sim_oauth1a", **c))
                best = min(best, cpu)
            rows = len(result["positions"])
            per_position[str(count)] = round(best / rows * 1e6, 2)
            if count == POSITIONS[-1]:
                for n in CONIDS:
                    per_conid[str(n)] = round(_snapshot_cpu(creds, n) / n * 1e6, 2)
            reset_default_host()
    result_out = {
        "us_per_position": per_position,
        "us_per_conid": per_conid,
        "position_growth": round(per_position[str(POSITIONS[-1])]
                                 / per_position[str(POSITIONS[0])], 3),
        "conid_growth": round(per_conid[str(CONIDS[-1])] / per_conid[str(CONIDS[0])], 3),
    }
    emit(result_out, (
        Target("position_growth", "<=", 1.5, "µs per position, 30k vs 1k positions"),
        Target("conid_growth", "<=", 1.5, "µs per conid, 250 vs 25 conids"),
    ))


if __name__ == "__main__":
    main()
