"""Benchmark 3: one `noetl-ib run get_positions` shell step vs a minimal `requests` script.

Both run as fresh processes (as NoETL's `kind: shell` steps do) against the same simulator with
a warm token cache; both fetch every positions page. Runs are interleaved; the wall-time ratio of
the medians is the figure (target <= 1.5x). Also reports `python -X importtime` for the package
and for the CLI's `run` path.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from _common import VENV_BIN, Target, emit, isolated_cache, median, simulator

RUNS = 25

MINIMAL = """
import os, requests
s = requests.Session()
s.headers["Authorization"] = "Bearer " + os.environ["BENCH_BEARER"]
base, acct = os.environ["BENCH_BASE"], os.environ["BENCH_ACCOUNT"]
page, rows = 0, []
while True:
    chunk = s.get(f"{base}/portfolio/{acct}/positions/{page}", timeout=(5, 30)).json()
    if not chunk:
        break
    rows.extend(chunk)
    page += 1
print(len(rows))
"""


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def _import_us(code: str) -> int:
    """Sum of top-level cumulative import times (microseconds) reported by -X importtime."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    ).stderr
    total = 0
    for line in out.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if m and not m.group(2).startswith(" "):
            total += int(m.group(1))
    return total


def main() -> None:
    """Warm the cache with one CLI run, then interleave the two commands."""
    import compileall

    import noetl_ib_plugin
    from noetl_ib_plugin import get_token_provider, load_credential

    # An installed package has its bytecode; make a source checkout match (this shell may set
    # PYTHONDONTWRITEBYTECODE, which would otherwise make every run recompile the package).
    compileall.compile_dir(os.path.dirname(noetl_ib_plugin.__file__), quiet=1)
    with simulator("--no-pacing") as sim, isolated_cache():
        env = dict(os.environ)
        cli = [
            str(VENV_BIN / "noetl-ib"),
            "run",
            "get_positions",
            "--credential",
            "sim_oauth1a" if "--oauth1a" in sys.argv else "sim_oauth2",
            "--credentials-file",
            str(sim.credentials_file),
        ]
        subprocess.run(cli, check=True, capture_output=True, env=env)  # warm token + session
        record = load_credential("sim_oauth2", sim.credentials_file)
        provider = get_token_provider(record)
        env_min = {
            **env,
            "BENCH_BEARER": provider.fetch_token(),
            "BENCH_BASE": provider.api_base_url,
            "BENCH_ACCOUNT": record.data.account_id or "",
        }
        minimal = [sys.executable, "-c", MINIMAL]
        subprocess.run(minimal, check=True, capture_output=True, env=env_min)
        cli_times, min_times = [], []
        for _ in range(RUNS):
            cli_times.append(_timed(cli, env))
            min_times.append(_timed(minimal, env_min))
        token_requests = sim.stats()["oauth2_token_requests"]
    cli_ms, min_ms = median(cli_times) * 1000, median(min_times) * 1000
    emit(
        {
            "runs": RUNS,
            "cli_run_get_positions_ms": round(cli_ms, 1),
            "minimal_requests_script_ms": round(min_ms, 1),
            "ratio": round(cli_ms / min_ms, 3),
            "target_ratio": 1.5,
            "token_requests_during_runs": token_requests,
            "import_us": {
                "noetl_ib_plugin": _import_us("import noetl_ib_plugin"),
                "noetl_ib_plugin.cli": _import_us("import noetl_ib_plugin.cli"),
                "requests": _import_us("import requests"),
            },
        },
        (
            Target("ratio", "<=", 1.5, "a warm CLI step vs a minimal requests script"),
            Target("token_requests_during_runs", "<=", 1, "steps share the cached token"),
        ),
    )


if __name__ == "__main__":
    main()
