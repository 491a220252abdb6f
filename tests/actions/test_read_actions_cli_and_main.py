"""Each read action through `noetl-ib run` (a fresh process) and `entry.main`, against the simulator."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from noetl_ib_plugin.entry import main
from noetl_ib_plugin.runner import default_host, output_schema
from noetl_ib_plugin.simulator import Simulator
from tests.cli.helpers import cli, one_json, process_env

#: action -> (CLI words, main() keyword arguments, a check of the result)
CASES: dict[str, tuple[list[str], dict[str, Any]]] = {
    "history": (["symbol=AAPL", "period=1w", "bar=1d"],
                {"symbol": "AAPL", "period": "1w", "bar": "1d"}),
    "ledger": ([], {}),
    "accounts": ([], {}),
    "auth_status": ([], {}),
    "trades": (["days=2"], {"days": 2}),
}


def _check(name: str, result: dict[str, Any]) -> None:
    """The result validates against the action's published output schema and means something."""
    schema = output_schema(default_host().registry.actions[name])
    assert schema is not None
    jsonschema.validate(result, schema)
    if name == "history":
        assert result["count"] > 0 and result["bars"][0]["time"].endswith("Z")
    elif name == "ledger":
        assert result["currencies"][0]["currency"] == "BASE"
    elif name == "accounts":
        assert result["accounts"][0]["paper"] is True
    elif name == "auth_status":
        assert result["token_valid"] in (True, False)
    elif name == "trades":
        assert result["count"] == len(result["trades"])


@pytest.fixture
def creds_env(sim_reset: Simulator, monkeypatch: pytest.MonkeyPatch) -> Simulator:
    """NOETL_IB_CREDENTIALS names the simulator's credentials file (what a playbook exports)."""
    monkeypatch.setenv("NOETL_IB_CREDENTIALS", str(sim_reset.credentials_file))
    return sim_reset


@pytest.mark.parametrize("name", sorted(CASES))
def test_new_action_through_the_cli(creds_env: Simulator, name: str) -> None:
    """`noetl-ib run NAME --credential sim_oauth1a k=v ...` prints one JSON object, exit 0."""
    words, _ = CASES[name]
    run = cli("run", name, "--credential", "sim_oauth1a", *words, env=process_env())
    assert run.returncode == 0, run.stderr
    _check(name, one_json(run.stdout))


@pytest.mark.parametrize("name", sorted(CASES))
def test_new_action_through_main(creds_env: Simulator, name: str) -> None:
    """`entry.main(action=NAME, credential=..., **args)` returns the same typed dump."""
    _, kwargs = CASES[name]
    result = main(name, credential="sim_oauth2", **kwargs)
    _check(name, result)


def test_order_status_through_cli_and_main_reports_unknown_ids(creds_env: Simulator) -> None:
    """order_status runs through both doors; an id IBKR does not know fails the step (exit != 0)."""
    run = cli("run", "order_status", "--credential", "sim_oauth2", "order_id=1", env=process_env())
    assert run.returncode != 0 and "order_id" in run.stderr
    soft = main("order_status", credential="sim_oauth2", order_id="1", on_error="return")
    assert soft["ok"] is False and soft["error"]["field"] == "order_id"
