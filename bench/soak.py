"""Fault soak: 2,000 mixed actions over 8 threads against a faulty in-process simulator.

Reads, resting LMT orders with explicit cOIDs and cancels go through `run_action` while the
simulator injects 500s (10%), 429s (5%), resets before (3%) / after (2%) processing and token
revocations (1%). Prints one JSON summary (outcomes, durations, order-book comparison, simulator
counters, and the list of broken invariants); exits 1 if any invariant broke.
Usage (from the repo root): python bench/soak.py [--actions 2000] [--threads 8] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reliability.soak import SoakConfig, run_soak, soak_simulator, violations


def main() -> int:
    """Run the soak once and print its summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--deadline", type=float, default=900.0, help="give up after this many s")
    opts = parser.parse_args()
    # Reconciliation warnings are expected by the hundred under this fault plan.
    logging.getLogger("noetl_ib_plugin").setLevel(logging.ERROR)
    cfg = SoakConfig(actions=opts.actions, threads=opts.threads, seed=opts.seed, deadline=opts.deadline)
    with tempfile.TemporaryDirectory(prefix="nib-soak-") as tmp:
        os.environ["NOETL_IB_CACHE_DIR"] = str(Path(tmp) / "token-cache")
        with soak_simulator(cfg.seed, Path(tmp) / "ibsim") as sim:
            summary = run_soak(sim, cfg)
    summary["violations"] = violations(summary)
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 1 if summary["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
