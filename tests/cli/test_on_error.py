"""`noetl-ib run --on-error result` / NOETL_IB_ON_ERROR=result: failures a playbook can route on."""

from __future__ import annotations

import json

from noetl_ib_plugin.simulator import Simulator

from .helpers import cli, one_json, process_env

_BAD_ORDER = ["run", "place_order", "--credential", "sim_oauth2", "conid=265598", "side=SIDEWAYS",
              "quantity=1", "order_type=LMT", "limit_price=1"]


def test_default_mode_is_unchanged_exit_code_and_nothing_on_stdout(sim_env: Simulator) -> None:
    """Without the option a failure exits 2 with stdout empty, and a success carries no `ok` key."""
    failed = cli(*_BAD_ORDER)
    assert (failed.returncode, failed.stdout) == (2, "")
    ok = cli("run", "accounts", "--credential", "sim_oauth2")
    assert ok.returncode == 0 and "ok" not in one_json(ok.stdout)


def test_result_mode_prints_the_error_on_stdout_and_exits_0(sim_env: Simulator) -> None:
    """--on-error result: ok false, the typed error with its field, outcome refused, exit 0."""
    proc = cli(*_BAD_ORDER, "--on-error", "result")
    assert proc.returncode == 0, proc.stderr
    result = one_json(proc.stdout)
    assert result["ok"] is False and result["isError"] is True
    assert result["error"]["category"] == "input" and result["error"]["field"] == "side"
    assert result["outcome"] == "refused"
    assert result["summary"].startswith("place_order failed:")
    assert json.loads(proc.stderr.strip().splitlines()[-1])["error"]["field"] == "side"
    assert sim_env.orders() == []


def test_environment_variable_sets_the_mode_for_every_run(sim_env: Simulator) -> None:
    """NOETL_IB_ON_ERROR=result: successes add ok true to the same output; usage errors route too."""
    plain = one_json(cli("run", "accounts", "--credential", "sim_oauth2").stdout)
    env = process_env(NOETL_IB_ON_ERROR="result")
    routed = cli("run", "accounts", "--credential", "sim_oauth2", env=env)
    assert routed.returncode == 0
    assert one_json(routed.stdout) == {**plain, "ok": True}
    usage = cli("run", "get_positions", "not-key-value", "--credential", "sim_oauth2", env=env)
    assert usage.returncode == 0
    assert one_json(usage.stdout)["error"]["type"] == "UsageError"


def test_option_wins_over_the_environment(sim_env: Simulator) -> None:
    """--on-error exit on the command line overrides NOETL_IB_ON_ERROR=result."""
    proc = cli(*_BAD_ORDER, "--on-error", "exit", env=process_env(NOETL_IB_ON_ERROR="result"))
    assert (proc.returncode, proc.stdout) == (2, "")


def test_unknown_mode_in_the_environment_is_a_usage_error_naming_it() -> None:
    """NOETL_IB_ON_ERROR=bogus exits 2 naming the variable and the value that works."""
    proc = cli("run", "accounts", "--credential", "x", env=process_env(NOETL_IB_ON_ERROR="bogus"))
    assert (proc.returncode, proc.stdout) == (2, "")
    error = json.loads(proc.stderr.strip().splitlines()[-1])["error"]
    assert error["field"] == "NOETL_IB_ON_ERROR"
    assert "export NOETL_IB_ON_ERROR=result" in error["message"]
