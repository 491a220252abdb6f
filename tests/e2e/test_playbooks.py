"""The example playbooks run by the REAL `noetl` CLI (local runtime) against an in-process simulator."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from noetl_ib_plugin.simulator import Simulator
from tests.cli.helpers import REPO, noetl, process_env

PLAYBOOKS = REPO / "examples" / "playbooks"
ROUNDTRIP = [
    "start", "positions", "snapshot", "limit_price", "place_order", "open_orders", "find_order",
    "cancel_order",
]


def _run(playbook: str, env: dict[str, str], *sets: str) -> tuple[int, dict[str, Any], str]:
    """`noetl run PLAYBOOK --runtime local --json`: exit code, outcome JSON (or {}), stderr."""
    args = ["run", str(PLAYBOOKS / playbook), "--runtime", "local", "--json"]
    for item in sets:
        args += ["--set", item]
    proc = noetl(*args, env=env)
    outcome = json.loads(proc.stdout) if proc.stdout.strip() else {}
    return proc.returncode, outcome, proc.stderr


def _results(outcome: dict[str, Any]) -> dict[str, Any]:
    """Step results parsed from the JSON each step printed."""
    return {k: json.loads(v) for k, v in outcome["step_results"].items()}


@pytest.mark.slow
def test_paper_roundtrip_places_then_cancels_with_one_token(sim_env: Simulator, tmp_path: Path) -> None:
    """Every step runs, the simulator's book shows the order cancelled, and ONE OAuth token was fetched."""
    code, outcome, stderr = _run(
        "paper_roundtrip.yaml", process_env(NOETL_IB_ERROR_LOG=str(tmp_path / "err.jsonl"))
    )
    assert code == 0, stderr
    assert outcome["status"] == "ok"
    assert outcome["executed_steps"] == ROUNDTRIP
    results = _results(outcome)
    order_id = results["place_order"]["order_id"]
    assert results["place_order"]["status"] in ("PreSubmitted", "Submitted")
    last = results["snapshot"]["snapshots"][0]["last"]
    limit = results["place_order"]["limit_price"]
    assert last * 0.97 < limit < last  # rests below market, inside IBKR's 3 % band
    assert results["find_order"]["status"] in ("PreSubmitted", "Submitted")
    assert results["cancel_order"]["order_id"] == order_id
    book = {str(o["order_id"]): o for o in sim_env.orders()}
    assert book[order_id]["status"] == "Cancelled"
    assert book[order_id]["side"] == "BUY" and book[order_id]["price"] == limit
    stats = sim_env.stats()
    assert stats["oauth2_token_requests"] == 1
    assert stats["sso_session_requests"] == 1
    assert stats["questions_asked"] == 0
    assert not (tmp_path / "err.jsonl").exists()


@pytest.mark.slow
def test_paper_roundtrip_with_oauth1a_fetches_one_lst(sim_env: Simulator) -> None:
    """The same playbook with the OAuth 1.0a record: one Live Session Token for the whole run."""
    env = process_env(NOETL_IB_PACING="off")  # client pacing is covered by the OAuth 2.0 run
    code, outcome, stderr = _run("paper_roundtrip.yaml", env, "credential=sim_oauth1a")
    assert code == 0, stderr
    assert outcome["executed_steps"] == ROUNDTRIP
    order_id = _results(outcome)["place_order"]["order_id"]
    assert {str(o["order_id"]): o["status"] for o in sim_env.orders()}[order_id] == "Cancelled"
    assert sim_env.stats()["lst_requests"] == 1
    assert sim_env.stats()["oauth2_token_requests"] == 0


@pytest.mark.slow
def test_bearer_http_reads_positions_with_exported_alias(sim_env: Simulator, tmp_path: Path) -> None:
    """Plain http steps authenticate with the exported alias; the alias file is mode 600; one token."""
    code, outcome, stderr = _run("bearer_http.yaml", process_env(), "alias=ib_e2e")
    assert code == 0, stderr
    assert outcome["executed_steps"] == ["start", "open_session", "accounts", "positions"]
    results = _results(outcome)
    assert results["accounts"]["status"] == 200
    assert results["positions"]["status"] == 200
    assert {p["conid"] for p in results["positions"]["body"]} >= {265598}
    alias = tmp_path / "noetl-credentials" / "ib_e2e"
    assert stat.S_IMODE(alias.stat().st_mode) == 0o600
    assert alias.read_text().strip() not in outcome["step_results"]["start"]
    stats = sim_env.stats()
    assert stats["oauth2_token_requests"] == 1
    assert stats["auth_failures"] == 0
    assert stats["requests_by_endpoint"]["GET /v1/api/portfolio/{acct}/positions/{page}"] == 1


