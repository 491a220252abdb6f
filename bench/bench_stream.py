"""Streaming market data: our StreamClient beside ibind 0.2.2's IbkrWsClient on one simulator.

The simulator (its own process, `--ws-walk`: every message moves the price) sends AAPL quotes
every `--ws-quote-interval` (default 0.0005 s: up to ~2,000 messages/s); each client consumes
in its own process for SECONDS (default 20; the issue's figure is 60). Figures: messages, CPU
per message (process CPU time), p50/p99 latency from the simulator's `_updated` to the
consumer. Targets (issue 21): CPU per message <= 0.5x ibind's; p99 <= 5 ms. Not measured here
(reported as missing): memory under a paused consumer, reconnect time, order updates across
forced reconnects.

    .venv/bin/python bench/bench_stream.py [SECONDS]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from _common import Target, emit, simulator

HERE = Path(__file__).parent
IBIND = Path(sys.prefix) / "ibind" / "bin" / "python"


def _worker(python: str, script: str, creds: Path, seconds: float) -> dict[str, Any]:
    """Run one consumer; its JSON report."""
    cfg = json.dumps({"credentials_file": str(creds), "seconds": seconds})
    run = subprocess.run([python, str(HERE / script), cfg], capture_output=True, text=True,
                         timeout=seconds + 120, check=False)
    if run.returncode != 0:
        raise SystemExit(f"{script} failed: {run.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    report["cpu_per_message_us"] = (1e6 * report["cpu_s"] / report["messages"]
                                    if report["messages"] else None)
    return report


def main() -> None:
    """Both consumers, one after the other, on fresh simulators; verdicts."""
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else 20
    args = ("--no-pacing", "--ws-walk", "--ws-quote-interval", "0.0005", "--bridge-warmup", "0")
    with simulator(*args) as sim:
        ours = _worker(sys.executable, "_our_stream_worker.py", sim.credentials_file, seconds)
    theirs: dict[str, Any] | None = None
    if IBIND.exists():
        with simulator(*args) as sim:
            theirs = _worker(str(IBIND), "_ibind_stream_worker.py", sim.credentials_file,
                             seconds)
    result: dict[str, Any] = {"seconds": seconds, "ours": ours, "ibind": theirs}
    if theirs and ours["cpu_per_message_us"] and theirs["cpu_per_message_us"]:
        result["cpu_ratio"] = ours["cpu_per_message_us"] / theirs["cpu_per_message_us"]
    emit(result, (Target("cpu_ratio", "<=", 0.5), Target("ours.p99_ms", "<=", 5.0)))


if __name__ == "__main__":
    main()
