"""`make demo` (examples/demo.py) end to end: simulator subprocess, real noetl, summary, clean stop."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.cli.helpers import REPO, process_env


@pytest.mark.slow
def test_demo_runs_every_step_and_reports_one_token() -> None:
    """The demo exits 0, shows each step, the cancelled order and exactly one OAuth 2.0 token request."""
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "demo.py")],
        capture_output=True, text=True, env=process_env(), timeout=110, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for step in ("place_order", "open_orders", "cancel_order", "accounts"):
        assert f". {step}:" in out
    assert "-> Cancelled" in out
    assert "OAuth 2.0 token requests: 1," in out
    assert out.rstrip().endswith("demo: every step ran")