@pytest.mark.slow
def test_failing_step_fails_the_run_and_error_log_says_why(sim_env: Simulator, tmp_path: Path) -> None:
    """A plugin error fails `noetl run` (exit 1); NoETL drops the step's stderr, the error log keeps it."""
    log = tmp_path / "err.jsonl"
    code, outcome, stderr = _run(
        "paper_roundtrip.yaml", process_env(NOETL_IB_ERROR_LOG=str(log)), "credential=no_such_record"
    )
    assert code != 0
    assert outcome == {}
    assert "exit code: Some(2)" in stderr
    assert "CredentialNotFound" not in stderr  # NoETL does not forward the step's stderr
    entry = json.loads(log.read_text().splitlines()[0])
    assert entry["error"]["type"] == "CredentialNotFound"
    assert entry["command"] == "run account_summary"


def test_local_runtime_refuses_the_distributed_playbook() -> None:
    """`executor.profile: distributed` makes the local runtime refuse instead of skipping python steps."""
    code, outcome, stderr = _run("distributed_positions.yaml", process_env())
    assert code != 0
    assert outcome == {}
    assert "requires distributed runtime" in stderr


ROUTED = ["start", "snapshot", "limit_price", "place_order", "cancel_order"]


@pytest.mark.slow
def test_routed_order_runs_twice_with_a_price_from_the_quote(sim_env: Simulator) -> None:
    """routed_order.yaml twice: two orders under two per-run keys, each priced 1 % under the quote."""
    keys = []
    for _ in range(2):
        code, outcome, stderr = _run("routed_order.yaml", process_env(NOETL_IB_PACING="off"))
        assert code == 0, stderr
        assert outcome["executed_steps"] == ROUTED
        results = _results(outcome)
        placed = results["place_order"]
        assert placed["ok"] is True and placed["outcome"] == "placed"
        last = results["snapshot"]["snapshots"][0]["last"]
        assert placed["limit_price"] == int(last * 0.99 * 100) / 100
        assert placed["client_order_id"] == f"routed-aapl-buy-{results['start']['run_key']}"
        keys.append(placed["client_order_id"])
    assert keys[0] != keys[1]
    book = {o["cOID"]: o["status"] for o in sim_env.orders()}
    assert [book[k] for k in keys] == ["Cancelled", "Cancelled"]


@pytest.mark.slow
def test_routed_order_routes_a_refusal_instead_of_failing_the_run(sim_env: Simulator) -> None:
    """A refused order is a result (ok false, outcome refused): the run goes on to `failed`, exit 0."""
    code, outcome, stderr = _run("routed_order.yaml", process_env(NOETL_IB_PACING="off"), "quantity=0")
    assert code == 0, stderr
    assert outcome["executed_steps"] == ["start", "snapshot", "limit_price", "place_order", "failed"]
    placed = _results(outcome)["place_order"]
    assert (placed["ok"], placed["outcome"], placed["error"]["field"]) == (False, "refused", "quantity")
    assert sim_env.orders() == []


@pytest.mark.slow
def test_wait_fill_places_waits_on_the_stream_then_reads_positions(sim_env: Simulator) -> None:
    """place LMT -> wait_order until=filled (the fill comes while it waits) -> positions."""
    import threading

    sim_env.set_price(265598, 100.0)
    sim_env.stream.quote_interval_s = 0.1
    mover = threading.Timer(6.0, sim_env.set_price, (265598, 99.0))
    mover.start()
    try:
        code, outcome, stderr = _run("wait_fill.yaml", process_env(NOETL_IB_PACING="off"),
                                     "limit_price=99.5")
    finally:
        mover.cancel()
    assert code == 0, stderr
    assert outcome["executed_steps"] == ["start", "wait_fill", "positions"]
    results = _results(outcome)
    assert results["wait_fill"]["condition_met"] is True
    assert results["wait_fill"]["order"]["status"] == "Filled"
    assert results["wait_fill"]["order"]["avg_price"] == 99.0
    order_id = results["start"]["order_id"]
    assert {str(o["order_id"]): o["status"] for o in sim_env.orders()}[order_id] == "Filled"
