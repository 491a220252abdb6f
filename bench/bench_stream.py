"""Streaming (issue 21): our stream beside ibind 0.2.2's IbkrWsClient on one simulator, plus the
stream's memory, reconnect and order-resync figures.

One simulator process (`--ws-walk`: every market data message moves the price; quotes every
0.5 ms: 2,000 messages/s) serves every run; it is reset between runs and each client runs in
a process of its own (workers `_our_stream_worker.py`, `_ibind_stream_worker.py`), so the CPU
time measured is the client's alone.

1. CPU per message: ours (a TradingStream quote callback: the default dispatch, on the reader
   thread until a callback outruns StreamSettings.callback_budget, then dispatch="inline") and
   ibind's (a MarketData callback, synchronous) take turns (`--rounds`),
   SECONDS each (default 60, the issue's); a message is one the socket delivered (ours counts
   `1 + merged` per event). Each mode's ratio is judged on its worst round. Also the
   simulator's sends in the window (achieved rate).
2. p99 latency, the simulator's `_updated` stamp (ms, taken just before the send) to our
   callback, same clock; worst of our runs.
3. Resident memory while the consumer does not read for `--pause` s (30), quotes conflating,
   orders placed meanwhile all delivered afterwards.
4. Reconnect + re-subscribe after a dropped socket (`ws_drop`), default StreamSettings, quotes
   and orders subscribed: worst of `--drops` (4) drops 5.5 s apart, from the client seeing the
   drop to the first quote of the new socket (the orders resync included).
5. Order updates across `--reconnects` (100) forced reconnects during `--orders` (250) orders
   placed and cancelled (500 changes): orders whose merged state differs from the simulator's
   book. Client pacing off (NOETL_IB_PACING=off) for this one: each resync's live-orders read
   would otherwise wait for IBKR's 1-per-5-s limit (over 8 minutes in all).

    .venv/bin/python bench/bench_stream.py [SECONDS] [--rounds 2] [--pause 30] [--strict]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import SimProcess, Target, emit, simulator

HERE = Path(__file__).parent
IBIND = Path(sys.prefix) / "ibind" / "bin" / "python"
SIM_ARGS = ("--no-pacing", "--ws-walk", "--ws-quote-interval", "0.0005", "--bridge-warmup", "0")


def _worker(python: str, script: str, sim: SimProcess, cfg: dict[str, Any],
            timeout: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one measurement in its own process (fresh token cache) on a reset simulator."""
    sim.admin("reset", {})
    with tempfile.TemporaryDirectory(prefix="nib-bench-cache-") as cache:
        env = {**os.environ, **(env or {}), "NOETL_IB_CACHE_DIR": cache}
        run = subprocess.run([python, str(HERE / script),
                              json.dumps({"credentials_file": str(sim.credentials_file), **cfg})],
                             capture_output=True, text=True, timeout=timeout, check=False, env=env)
    if run.returncode != 0:
        raise SystemExit(f"{script} {cfg.get('mode', 'cpu')} failed: {run.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    if "cpu_s" in report:
        report["cpu_per_message_us"] = (1e6 * report["cpu_s"] / report["messages"]
                                        if report["messages"] else None)
    return report


def _cpu_rounds(sim: SimProcess, seconds: float, rounds: int) -> dict[str, Any]:
    """A/B/A/B: our client and ibind's, in turn, on the same simulator."""
    runs: list[dict[str, Any]] = []
    for n in range(rounds):
        ours = _worker(sys.executable, "_our_stream_worker.py", sim,
                       {"mode": "cpu", "seconds": seconds}, seconds + 120)
        inline = _worker(sys.executable, "_our_stream_worker.py", sim,
                         {"mode": "cpu", "seconds": seconds, "dispatch": "inline"}, seconds + 120)
        theirs = (_worker(str(IBIND), "_ibind_stream_worker.py", sim, {"seconds": seconds},
                          seconds + 120) if IBIND.exists() else None)
        ratio, inline_ratio = _ratio(ours, theirs), _ratio(inline, theirs)
        runs.append({"round": n + 1, "ours": ours, "ours_inline": inline, "ibind": theirs,
                     "cpu_ratio": ratio, "inline_cpu_ratio": inline_ratio})
        print(f"  round {n + 1}: ours {ours['cpu_per_message_us']:.1f} µs/msg at "
              f"{ours['rate_msg_s']:.0f} msg/s (inline dispatch "
              f"{inline['cpu_per_message_us']:.1f}), ibind "
              f"{theirs['cpu_per_message_us'] if theirs else float('nan'):.1f} µs/msg, "
              f"ratio {ratio if ratio is not None else float('nan'):.2f} (inline "
              f"{inline_ratio if inline_ratio is not None else float('nan'):.2f})",
              file=sys.stderr)
    ratios = [r["cpu_ratio"] for r in runs]
    inline_ratios = [r["inline_cpu_ratio"] for r in runs]
    p99s = [r[k]["p99_ms"] for r in runs for k in ("ours", "ours_inline")]
    rates = [r[k]["sim_sent"] / r[k]["seconds"] for r in runs for k in ("ours", "ours_inline")]
    rates += [r["ibind"]["sim_sent"] / r["ibind"]["seconds"] for r in runs if r["ibind"]]
    return {
        "runs": runs,
        "cpu_ratio_worst": max(ratios) if None not in ratios else None,
        "cpu_ratios": ratios,
        "inline_cpu_ratio_worst": max(inline_ratios) if None not in inline_ratios else None,
        "inline_cpu_ratios": inline_ratios,
        "p99_ms_worst": max(p99s) if None not in p99s else None,
        "sim_rate_min_msg_s": min(rates),
    }


def _ratio(ours: dict[str, Any], theirs: dict[str, Any] | None) -> float | None:
    """Our CPU per message over ibind's (None without both)."""
    if theirs and ours["cpu_per_message_us"] and theirs["cpu_per_message_us"]:
        return float(ours["cpu_per_message_us"] / theirs["cpu_per_message_us"])
    return None


def main() -> None:
    """Every figure on one simulator; verdicts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("seconds", nargs="?", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pause", type=float, default=30.0)
    parser.add_argument("--drops", type=int, default=4)
    parser.add_argument("--reconnects", type=int, default=100)
    parser.add_argument("--orders", type=int, default=250)
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()
    with simulator(*SIM_ARGS) as sim:
        result: dict[str, Any] = {"seconds": args.seconds,
                                  "cpu": _cpu_rounds(sim, args.seconds, args.rounds)}
        result["pause"] = _worker(sys.executable, "_our_stream_worker.py", sim,
                                  {"mode": "pause", "seconds": args.pause, "orders": 20},
                                  args.pause + 120)
        result["reconnect"] = _worker(sys.executable, "_our_stream_worker.py", sim,
                                      {"mode": "reconnect", "drops": args.drops}, 300)
        result["orders"] = _worker(sys.executable, "_our_stream_worker.py", sim,
                                   {"mode": "orders", "drops": args.reconnects,
                                    "orders": args.orders}, 900, {"NOETL_IB_PACING": "off"})
    emit(result, (
        Target("cpu.cpu_ratio_worst", "<=", 0.5, "our CPU per message vs ibind's, worst round "
               "(default dispatch: quick callbacks on the reader thread, slow ones handed a thread of "
               "their own)"),
        Target("cpu.inline_cpu_ratio_worst", "<=", 0.5, "the same with dispatch=\"inline\" "
               "(callbacks always on the reader thread, as ibind's)"),
        Target("cpu.p99_ms_worst", "<=", 5.0, "simulator send to our callback"),
        Target("cpu.sim_rate_min_msg_s", ">=", 1900, "the simulator kept ~2,000 msg/s"),
        Target("pause.rss_growth_pct", "<=", 5.0, "memory flat while the consumer pauses"),
        Target("pause.orders_missing_after_pause", "==", 0, "no order event lost"),
        Target("reconnect.max_s", "<=", 2.0, "reconnect + re-subscribe"),
        Target("orders.lost", "==", 0, "order updates across forced reconnects"),
        Target("orders.drops", ">=", args.reconnects, "every forced reconnect happened"),
    ))


if __name__ == "__main__":
    main()
