"""Fault soak: 2,000 mixed actions over 8 threads against a faulty in-process simulator.

Reads, resting LMT orders with explicit cOIDs, brackets (parent + take-profit + stop-loss) and
two-leg OCA groups with explicit keys, and cancels go through `run_action` with both
credential schemes (OAuth 2.0 and OAuth 1.0a) while the simulator injects 500s (10%), 429s
(5%), resets before (3%) / after (2%) processing, token revocations (1%), accept-then-garbage
order answers (HTML, empty, wrong shape, 408, 501, 524: 1% each), Inactive at placement (1%),
brokerage-session changes at placement (1%), a refused bracket/OCA leg (5% of group
acceptances) and a 0.5 s live-orders lag. It runs once with
IBKR's cOID uniqueness and once without it (only the client's reconciliation keeps orders
single), and prints one JSON summary per mode plus `headline` (the figures issue 10 asks for);
exits 1 if any invariant broke.
Usage (from the repo root): python bench/soak.py [--actions 2000] [--threads 8] [--seed 7]
                                                  [--mode both|unique|not-unique]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reliability.soak import FAULTS, SoakConfig, run_soak, soak_simulator, violations

MODES = {"unique": (True,), "not-unique": (False,), "both": (True, False)}


def _headline(summary: dict[str, Any]) -> dict[str, Any]:
    """The figures issue 10's closing note reports."""
    orders = summary["orders"]
    return {
        "actions": summary["actions"],
        "place_calls": orders["place_calls"],
        "duplicate_orders_by_coid": orders["duplicates"],
        "duplicate_orders_by_logical_request": orders["logical_duplicates"],
        "lost": orders["lost"],
        "reported_refused_or_failed_but_held_by_broker": orders["reported_refused_but_held"],
        "results_differing_from_broker_order": orders["result_fields_differ"],
        "outcome_unknown": orders["outcome_unknown"],
        "outcome_unknown_coids": orders["outcome_unknown_coids"],
        "outcome_unknown_not_naming_coid": len(orders["outcome_unknown_without_coid"]),
        "inactive_reported_and_held_inactive": orders["inactive_reported_and_held_inactive"],
        "group_calls": summary["groups"]["group_calls"],
        "group_legs_by_outcome": summary["groups"]["legs_by_outcome"],
        "group_legs_reported_differently_from_book": summary["groups"]["legs_reported_differently"],
        "group_reported_failed_but_legs_held": summary["groups"]["reported_refused_but_held"],
        "orphaned_children_or_broken_oca": summary["groups"]["orphaned_children"],
        "violations": len(summary["violations"]),
    }


def main() -> int:
    """Run the soak once per mode and print the summaries."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mode", choices=sorted(MODES), default="both",
                        help="cOID uniqueness in the simulator: unique (IBKR), not-unique, both")
    parser.add_argument("--faults", type=json.loads, default={},
                        help='JSON merged over the default plan, e.g. \'{"live_orders_lag_s": 3}\'')
    parser.add_argument("--deadline", type=float, default=900.0, help="give up after this many s")
    opts = parser.parse_args()
    # Reconciliation warnings are expected by the hundred under this fault plan.
    logging.getLogger("noetl_ib_plugin").setLevel(logging.ERROR)
    out: dict[str, Any] = {}
    for unique in MODES[opts.mode]:
        cfg = SoakConfig(actions=opts.actions, threads=opts.threads, seed=opts.seed,
                         deadline=opts.deadline, enforce_coid_unique=unique,
                         faults={**FAULTS, **opts.faults} if opts.faults else None)
        with tempfile.TemporaryDirectory(prefix="nib-soak-") as tmp:
            os.environ["NOETL_IB_CACHE_DIR"] = str(Path(tmp) / "token-cache")
            with soak_simulator(cfg.seed, Path(tmp) / "ibsim") as sim:
                summary = run_soak(sim, cfg)
        summary["violations"] = violations(summary)
        summary["headline"] = _headline(summary)
        out["coid-unique" if unique else "coid-not-unique"] = summary
    print(json.dumps(out, indent=2, sort_keys=True))
    return 1 if any(s["violations"] for s in out.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
