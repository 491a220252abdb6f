"""An independent client (ibind 0.2.2 with `ibind[oauth]`) against the simulator, unchanged.

`make setup` installs it into `.venv/ibind` (or NOETL_IB_IBIND_PYTHON names an interpreter that
has it); the test itself never reaches a package index, and skips saying so when neither exists.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from noetl_ib_plugin.testing import running_simulator

DRIVER = Path(__file__).with_name("ibind_driver.py")


@pytest.fixture(scope="module")
def ibind_python() -> str:
    """A Python with ibind[oauth]==0.2.2 (NOETL_IB_IBIND_PYTHON, else .venv/ibind), or skip."""
    given = os.environ.get("NOETL_IB_IBIND_PYTHON")
    candidates = [given] if given else [str(Path(sys.prefix) / "ibind" / "bin" / "python")]
    for python in candidates:
        if not Path(python).exists():
            continue
        found = subprocess.run([python, "-c", "import ibind, importlib.metadata as m; "
                                "print(m.version('ibind'))"],
                               check=False, capture_output=True, text=True, timeout=120)
        if found.returncode == 0 and found.stdout.strip() == "0.2.2":
            return python
    pytest.skip("ibind[oauth]==0.2.2 is not installed: run `make setup` (it installs it into "
                ".venv/ibind when a package index is reachable) or set NOETL_IB_IBIND_PYTHON")


@pytest.mark.slow
def test_ibind_oauth1a_positions_snapshot_and_questioned_order(ibind_python: str,
                                                               tmp_path: Path) -> None:
    """ibind (OAuth 1.0a) reads positions, snapshots and places a questioned order: 0 x 429."""
    with running_simulator(pacing=True, state_dir=tmp_path / "sim", bridge_warmup=1.0) as sim:
        run = subprocess.run([ibind_python, str(DRIVER), str(sim.credentials_file)],
                             check=False, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
        seen = json.loads(run.stdout.strip().splitlines()[-1])
        stats = sim.stats()
    assert seen["accounts"] == ["DU7654321"] and seen["positions"] > 0
    assert float(seen["snapshot_last"]) > 0
    assert seen["placed"]["order_id"] and seen["placed"]["order_status"] in (
        "Submitted", "PreSubmitted", "Filled", "PendingSubmit")
    assert stats["lst_requests"] == 1 and stats["ssodh_init_requests"] == 1
    assert stats["questions_asked"] >= 1 and stats["orders_accepted"] == 1
    assert stats["rate_limited_responses"] == 0 and stats["auth_failures"] == 0
