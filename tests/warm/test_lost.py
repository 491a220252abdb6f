"""A step whose warm server died after taking it: the error has the CLI's JSON shape, is logged,
and names the order's client_order_id (issue 25 item 5)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from noetl_ib_plugin.simulator import Simulator

from .test_server import ORDER, HoldingServer, holding
from .warmfix import NOETL_IB, Warm, poll

__all__ = ["holding"]


def test_lost_server_error_is_json_and_reaches_the_error_log(
    warm: Warm, holding: HoldingServer, tmp_path: Path
) -> None:
    """Exit 6 prints one `{"error": ...}` line (category unknown) and appends it to NOETL_IB_ERROR_LOG."""
    error_log = tmp_path / "errors.jsonl"
    server_pid = warm.start()["pid"]
    creds = tmp_path / "my creds.json"
    creds.write_text('{"credentials": {}}')
    client = subprocess.Popen([NOETL_IB, *ORDER, f"--credentials-file={creds}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**warm.env, "NOETL_SERVER_URL": holding.url,
                                   "NOETL_IB_ERROR_LOG": str(error_log)})
    assert holding.accepted.wait(60), "the child never asked for the credential"
    os.kill(server_pid, signal.SIGKILL)
    out, err = client.communicate(timeout=60)
    assert (client.returncode, out) == (6, "")
    lines = err.strip().splitlines()
    assert len(lines) == 1
    error = json.loads(lines[0])["error"]
    assert error["category"] == "unknown"
    assert "outcome is unknown" in error["message"] and "not re-run" in error["message"]
    assert (f"`noetl-ib run get_open_orders --credential held --credentials-file '{creds}'`"
            in error["message"])
    entries = [json.loads(line) for line in error_log.read_text().splitlines()]
    assert [(e["command"], e["exit_code"], e["error"]) for e in entries] == [
        ("run place_order", 6, error)]


#: Seconds IBKR (the simulator) holds the order POST: the server is killed meanwhile.
HOLD_SECONDS = 6.0
PLACE = ["run", "place_order", "conid=265598", "side=BUY", "quantity=1", "order_type=LMT",
         "limit_price=188", "--credential", "sim_oauth2"]


def _killed_while_ibkr_holds_the_order(warm: Warm, sim_env: Simulator, *extra: str) -> tuple[int, str]:
    """Run a served place_order, kill the server while the order POST is held; (exit, stderr)."""
    server_pid = warm.start()["pid"]
    sim_env.set_faults({"latency_ms": HOLD_SECONDS * 1000, "methods": ["POST"],
                        "paths": ["/v1/api/iserver/account/"]})
    client = subprocess.Popen([NOETL_IB, *PLACE, *extra], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=warm.env)
    poll(lambda: sim_env.stats().get("faults_injected", {}).get("latency"),
         what="the order POST to be held")
    os.kill(server_pid, signal.SIGKILL)
    _, err = client.communicate(timeout=60)
    time.sleep(HOLD_SECONDS)  # the held POST completes (or not) at the broker: count after it
    return client.returncode, err


def test_lost_place_order_names_its_generated_client_order_id(warm: Warm, sim_env: Simulator) -> None:
    """Server killed while IBKR holds the order: exit 6 names the new cOID; the broker holds <= 1 with it."""
    code, err = _killed_while_ibkr_holds_the_order(warm, sim_env)
    assert code == 6, err
    error = json.loads(err.strip().splitlines()[-1])["error"]
    coid = error["client_order_id"]
    assert re.fullmatch(r"nib-[0-9a-f]{20}", coid)
    assert f"client_order_id {coid}" in error["message"]
    assert [o["cOID"] for o in sim_env.orders()] in ([], [coid])


def test_lost_place_order_repeats_the_given_client_order_id(warm: Warm, sim_env: Simulator) -> None:
    """With the user's own cOID (in --args-json), exit 6 names exactly that one."""
    code, err = _killed_while_ibkr_holds_the_order(
        warm, sim_env, "--args-json", json.dumps({"client_order_id": "my-key-17"}))
    assert code == 6, err
    error = json.loads(err.strip().splitlines()[-1])["error"]
    assert error["client_order_id"] == "my-key-17"
    assert [o["cOID"] for o in sim_env.orders()] in ([], ["my-key-17"])


@pytest.mark.parametrize(("argv", "coid"), [
    (["run", "place_order", "side=BUY", "--credential", "c"], None),
    (["-v", "run", "--credential", "place_order", "place_order", "client_order_id=k1"], "k1"),
    (["run", "place_order", "client_order_id=k1", "client_order_id=k2"], "k2"),
    (["run", "place_order", "--args-json={\"client_order_id\": 7}"], "7"),
    (["run", "place_order", "--args-json", "{bad", "side=BUY"], ""),
    (["run", "get_positions", "--credential", "c"], ""),
    (["actions", "place_order"], ""),
])
def test_order_key_finds_or_adds_the_client_order_id(argv: list[str], coid: str | None) -> None:
    """The user's cOID is kept (last word wins), else one is added after the action; others untouched."""
    from noetl_ib_plugin.cli.warm.coid import order_key

    out, key = order_key(argv)
    if coid is None:
        assert key is not None and out == [*argv[:2], f"client_order_id={key}", *argv[2:]]
    else:
        assert (out, key) == (argv, coid or None)


@pytest.mark.parametrize("argv", [
    ["run", "-c", "ib_paper", "place_order", "side=BUY"],
    ["run", "-c", "x", "--on-error", "result", "place_order", "side=BUY"],
    ["run", "--credential", "x", "--on-e", "result", "place_order"],  # argparse: a unique prefix
    ["run", "--credentials-f", "f.json", "-c", "x", "place_order"],
    ["run", "-c", "x", "--", "place_order", "side=BUY"],
    ["-vv", "run", "--on", "exit", "--allow-live", "-c", "x", "place_order"],
])
def test_order_key_is_the_one_the_cli_parses_before_the_action(argv: list[str]) -> None:
    """Value options before the action (-c, --on-error, prefixes, --): the CLI's order gets the key."""
    from noetl_ib_plugin.cli import _build_parser
    from noetl_ib_plugin.cli.warm.coid import order_key

    out, key = order_key(argv)
    parser, _ = _build_parser(only_run=True)
    ns = parser.parse_args(out)
    assert ns.action == "place_order"
    assert key is not None and f"client_order_id={key}" in ns.params


@pytest.mark.parametrize(("argv", "given"), [
    (["run", "place_order", "--args", '{"client_order_id": "mine"}'], "mine"),
    (["run", "place_order", "--args-j={\"client_order_id\": \"mine\"}"], "mine"),
    (["run", "-c", "client_order_id=x", "place_order", "client_order_id=mine"], "mine"),
])
def test_order_key_keeps_a_cOID_given_through_an_option_prefix(argv: list[str], given: str) -> None:
    """A cOID in --args-json under an abbreviated option name is the user's: kept, nothing added."""
    from noetl_ib_plugin.cli.warm.coid import order_key

    assert order_key(argv) == (argv, given)
