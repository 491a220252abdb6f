"""Benchmark 4: 100 snapshot requests as fast as the client allows, against enforced pacing.

The simulator enforces IBKR's limits (snapshot 10/s, 50/s global); the client paces itself.
Reports the achieved rate against the 10/s limit and the simulator's 429 count (targets:
>= 95 % of the limit, zero 429s).
"""

from __future__ import annotations

import time

from _common import emit, isolated_cache, simulator

COUNT = 100
LIMIT_PER_S = 10.0


def main() -> None:
    """Fire the burst through the client's shared pacer and read the simulator's counters."""
    from noetl_ib_plugin import IBClient, get_token_provider, load_credential

    with simulator() as sim, isolated_cache():
        client = IBClient(get_token_provider(load_credential("sim_oauth2", sim.credentials_file)))
        client.get("/iserver/accounts")
        before = sim.stats()["rate_limited_responses"]
        stamps = []
        for i in range(COUNT):
            client.get("/iserver/marketdata/snapshot", params={"conids": "265598", "fields": "31,84,86"})
            stamps.append(time.monotonic())
            if i == 0:
                first = stamps[0]
        rate = (COUNT - 1) / (stamps[-1] - first)
        emit(
            {
                "snapshots": COUNT,
                "achieved_per_s": round(rate, 2),
                "limit_per_s": LIMIT_PER_S,
                "percent_of_limit": round(100 * rate / LIMIT_PER_S, 1),
                "http_429": sim.stats()["rate_limited_responses"] - before,
                "target": ">= 95 % of the limit, 0 x 429",
            }
        )


if __name__ == "__main__":
    main()
