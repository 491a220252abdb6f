"""`noetl-ib stream`: JSON lines flushed per event, --max-events/--duration, SIGTERM, exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from noetl_ib_plugin.cli import main as cli_main
from noetl_ib_plugin.simulator import Simulator

AAPL = 265598


@pytest.fixture
def ws_sim(sim_reset: Simulator) -> Iterator[Simulator]:
    """The module simulator with short stream periods."""
    sim_reset.stream.heartbeat_s, sim_reset.stream.quote_interval_s = 0.2, 0.05
    yield sim_reset
    sim_reset.stream.heartbeat_s, sim_reset.stream.quote_interval_s = 10.0, 0.5
    sim_reset.set_faults({})


def _cli(sim: Simulator, *words: str) -> list[str]:
    """The stream command's argv for the simulator's credentials file."""
    return ["stream", *words, "--credentials-file", str(sim.credentials_file)]


def test_quotes_print_one_json_object_per_line_until_max_events(
        ws_sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    """`stream quotes symbols=AAPL --max-events 2`: two quote lines (full, then changed), exit 0."""
    ws_sim.set_price(AAPL, 190.0)
    threading.Timer(0.8, ws_sim.set_price, (AAPL, 191.0)).start()
    code = cli_main(_cli(ws_sim, "quotes", "symbols=AAPL", "fields=last,bid", "--credential",
                         "sim_oauth2", "--max-events", "2", "--duration", "20"))
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and len(lines) == 2
    assert json.loads(lines[1])["fields"]["last"] == 191.0
    first = json.loads(lines[0])
    assert first["topic"] == "quote" and first["conid"] == AAPL
    assert first["fields"]["last"] == 190.0 and first["received_at"] > 0


def test_duration_ends_an_orders_stream(ws_sim: Simulator,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """`stream orders --duration 0.5`: ends on time with exit 0 (no order: no line)."""
    started = time.monotonic()
    code = cli_main(_cli(ws_sim, "orders", "--credential", "sim_oauth1a", "--duration", "0.5"))
    assert code == 0 and time.monotonic() - started < 5
    assert capsys.readouterr().out == ""


def test_refused_stream_exits_with_the_auth_code(ws_sim: Simulator,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A handshake refused twice exits 3 (authentication), the error as JSON on stderr."""
    ws_sim.set_faults({"ws_refuse": 1.0})
    code = cli_main(_cli(ws_sim, "pnl", "--credential", "sim_oauth2", "--duration", "10"))
    err = capsys.readouterr().err
    assert code == 3 and "AuthError" in err


def test_bad_arguments_are_usage_errors(ws_sim: Simulator,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """An argument the topic does not take, or quotes without a contract: exit 2."""
    assert cli_main(_cli(ws_sim, "orders", "symbols=AAPL", "--credential", "sim_oauth2")) == 2
    assert cli_main(_cli(ws_sim, "quotes", "--credential", "sim_oauth2")) == 2


@pytest.mark.parametrize("conids", ["abc", "265598,x1", "-5", "0"])
def test_a_conid_that_is_not_a_number_is_a_usage_error(
        ws_sim: Simulator, capsys: pytest.CaptureFixture[str], conids: str) -> None:
    """`stream quotes conids=abc`: exit 2 naming conids and a working example, not UnexpectedError."""
    code = cli_main(_cli(ws_sim, "quotes", f"conids={conids}", "--credential", "sim_oauth2",
                         "--duration", "1"))
    err = capsys.readouterr().err
    assert code == 2 and "conids=265598" in err and "Unexpected" not in err


def test_sigterm_ends_the_stream_cleanly(ws_sim: Simulator, tmp_path: Path) -> None:
    """SIGTERM during `noetl-ib stream`: exit 0, whole JSON lines, no oauth_token in any output."""
    ws_sim.set_price(AAPL, 190.0)
    env = {**os.environ, "NOETL_IB_PACING": "off", "NOETL_IB_WARM": "off"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "noetl_ib_plugin.cli", "-v", *_cli(
            ws_sim, "quotes", "conids=265598", "--credential", "sim_oauth1a")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert json.loads(first)["topic"] == "quote"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0
    for line in out.splitlines():
        json.loads(line)
    data = {r["name"]: r["data"] for r in ws_sim.credentials}["sim_oauth1a"]
    assert str(data["access_token"]) not in out + err
    assert "ended after" in err
