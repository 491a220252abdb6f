"""An independent client (ibind 0.2.2 with `ibind[oauth]`) against the simulator, unchanged.

Installed in a throw-away venv (or the interpreter NOETL_IB_IBIND_PYTHON names); skipped with
the reason when it cannot be installed (e.g. no access to a package index).
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
def ibind_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Python with ibind[oauth]==0.2.2, or skip saying why there is none."""
    given = os.environ.get("NOETL_IB_IBIND_PYTHON")
    if given:
        return given
    venv = tmp_path_factory.mktemp("ibind-venv")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True,
                       capture_output=True, timeout=300)
        python = str(venv / "bin" / "python")
        done = subprocess.run([python, "-m", "pip", "install", "-q", "ibind[oauth]==0.2.2"],
                              check=False, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot create a venv for ibind: {exc}")
    if done.returncode != 0:
        pytest.skip("cannot install ibind[oauth]==0.2.2: " + done.stderr.strip()[-300:])
    return python


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
