"""Benchmark 2: client CPU per authenticated GET vs a bare `requests.Session` GET, same run.

The simulator runs in its own process with pacing off; this process measures its own CPU time
(`time.process_time`) per call for three variants, interleaved round by round so drift hits all
of them alike: a bare Session GET with a fixed Authorization header, IBClient with the OAuth 2.0
bearer, and IBClient with OAuth 1.0a per-request HMAC signing. Targets: <= 1.15x and <= 1.3x.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests
from _common import Target, emit, isolated_cache, median, simulator

ROUNDS, CALLS = 12, 250
PATH = "/iserver/accounts"


def _cpu_per_call(fn: Callable[[], object], calls: int) -> float:
    start = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - start) / calls


def main() -> None:
    """Interleave the three variants and report medians and ratios."""
    from noetl_ib_plugin import IBClient, get_token_provider, load_credential

    with simulator("--no-pacing") as sim, isolated_cache():
        oauth2 = IBClient(
            get_token_provider(load_credential("sim_oauth2", sim.credentials_file)), pacer=False
        )
        oauth1a = IBClient(
            get_token_provider(load_credential("sim_oauth1a", sim.credentials_file)), pacer=False
        )
        oauth2.get(PATH)  # token, brokerage session and connection pool are warm before timing
        oauth1a.get(PATH)
        bare = requests.Session()
        bare.headers["Authorization"] = f"Bearer {oauth2.provider.fetch_token()}"
        url = oauth2.api_base_url + PATH

        def bare_get() -> object:
            resp = bare.get(url, timeout=(5, 30))
            resp.raise_for_status()
            return resp.json()

        variants: dict[str, Callable[[], object]] = {
            "bare_requests": bare_get,
            "ibclient_oauth2_bearer": lambda: oauth2.get(PATH),
            "ibclient_oauth1a_hmac": lambda: oauth1a.get(PATH),
        }
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(ROUNDS):
            for name, fn in variants.items():
                samples[name].append(_cpu_per_call(fn, CALLS))
    us = {name: round(median(values) * 1e6, 1) for name, values in samples.items()}
    emit(
        {
            "calls_per_variant": ROUNDS * CALLS,
            "cpu_us_per_call": us,
            "ratio_oauth2_vs_bare": round(us["ibclient_oauth2_bearer"] / us["bare_requests"], 3),
            "ratio_oauth1a_vs_bare": round(us["ibclient_oauth1a_hmac"] / us["bare_requests"], 3),
            "target_oauth2": 1.15,
            "target_oauth1a": 1.3,
        },
        (
            Target("ratio_oauth2_vs_bare", "<=", 1.15, "client CPU per GET, bearer"),
            Target("ratio_oauth1a_vs_bare", "<=", 1.3, "client CPU per GET, HMAC signing"),
        ),
    )


if __name__ == "__main__":
    main()
