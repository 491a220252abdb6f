"""Benchmark 4: 100 snapshot requests as fast as the client allows, against enforced pacing.

The simulator enforces IBKR's limits (snapshot 10/s, 50/s global); the client paces itself.
Reports the steady rate against the 10/s limit, the most requests in any 1 s window, and the
simulator's 429 count (targets: steady rate >= 95 % of the limit, never more than 10 in a 1 s
window, zero 429s).

Why not the average over the whole run: IBKR's limit is "10 per second", which the pacer
enforces as a sliding window (at most 10 sends in any 1 s). Ten requests go out back to back,
the eleventh waits until the first is 1 s old, and so on: 100 requests are 10 bursts whose
starts span only 9 s. Averaged from the first request, 99 gaps over ~9.3 s read as 10.7/s
("107.7 % of the limit") although no 1 s window ever held more than 10: a fencepost effect,
not a broken limit. The steady rate counts from the end of the first window, what the limit
bounds, and `max_in_any_1s_window` checks the limit itself.
"""

from __future__ import annotations

import time

from _common import Target, emit, isolated_cache, simulator

COUNT = 100
LIMIT_PER_S = 10.0
BURST = int(LIMIT_PER_S)  # sends the window admits back to back
TARGETS = (
    Target("steady_percent_of_limit", ">=", 95, "the client uses the limit, not a fraction"),
    Target("max_in_any_1s_window", "<=", LIMIT_PER_S, "the limit is never broken"),
    Target("http_429", "==", 0, "IBKR never has to refuse a request"),
)


def max_in_window(stamps: list[float], window: float = 1.0) -> int:
    """The most stamps in any half-open interval [t, t + window)."""
    best, start = 0, 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


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
        steady = (COUNT - BURST) / (stamps[-1] - stamps[BURST - 1])
        emit(
            {
                "snapshots": COUNT,
                "average_per_s_including_initial_burst": round(rate, 2),
                "steady_per_s": round(steady, 2),
                "limit_per_s": LIMIT_PER_S,
                "steady_percent_of_limit": round(100 * steady / LIMIT_PER_S, 1),
                "max_in_any_1s_window": max_in_window(stamps),
                "http_429": sim.stats()["rate_limited_responses"] - before,
                "note": "the average counts 100 requests over ~9 s (10 windows, 9 gaps between "
                "their starts), so it exceeds 10/s without any 1 s window holding more than 10",
            },
            TARGETS,
        )


if __name__ == "__main__":
    main()
