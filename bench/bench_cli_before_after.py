"""Start-up before and after a change: `noetl-ib run` steps of this tree vs a git revision's.

    python bench/bench_cli_before_after.py [--base REV] [--rounds N]

Every NoETL `kind: shell` step is a fresh process, so a change must not make a step slower. The
base revision's `noetl_ib_plugin/` is exported to a temporary directory; both trees then run with
the same venv, interpreter and simulator, selected by `PYTHONPATH`, and their steps alternate
sample by sample (the order flips each round), so machine drift lands on both sides alike. Rows:
each read-only step in process (`NOETL_IB_WARM=off`) and served by each tree's own warm step
server (`warm_*`). A row's figure is median(after) / median(before), judged "no slower" at most
1.10 (two identical trees spread about +-5 % on this machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

from _common import VENV_BIN, Target, emit, isolated_cache, simulator, timed_run

ROOT = Path(__file__).resolve().parents[1]
STEPS = {"get_positions": [], "snapshot": ["conids=[265598]"], "account_summary": []}
NO_SLOWER = 1.10


def _export(rev: str, into: Path) -> None:
    """`noetl_ib_plugin/` as it is at `rev`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "noetl_ib_plugin"],
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD~1", help="git revision to compare against")
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args()
    exe = str(VENV_BIN / "noetl-ib")
    with tempfile.TemporaryDirectory() as tmp, simulator("--no-pacing") as sim, isolated_cache():
        _export(args.base, Path(tmp))
        trees = {"before": tmp, "after": str(ROOT)}
        creds = ["--credential", "sim_oauth2", "--credentials-file", str(sim.credentials_file)]
        envs = {k: {**os.environ, "NOETL_IB_PACING": "off", "PYTHONPATH": v}
                for k, v in trees.items()}
        cold = {k: {**env, "NOETL_IB_WARM": "off"} for k, env in envs.items()}
        for k in trees:
            timed_run([exe, "run", "get_positions", *creds], cold[k])  # token cache warm
            subprocess.run([exe, "warm", "start", "--idle", "1800"], capture_output=True,
                           env=envs[k], check=True)
        samples: dict[str, dict[str, list[float]]] = {k: {} for k in trees}
        try:
            for r in range(args.rounds):
                order = list(trees) if r % 2 == 0 else list(reversed(trees))
                for step, extra in STEPS.items():
                    for k in order:
                        cmd = [exe, "run", step, *extra, *creds]
                        samples[k].setdefault(step, []).append(timed_run(cmd, cold[k]))
                        samples[k].setdefault("warm_" + step, []).append(timed_run(cmd, envs[k]))
        finally:
            for k in trees:
                subprocess.run([exe, "warm", "stop"], capture_output=True, env=envs[k], check=False)
    rows = {}
    for row in samples["before"]:
        before = statistics.median(samples["before"][row]) * 1000
        after = statistics.median(samples["after"][row]) * 1000
        rows[row] = {"before_ms": round(before, 1), "after_ms": round(after, 1),
                     "ratio": round(after / before, 3)}
    emit({"base": args.base, "rounds": args.rounds, "rows": rows},
         [Target(f"rows.{row}.ratio", "<=", NO_SLOWER, "no slower than before") for row in rows])

if __name__ == "__main__":
    main()
