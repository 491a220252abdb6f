"""Benchmark 3: warm `noetl-ib run` shell steps vs the floor, a bare `requests` one-liner.

Every NoETL `kind: shell` step is a fresh process, so start-up is the product's speed. The floor
is `python -c "import requests; requests.get(URL).json()"` (one authenticated GET of the
positions page). Each step runs as its own process against the same simulator (pacing off) with
a warm token cache and client pacing off: read-only `get_positions`, `snapshot`,
`account_summary`, `get_open_orders` and trading `place_order`, `cancel_order` (orders placed
beforehand, one cancelled per run).

Each step runs twice per sample: in process (`NOETL_IB_WARM=off`, the path without a server:
interpreter, requests and pydantic imported by every step) and served by the warm step server
(`noetl-ib warm start` once per venv; the step's process only hands argv, cwd, environment and
stdio to a child forked from an interpreter that already imported everything: rows `warm_*`).

Three settings: this venv; `PYTHONDONTWRITEBYTECODE=1` (containers; bytecode must come from
`make setup`, not from the step); and a venv with ~1,000 installed distributions
(bench/_fatvenv.py, built offline). All commands run interleaved, sample by sample; a round's
figure is median(step) / median(floor) in the same setting; the report gives min/median/max of
the rounds. Targets (issue 16): read-only <= 1.0x, trading <= 1.3x (median of the rounds), judged
for both rows: the in-process rows miss them (pydantic alone costs ~0.6x the floor), the warm rows
are what a playbook that starts the server gets.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from _common import VENV_BIN, Target, emit, isolated_cache, median, simulator, timed_run
from _fatvenv import fat_venv

ROUNDS, SAMPLES = 3, 3
READ_ONLY = {
    "get_positions": [],
    "snapshot": ["conids=[265598]"],
    "account_summary": [],
    "get_open_orders": [],
}
TRADING = {
    "place_order": ["conid=265598", "side=BUY", "quantity=1", "order_type=LMT",
                    "limit_price=188"],
    "cancel_order": [],  # order_id=... added per run
}
FLOOR = ('import os, requests; requests.get(os.environ["BENCH_URL"], headers={"Authorization": '
         '"Bearer " + os.environ["BENCH_BEARER"]}, timeout=(5, 30)).json()')



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


def _console_script(bin_dir: Path) -> Path:
    """`noetl-ib` for another venv: this venv's console script with that venv's interpreter."""
    script = bin_dir / "noetl-ib"
    if not script.exists():
        text = (VENV_BIN / "noetl-ib").read_text().splitlines()
        script.write_text("\n".join([f"#!{bin_dir / 'python'}", *text[1:]]) + "\n")
        script.chmod(0o755)
    return script


def _warm_server(bin_dir: Path, env: dict[str, str], verb: str) -> dict[str, Any]:
    """`noetl-ib warm start|status|stop` for the venv of `bin_dir`."""
    import json

    args = ["warm", verb, *(["--idle", "1800"] if verb == "start" else [])]
    proc = subprocess.run([str(_console_script(bin_dir)), *args], capture_output=True, env=env,
                          check=True)
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def _place_orders(credentials_file: Path, count: int) -> list[str]:
    """Paper orders for `cancel_order` runs to cancel (one per run)."""
    from noetl_ib_plugin.runner import run_action

    args: dict[str, Any] = dict(arg.split("=", 1) for arg in TRADING["place_order"])
    return [str(run_action("place_order", "sim_oauth2", credentials_file=credentials_file,
                           **args)["order_id"]) for _ in range(count)]


def main() -> None:
    """Warm the cache, then interleave the floor and every step in every setting."""
    from noetl_ib_plugin import get_token_provider, load_credential

    with simulator("--no-pacing") as sim, isolated_cache(), fat_venv(1000) as fat_bin:
        # Client pacing off: IBKR's 1-per-5-s limit on /iserver/account/orders would make
        # back-to-back get_open_orders steps wait for the pacer, which is IBKR's rule, not
        # start-up (the simulator's pacing is off too, and the floor has none).
        base_env = {**os.environ, "NOETL_IB_PACING": "off"}
        record = load_credential("sim_oauth2", sim.credentials_file)
        provider = get_token_provider(record)
        creds = ["--credential", "sim_oauth2", "--credentials-file", str(sim.credentials_file)]
        subprocess.run([str(VENV_BIN / "noetl-ib"), "run", "get_positions", *creds], check=True,
                       capture_output=True, env=base_env)  # warm token + brokerage session
        account = record.data.account_id or "DU1234567"
        base_env["BENCH_BEARER"] = provider.fetch_token()
        base_env["BENCH_URL"] = f"{provider.trading_base_url}/portfolio/{account}/positions/0"
        settings = {
            "venv": (VENV_BIN, base_env),
            "no_pyc": (VENV_BIN, {**base_env, "PYTHONDONTWRITEBYTECODE": "1"}),
            "venv_1000_dists": (fat_bin, base_env),
        }
        steps = {**READ_ONLY, **TRADING}
        rows = [*steps, *(f"warm_{s}" for s in steps)]
        to_cancel = _place_orders(sim.credentials_file, 2 * ROUNDS * SAMPLES * len(settings) + 1)
        times: dict[str, dict[str, list[list[float]]]] = {
            s: {c: [[] for _ in range(ROUNDS)] for c in ("floor", *rows)} for s in settings}
        servers = {str(b): _warm_server(b, base_env, "start") for b in (VENV_BIN, fat_bin)}
        try:
            for rnd in range(ROUNDS):
                for _ in range(SAMPLES):
                    for name, (bin_dir, env) in settings.items():
                        python = str(bin_dir / "python")
                        times[name]["floor"][rnd].append(timed_run([python, "-c", FLOOR], env))
                        for step, args in steps.items():
                            for row, run_env in ((step, {**env, "NOETL_IB_WARM": "off"}),
                                                 (f"warm_{step}", env)):
                                words = ([f"order_id={to_cancel.pop()}"] if step == "cancel_order"
                                         else args)
                                cmd = [str(_console_script(bin_dir)), "run", step, *words, *creds]
                                times[name][row][rnd].append(timed_run(cmd, run_env))
            served = {b: _warm_server(Path(b), base_env, "status").get("jobs_done", 0) for b in servers}
        finally:
            for b in servers:
                _warm_server(Path(b), base_env, "stop")
        token_requests = sim.stats()["oauth2_token_requests"]
    result: dict[str, object] = {"rounds": ROUNDS, "samples_per_round": SAMPLES}
    targets: list[Target] = []
    for name, per in times.items():
        floor_ms = [median(r) * 1000 for r in per["floor"]]
        block: dict[str, object] = {"floor_ms_median_per_round": [round(v, 1) for v in floor_ms]}
        for step in rows:
            ratios = [median(r) * 1000 / f for r, f in zip(per[step], floor_ms, strict=True)]
            block[step] = {"ratio_min": round(min(ratios), 3),
                           "ratio_median": round(statistics.median(ratios), 3),
                           "ratio_max": round(max(ratios), 3),
                           "ms_median": round(statistics.median(
                               median(r) * 1000 for r in per[step]), 1)}
            limit = 1.0 if step.removeprefix("warm_") in READ_ONLY else 1.3
            how = "served by the warm step server" if step.startswith("warm_") else "in process"
            targets.append(Target(f"{name}.{step}.ratio_median", "<=", limit,
                                  f"{step.removeprefix('warm_')} step, {how}, vs the floor ({name})"))
        result[name] = block
    result["token_requests_during_runs"] = token_requests
    expected = ROUNDS * SAMPLES * len(steps)
    result["warm_jobs_served"] = {"venv_and_no_pyc": served[str(VENV_BIN)],
                                  "venv_1000_dists": served[str(fat_bin)],
                                  "expected": [2 * expected, expected]}
    result["import_us"] = {
        "noetl_ib_plugin": _import_us("import noetl_ib_plugin"),
        "noetl_ib_plugin.cli": _import_us("import noetl_ib_plugin.cli"),
        "noetl_ib_plugin.runner": _import_us("import noetl_ib_plugin.runner"),
        "requests": _import_us("import requests"),
        "pydantic.BaseModel": _import_us("from pydantic import BaseModel"),
    }
    result["python"] = sys.version.split()[0]
    result["cpus"] = os.cpu_count()
    result["load_avg_1min"] = round(os.getloadavg()[0], 2)
    targets.append(Target("token_requests_during_runs", "<=", 1, "steps share the cached token"))
    targets.append(Target("warm_jobs_served.venv_1000_dists", ">=", expected,
                          "every warm_* step of the fat venv was served by its server"))
    targets.append(Target("warm_jobs_served.venv_and_no_pyc", ">=", 2 * expected,
                          "every warm_* step of this venv was served by its server"))
    emit(result, targets)


if __name__ == "__main__":
    main()
