"""Benchmark 1: token requests per token lifetime, for 16 threads and for 8 processes.

16 threads x 500 authenticated GETs spread over RUN seconds against a simulator whose tokens live
TTL seconds (so they expire 3 times during the run): the simulator counts token requests, the
target is one per lifetime (4 with the first). Then the same load from 8 processes started
together, sharing the file cache, and 8 `noetl-ib` CLI processes started together on a cold
cache (target: 1 token request).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from _common import VENV_BIN, Target, emit, isolated_cache, simulator

TTL = 10.0  # JWT exp is whole seconds, so a bearer lives 9-10 s; refreshed at 90 % of that
RUN = 31.0  # fetches near 0, 9, 18 and 27 s: 4 in all
THREADS, PER_THREAD = 16, 500
PROCESSES, PER_PROCESS = 8, 1000

WORKER = """
import sys, time, threading
from noetl_ib_plugin import load_credential, get_token_provider, IBClient
creds, start, run = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
count, threads = int(sys.argv[4]), int(sys.argv[5])
client = IBClient(get_token_provider(load_credential("sim_oauth2", creds)), pacer=False)
errors = []
def work():
    for i in range(count):
        time.sleep(max(0.0, start + run * i / count - time.time()))
        try:
            client.get("/iserver/accounts")
        except Exception as exc:
            errors.append(type(exc).__name__)
ts = [threading.Thread(target=work) for _ in range(threads)]
[t.start() for t in ts]
[t.join() for t in ts]
print(len(errors))
"""


def _run_workers(creds: Path, processes: int, threads: int, per_thread: int) -> tuple[float, int]:
    start = time.time() + 2.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(creds), str(start), str(RUN), str(per_thread), str(threads)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    errors = sum(int(p.communicate()[0].strip() or 0) for p in procs)
    return time.time() - start, errors


def main() -> None:
    """Run the three scenarios against one simulator process and print the counts."""
    result: dict[str, object] = {"token_ttl_s": TTL, "run_s": RUN, "target_token_requests": 4}
    with simulator("--no-pacing", "--token-ttl", str(TTL)) as sim:
        for label, processes, threads, per_worker in (
            ("threads", 1, THREADS, PER_THREAD),
            ("processes", PROCESSES, 1, PER_PROCESS),
        ):
            with isolated_cache():
                before = sim.stats()["oauth2_token_requests"]
                elapsed, errors = _run_workers(sim.credentials_file, processes, threads, per_worker)
                result[label] = {
                    "processes": processes,
                    "threads": threads,
                    "requests": processes * threads * per_worker,
                    "elapsed_s": round(elapsed, 2),
                    "errors": errors,
                    "token_requests": sim.stats()["oauth2_token_requests"] - before,
                }
    with simulator("--no-pacing") as sim, isolated_cache():
        before = sim.stats()["oauth2_token_requests"]
        cli = str(VENV_BIN / "noetl-ib")
        procs = [
            subprocess.Popen(
                [
                    cli,
                    "run",
                    "get_positions",
                    "--credential",
                    "sim_oauth2",
                    "--credentials-file",
                    str(sim.credentials_file),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(PROCESSES)
        ]
        codes = [p.wait() for p in procs]
        result["cli_cold_start"] = {
            "processes": PROCESSES,
            "exit_codes": codes,
            "token_requests": sim.stats()["oauth2_token_requests"] - before,
            "target_token_requests": 1,
        }
    emit(
        result,
        (
            Target("threads.token_requests", "<=", 4, "one per token lifetime (3 expiries)"),
            Target("threads.errors", "==", 0),
            Target("processes.token_requests", "<=", 4, "processes share the file cache"),
            Target("processes.errors", "==", 0),
            Target("cli_cold_start.token_requests", "==", 1, "single-flight across processes"),
        ),
    )


if __name__ == "__main__":
    main()
