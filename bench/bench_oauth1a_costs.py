"""OAuth 1.0a costs: LST round trip on the loopback simulator and per-request signing CPU (JSON out).

`sim_auth_failures` is expected to equal GET_RUNS: the reference "bare" GETs are sent unsigned
on purpose (to time an HTTP round trip without signing), so the simulator refuses each with 401
and counts it. `sim_auth_failures_unexpected` (the rest) must be 0: no signed request failed.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

import requests
from _common import Target, emit

from noetl_ib_plugin.auth import MemoryTokenCache
from noetl_ib_plugin.auth.oauth1a import LiveSessionTokenProvider
from noetl_ib_plugin.credentials.models import OAuth1aData
from noetl_ib_plugin.credentials.records import parse_record
from noetl_ib_plugin.simulator import Simulator

LST_RUNS = 20
SIGN_BATCHES = 41
SIGN_BATCH_SIZE = 2000
GET_RUNS = 300


def load_data(sim: Simulator) -> OAuth1aData:
    """The simulator's `sim_oauth1a` record."""
    records = json.loads(Path(sim.credentials_file).read_text())["credentials"]
    data = parse_record(next(r for r in records if r["name"] == "sim_oauth1a")).data
    assert isinstance(data, OAuth1aData)
    return data


def per_call_us(fn: Callable[[], object]) -> float:
    """Median over batches of the mean thread-CPU time per call, in microseconds."""
    samples = []
    for _ in range(SIGN_BATCHES):
        start = time.thread_time_ns()
        for _ in range(SIGN_BATCH_SIZE):
            fn()
        samples.append((time.thread_time_ns() - start) / SIGN_BATCH_SIZE / 1000)
    return statistics.median(samples)


def get_cpu_us(session: requests.Session, url: str, sign: Callable[[dict[str, str]], Any]) -> float:
    """Median client-thread CPU of one GET (the simulator's own thread is not counted)."""
    samples = []
    for _ in range(GET_RUNS):
        start = time.thread_time_ns()
        headers: dict[str, str] = {}
        sign(headers)
        session.get(url, headers=headers, timeout=10).close()
        samples.append((time.thread_time_ns() - start) / 1000)
    return statistics.median(samples)


def main() -> None:
    """Measure and print one JSON object."""
    with Simulator(pacing=False) as sim:
        data = load_data(sim)
        session = requests.Session()
        provider = LiveSessionTokenProvider(data, cache=MemoryTokenCache(), session=session)
        lst_ms = []
        for _ in range(LST_RUNS):
            provider.clear_cache()
            start = time.perf_counter()
            provider.current_token()
            lst_ms.append((time.perf_counter() - start) * 1000)

        url = f"{provider.trading_base_url}/iserver/accounts?x=1"
        headers: dict[str, str] = {}
        sign_us = per_call_us(lambda: provider.authorize("GET", url, headers))

        def bearer(h: MutableMapping[str, str]) -> str:
            """Reference: what a trivial `Authorization: Bearer` provider does per request."""
            value = provider.current_token().value
            h["Authorization"] = "Bearer " + value
            return value

        trivial_us = per_call_us(lambda: bearer(headers))

        init_headers: dict[str, str] = {}
        init_url = f"{provider.trading_base_url}/iserver/auth/ssodh/init"
        provider.authorize("POST", init_url, init_headers)
        session.post(init_url, headers=init_headers, json={"publish": True, "compete": True})
        bare = get_cpu_us(session, url, lambda h: None)
        signed = get_cpu_us(session, url, lambda h: provider.authorize("GET", url, h))
        stats = sim.stats()

    auth_failures = int(stats.get("auth_failures") or 0)
    emit(
        {
            "lst_obtain_ms_median": round(statistics.median(lst_ms), 2),
            "lst_obtain_ms_min": round(min(lst_ms), 2),
            "lst_runs": LST_RUNS,
            "authorize_us_median": round(sign_us, 2),
            "trivial_bearer_header_us_median": round(trivial_us, 2),
            "bare_get_client_cpu_us_median": round(bare, 1),
            "signed_get_client_cpu_us_median": round(signed, 1),
            "signed_to_bare_get_cpu_ratio": round(signed / bare, 3),
            "sim_lst_requests": stats.get("lst_requests"),
            "sim_auth_failures": auth_failures,
            "sim_auth_failures_expected": GET_RUNS,
            "sim_auth_failures_unexpected": auth_failures - GET_RUNS,
            "note": "the bare reference GETs are unsigned on purpose; the simulator answers each "
            "401 and counts it as an auth failure",
        },
        (
            Target("sim_auth_failures_unexpected", "==", 0, "no signed request was refused"),
            Target("sim_lst_requests", "==", LST_RUNS, "one LST per cleared cache, no retries"),
        ),
    )


if __name__ == "__main__":
    main()
