"""Benchmark: a cold NoETL worker pool -- 3 hosts x 4 concurrent step processes -- against the simulator.

Every host has its own token cache directory; every step is a fresh `<python> <file>` process run
the way the NoETL worker runs `kind: python` (tests/e2e/worker.py), with a NoETL server stand-in
(tests/e2e/noetl_server.py) serving the credential and the keychain API. All processes import,
wait at a barrier, then call the plugin together. Per round the simulator counts token requests,
SSO sessions, `ssodh/init` calls and, when the simulator tracks them, brokerage-session kicks.
Target: 1, 1, 0 kicks. Two modes: `keychain` (the default inside a step: shared through NoETL)
and `file` (NOETL_IB_TOKEN_CACHE=file: each host alone, the behaviour before the keychain layer).

    .venv/bin/python bench/bench_worker_pool.py [--rounds 3] [--hosts 3] [--per-host 4]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import emit, simulator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.noetl_server import NoetlServer
from tests.e2e.worker_pool import figures, run_pool


def _round(mode: str, hosts: int, per_host: int) -> dict[str, Any]:
    """One cold pool against a fresh simulator and a fresh NoETL stand-in."""
    env = {"NOETL_IB_TOKEN_CACHE": "file"} if mode == "file" else {"NOETL_IB_TOKEN_CACHE": ""}
    env["NOETL_IB_CREDENTIALS"] = ""
    with simulator("--no-pacing") as sim, tempfile.TemporaryDirectory(prefix="nib-pool-") as work:
        records = json.loads(sim.credentials_file.read_text())["credentials"]
        record = next(r for r in records if r["name"] == "sim_oauth2")
        server = NoetlServer().start()
        try:
            server.register({**record, "name": "ib_oauth"})
            result = run_pool(hosts=hosts, per_host=per_host, work_dir=Path(work),
                              server_url=server.url, credential="ib_oauth", env=env)
            out = figures(sim.stats(), result, hosts * per_host)
            out["keychain_calls"] = {k: v for k, v in server.calls.items() if "keychain" in k}
            if out["steps_ok"] != hosts * per_host:
                out["first_failure"] = next(
                    (r.data or r.stderr[-300:]) for rs in result.runs.values() for r in rs
                    if not (isinstance(r.data, dict) and r.data.get("ok")))
            return out
        finally:
            server.stop()


def main() -> None:
    """Run the rounds for both modes and print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--per-host", type=int, default=4)
    opts = parser.parse_args()
    result: dict[str, Any] = {"hosts": opts.hosts, "per_host": opts.per_host,
                              "target": {"token_requests": 1, "ssodh_init_requests": 1, "kicks": 0}}
    for mode in ("keychain", "file"):
        rounds = [_round(mode, opts.hosts, opts.per_host) for _ in range(opts.rounds)]
        result[mode] = {
            "rounds": rounds,
            "token_requests_max": max(r["token_requests"] for r in rounds),
            "ssodh_init_requests_max": max(r["ssodh_init_requests"] for r in rounds),
        }
    emit(result)


if __name__ == "__main__":
    main()
