"""History's 5 in flight per credential hold across processes (issue 23 input 5): slot files
in the token cache directory, held with the file lock."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from noetl_ib_plugin.client.history_slots import history_slot
from noetl_ib_plugin.errors import TransientError
from noetl_ib_plugin.testing import running_simulator

_HOLD_ALL = textwrap.dedent("""
    import contextlib, sys, time
    from pathlib import Path
    from noetl_ib_plugin.client.history_slots import history_slot
    with contextlib.ExitStack() as stack:
        got = [stack.enter_context(history_slot(Path(sys.argv[1]), "k", slots=5, timeout=5))
               for _ in range(5)]
        print(sorted(got), flush=True)
        time.sleep(float(sys.argv[2]))
""")

_HISTORY = textwrap.dedent("""
    import sys
    from noetl_ib_plugin.runner import run_action
    out = run_action("history", "sim_oauth2", credentials_file=sys.argv[1], conid=265598,
                     period="1d", bar="1h")
    assert out["count"] > 0, out
""")


def test_sixth_request_waits_then_times_out(tmp_path: Path) -> None:
    """Five slots held (one thread): a sixth times out with a TransientError naming the limit."""
    with contextlib.ExitStack() as stack:
        got = [stack.enter_context(history_slot(tmp_path, "k", slots=5, timeout=1))
               for _ in range(5)]
        assert sorted(got) == [0, 1, 2, 3, 4]
        started = time.monotonic()
        with pytest.raises(TransientError, match="5 concurrent history requests"), \
                history_slot(tmp_path, "k", slots=5, timeout=0.2):
            pass
        assert time.monotonic() - started >= 0.2
    with history_slot(tmp_path, "k", slots=5, timeout=0.2) as index:
        assert index == 0  # every slot freed on exit


def test_slots_held_by_another_process_count(tmp_path: Path) -> None:
    """Another process holding all five slots makes this one wait until it lets go."""
    child = subprocess.Popen([sys.executable, "-c", _HOLD_ALL, str(tmp_path), "1.5"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "[0, 1, 2, 3, 4]"
        started = time.monotonic()
        with pytest.raises(TransientError), history_slot(tmp_path, "k", slots=5, timeout=0.2):
            pass
        with history_slot(tmp_path, "k", slots=5, timeout=30):
            waited = time.monotonic() - started
        assert waited > 1.0  # free only once the other process let go (it held them 1.5 s)
    finally:
        child.wait(timeout=30)


@pytest.mark.slow
def test_eight_history_steps_in_separate_processes_never_exceed_five(tmp_path: Path) -> None:
    """Input 5: eight history runs in eight processes: 0 x 429, at most 5 in flight at IBKR."""
    with running_simulator(pacing=False, state_dir=tmp_path / "sim", bridge_warmup=0,
                           options={"history_delay_s": 0.6}) as sim:
        env = {**os.environ, "NOETL_IB_CACHE_DIR": str(tmp_path / "cache"),
               "NOETL_IB_PACING": "off"}
        env.pop("NOETL_IB_TOKEN_CACHE", None)
        # The token and brokerage session first, so the eight only race for history slots.
        subprocess.run([sys.executable, "-c", _HISTORY, str(sim.credentials_file)], env=env,
                       check=True, timeout=120)
        runs = [subprocess.Popen([sys.executable, "-c", _HISTORY, str(sim.credentials_file)],
                                 env=env, stderr=subprocess.PIPE, text=True)
                for _ in range(8)]
        errors = [run.communicate(timeout=180)[1] for run in runs]
        assert [run.returncode for run in runs] == [0] * 8, errors
        stats = sim.stats()
    assert stats["history_rate_limited"] == 0
    assert 1 <= stats["history_in_flight_max"] <= 5
    assert stats["requests_by_endpoint"]["GET /v1/api/iserver/marketdata/history"] == 9
