"""`make wheel-check`: the installed wheel alone runs the CLI, the simulator and `entry.main`.

Run by the Python of a fresh venv that holds the wheel and its runtime dependencies only (no dev
extras, no checkout on sys.path): `venv/bin/python tests/wheel_smoke.py`. Starts
`noetl-ib simulator` from that venv, runs `noetl-ib --version`, `noetl-ib run get_positions` and
`noetl_ib_plugin.entry.main` against it, and prints one line per check; exits non-zero on the first
failure. Not a pytest module: the dev venv it would run in is exactly what this check avoids.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


def check(ok: bool, what: str) -> None:
    """Print the check; stop with exit 1 when it failed."""
    print(f"wheel-check: {'ok  ' if ok else 'FAIL'} {what}", flush=True)
    if not ok:
        raise SystemExit(1)


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The venv's `noetl-ib` console script, with a deadline."""
    return subprocess.run([str(BIN / "noetl-ib"), *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def main() -> int:
    """Every check in order; the simulator is stopped whatever happens."""
    import noetl_ib_plugin

    where = Path(noetl_ib_plugin.__file__).resolve()
    check(Path(sys.prefix).resolve() in where.parents, f"imported from the venv ({where.parent})")
    for dev_only in ("pytest", "mypy", "freezegun", "responses"):
        try:
            __import__(dev_only)
        except ImportError:
            continue
        check(False, f"{dev_only} is not installed (runtime dependencies only)")
    with tempfile.TemporaryDirectory(prefix="wheel-check-") as tmp:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": tmp, "NOETL_IB_WARM": "off",
               "NOETL_IB_CACHE_DIR": str(Path(tmp) / "cache"),
               "NOETL_CREDENTIALS_DIR": str(Path(tmp) / "aliases")}
        version = cli("--version", env=env)
        check(version.returncode == 0 and version.stdout.startswith("noetl-ib "),
              f"noetl-ib --version -> {version.stdout.strip()!r}")
        sim = subprocess.Popen(
            [str(BIN / "noetl-ib"), "simulator", "--port", "0", "--no-pacing", "--bridge-warmup", "0",
             "--state-dir", str(Path(tmp) / "sim")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            assert sim.stdout is not None
            ready: dict[str, Any] = json.loads(sim.stdout.readline() or "{}")
            check("url" in ready, f"noetl-ib simulator listens on {ready.get('url')}")
            env["NOETL_IB_CREDENTIALS"] = ready["credentials_file"]
            run = cli("run", "get_positions", "--credential", "sim_oauth2", env=env)
            positions = json.loads(run.stdout or "{}")
            check(run.returncode == 0 and "positions" in positions,
                  f"noetl-ib run get_positions -> exit {run.returncode}, "
                  f"{len(positions.get('positions', []))} positions {run.stderr.strip()[:300]}")
            os.environ.update(env)
            from noetl_ib_plugin.entry import main as step_main

            result = step_main(action="account_summary", credential="sim_oauth1a",
                               credentials_file=ready["credentials_file"])
            check(result.get("ok") is True and bool(result.get("account_id")),
                  f"entry.main(action='account_summary') -> ok={result.get('ok')} "
                  f"{result.get('summary', '')}")
        finally:
            sim.terminate()
            sim.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
