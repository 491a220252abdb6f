"""Simulator throughput: requests/s for one keep-alive client thread, bearer vs OAuth 1.0a HMAC.

The simulator runs in its own process (pacing off) so client and server do not share a GIL; one
`requests.Session` hammers an unpaced GET for a bounded time per auth scheme, its auth header
set by the plugin's providers (a few microseconds: the figure is the server's and the HTTP
stack's). Usage: python bench/bench_simulator_throughput.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import requests
from _common import emit, isolated_cache, simulator

PATH = "/iserver/accounts"


def _session(credentials_file: Path, name: str) -> tuple[requests.Session, str]:
    """A plain Session whose auth hook asks the credential's provider for each request's header."""
    from noetl_ib_plugin import get_token_provider, load_credential

    provider = get_token_provider(load_credential(name, credentials_file))
    http = requests.Session()

    def sign(r: requests.PreparedRequest) -> requests.PreparedRequest:
        assert r.method and r.url
        provider.authorize(r.method, r.url, r.headers)
        return r

    http.auth = sign
    base = provider.trading_base_url
    http.post(f"{base}/iserver/auth/ssodh/init", json={"publish": True, "compete": True}, timeout=10)
    return http, base + PATH


def measure(call: Callable[[], requests.Response], seconds: float) -> dict[str, float]:
    """Call repeatedly for `seconds`; every answer must be 200."""
    for _ in range(20):
        assert call().status_code == 200
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        resp = call()
        if resp.status_code != 200:
            raise SystemExit(f"unexpected {resp.status_code}: {resp.text}")
        count += 1
    elapsed = time.perf_counter() - start
    return {"requests": count, "seconds": round(elapsed, 3), "requests_per_s": round(count / elapsed, 1)}


def main() -> None:
    """Run both schemes and print one JSON object."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--strict", action="store_true", help="accepted for `make bench`; no targets")
    args = parser.parse_args()
    with simulator("--no-pacing") as sim, isolated_cache():
        bearer, bearer_url = _session(sim.credentials_file, "sim_oauth2")
        signed, signed_url = _session(sim.credentials_file, "sim_oauth1a")
        emit(
            {
                "endpoint": f"GET /v1/api{PATH}",
                "pacing": False,
                "oauth2_bearer": measure(lambda: bearer.get(bearer_url, timeout=10), args.seconds),
                "oauth1a_hmac": measure(lambda: signed.get(signed_url, timeout=10), args.seconds),
            }
        )


if __name__ == "__main__":
    main()
