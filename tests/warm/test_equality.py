"""Equality proof: every invocation gives the same stdout, error and exit code warm and in process.

Issue 16's constraint: a faster path must give the same results and errors as the full path.
Each corpus entry runs once through the warm server (the console script, served by a forked
child) and once in process (`noetl_ib_plugin.cli.main`, the path every invocation takes without
a server), against the same simulator. Only values that differ between any two runs (order ids,
client order ids, times) are normalised, by the explicit key list below.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from noetl_ib_plugin import runner
from noetl_ib_plugin.cli import main
from noetl_ib_plugin.simulator import Simulator

from .warmfix import Warm

#: Keys whose values legitimately differ between two runs of the same step.
VOLATILE_KEYS = re.compile(r"^(order_id|client_order_id|local_order_id|time|timestamp|ts|_?updated)$")

READ_ONLY = [
    ["run", "get_positions", "--credential", "sim_oauth2"],
    ["run", "get_positions", "--credential", "sim_oauth1a"],
    ["run", "snapshot", "conids=[265598]", "--credential", "sim_oauth2"],
    ["run", "account_summary", "--credential", "sim_oauth2"],
    ["run", "get_open_orders", "--credential", "sim_oauth2"],
    ["run", "accounts", "--credential", "sim_oauth2"],
    ["actions", "--json"],
    ["actions", "place_order"],
    ["--version"],
]
BAD_INPUT = [
    ["run", "no_such_action", "--credential", "sim_oauth2"],  # unknown action
    ["run", "place_order", "side=SIDEWAYS", "quantity=1", "order_type=LMT", "conid=265598",
     "limit_price=1", "--credential", "sim_oauth2"],  # bad args
    ["run", "get_positions", "quantity", "--credential", "sim_oauth2"],  # not key=value
    ["run", "get_positions", "--credential", "no_such_record"],  # unknown credential
    ["run", "get_positions", "--credential", "sim_oauth2", "--credentials-file", "{broken}"],
    ["run", "snapshot", "conids=[1]", "--credential", "sim_oauth2"],  # unknown conid
    ["run", "get_positions", "account_id=U0000000", "--credential", "sim_oauth2"],  # bad account
    ["run", "cancel_order", "order_id=1", "--credential", "sim_oauth2"],  # broker rejection
    ["run", "get_positions"],  # missing option
    ["bogus"],
]
PLACE = ["run", "place_order", "conid=265598", "side=BUY", "quantity=1", "order_type=LMT",
         "limit_price=188", "--credential", "sim_oauth2"]


def _normalise(value: Any) -> Any:
    """Replace volatile values by a marker, recursively; numbers in ids inside text too."""
    if isinstance(value, dict):
        return {k: ("<v>" if VOLATILE_KEYS.search(k) else _normalise(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def _diff(a: Any, b: Any, path: str = "") -> list[str]:
    """Leaf paths where two results differ (for a readable failure)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in _diff(a.get(k, "<missing>"), b.get(k, "<missing>"), f"{path}.{k}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {str(a)[:80]} != {str(b)[:80]}"]


@pytest.fixture
def still_sim(sim_env: Simulator) -> Simulator:
    """The simulator with every price pinned, snapshots unstaged and the market's clock stopped
    (book sizes change each second): results depend on inputs only."""
    market = sim_env.engine.market
    market.staged = False
    stopped = time.time()
    market.clock = lambda: stopped
    for conid, contract in market.contracts.items():
        market.set_price(conid, contract.base_price)
    return sim_env


def _stdout(text: str) -> Any:
    lines = text.splitlines()
    if len(lines) == 1 and lines[0].startswith("{"):
        return _normalise(json.loads(lines[0]))
    return text


def _error(stderr: str) -> Any:
    """The error class of a run: the last stderr line's error type, category and field."""
    lines = stderr.strip().splitlines()
    if not lines:
        return None
    try:
        error = json.loads(lines[-1])["error"]
    except (ValueError, KeyError, TypeError):
        return "non-JSON stderr"
    return (error.get("type"), error.get("category"), error.get("field"),
            re.sub(r"\d{3,}", "#", str(error.get("message"))))


@pytest.fixture(autouse=True)
def _same_cache(warm: Warm, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both paths share one token cache, as every step of a user does; no 5 s order-list pacing."""
    monkeypatch.setenv("NOETL_IB_CACHE_DIR", str(warm.cache))
    monkeypatch.setenv("NOETL_IB_PACING", "off")


def _in_process(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, Any]:
    """The full path in this process, as a fresh one (no client reused from an earlier run)."""
    runner.reset_default_host()
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    return code, _stdout(out), _error(err)


def _warm(warm: Warm, argv: list[str]) -> tuple[int, Any, Any]:
    proc = warm.run(*argv)
    return proc.returncode, _stdout(proc.stdout), _error(proc.stderr)


def _broken_file(tmp_path: Path) -> str:
    broken = tmp_path / "broken.json"
    broken.write_text('{"credentials": [{"name": "sim_oauth2", "type": "interactive_brokers_oauth",'
                      ' "data": {"client_id": 5}}]}')
    return str(broken)


@pytest.mark.slow
def test_warm_and_in_process_agree_on_the_corpus(
    warm: Warm, still_sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Read-only actions, place/cancel and each bad input: same stdout, error class and exit code."""
    warm.start()
    broken = _broken_file(tmp_path)
    corpus = [[broken if a == "{broken}" else a for a in argv] for argv in READ_ONLY + BAD_INPUT]
    # IBKR answers a session's first snapshot of a conid with a pre-flight only (attempts 2, then
    # 1): broker state, not the path, so the subscription exists before either path runs.
    assert _in_process(READ_ONLY[2], capsys)[0] == 0
    mismatches = []
    codes = set()
    for argv in corpus:
        warm_result = _warm(warm, argv)
        full_result = _in_process(argv, capsys)
        codes.add(full_result[0])
        if warm_result != full_result:
            mismatches.append((argv, _diff(warm_result, full_result)))
    warm_placed, full_placed = _warm(warm, PLACE), _in_process(PLACE, capsys)
    assert warm_placed == full_placed and warm_placed[0] == 0, _diff(warm_placed, full_placed)
    assert not mismatches, json.dumps(mismatches, indent=1, default=str)[:6000]
    assert {0, 2, 4} <= codes  # the corpus covers success, bad input and broker rejection
    assert warm.status()["jobs_done"] == len(corpus) + 1  # every warm run really was served


@pytest.mark.slow
def test_cancel_agrees_warm_and_in_process(
    warm: Warm, still_sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """cancel_order of a fresh order: same normalised answer and exit code on both paths."""
    warm.start()
    results = []
    for path in ("warm", "full"):
        runner.reset_default_host()
        capsys.readouterr()
        assert main(PLACE) == 0
        order_id = json.loads(capsys.readouterr().out)["order_id"]
        argv = ["run", "cancel_order", f"order_id={order_id}", "--credential", "sim_oauth2"]
        results.append(_warm(warm, argv) if path == "warm" else _in_process(argv, capsys))
    assert results[0] == results[1] and results[0][0] == 0, _diff(results[0], results[1])
    assert warm.status()["jobs_done"] == 1
