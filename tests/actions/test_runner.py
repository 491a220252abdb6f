"""The plugin layer: action lookup, input errors, credential forms, client reuse, list_actions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from noetl_ib_plugin.credentials import read_records_file
from noetl_ib_plugin.errors import InputError
from noetl_ib_plugin.runner import default_host, get_client, list_actions, load_credential, run_action
from noetl_ib_plugin.simulator import Simulator


def test_unknown_action_lists_names(sim_reset: Simulator) -> None:
    """An unknown action is an InputError on field `action` that lists the known names."""
    with pytest.raises(InputError) as info:
        run_action("buy_everything", "sim_oauth2", credentials_file=sim_reset.credentials_file)
    assert info.value.field == "action" and "place_order" in str(info.value)


def test_unknown_argument_is_named(sim_reset: Simulator) -> None:
    """A misspelled argument is named in the error."""
    with pytest.raises(InputError) as info:
        run_action("get_positions", "sim_oauth2", credentials_file=sim_reset.credentials_file,
                   acount_id="x")
    assert info.value.field == "acount_id"


def test_credential_forms_and_client_reuse(sim_reset: Simulator) -> None:
    """A name, a raw record dict and a parsed record all work; one client per credential."""
    record = load_credential("sim_oauth2", sim_reset.credentials_file, host=default_host())
    raw = next(dict(r) for r in read_records_file(sim_reset.credentials_file)
               if r["name"] == "sim_oauth2")
    for cred in ("sim_oauth2", raw, record):
        out = run_action("account_summary", cred, credentials_file=sim_reset.credentials_file)
        assert out["account_id"] == "DU1234567"
    assert get_client(record) is get_client(record)
    assert sim_reset.stats()["ssodh_init_requests"] == 1


def test_list_actions_has_schemas() -> None:
    """Every built-in action is listed with a description and its input JSON schema."""
    actions = {a["name"]: a for a in list_actions()}
    assert {"place_order", "cancel_order", "get_open_orders", "get_positions",
            "account_summary", "snapshot"} <= set(actions)
    assert actions["place_order"]["trading"] is True
    assert "quantity" in actions["place_order"]["input_schema"]["properties"]


def test_new_process_with_warm_cache_skips_bootstrap(sim_reset: Simulator, tmp_path: Path) -> None:
    """A second OS process sharing the token cache reuses token and brokerage session."""
    run_action("get_positions", "sim_oauth1a", credentials_file=sim_reset.credentials_file)
    before = sim_reset.stats()
    code = (
        "import json, sys\n"
        "from noetl_ib_plugin.runner import run_action\n"
        "out = run_action('get_positions', 'sim_oauth1a', credentials_file=sys.argv[1])\n"
        "print(json.dumps(out['count']))\n"
    )
    env = {**os.environ, "NOETL_IB_PACING": "off"}
    done = subprocess.run([sys.executable, "-c", code, str(sim_reset.credentials_file)], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == 123
    after = sim_reset.stats()
    assert after["ssodh_init_requests"] == before["ssodh_init_requests"] == 1
    assert after["lst_requests"] == before["lst_requests"] == 1
    assert after["requests_by_endpoint"]["GET /v1/api/portfolio/accounts"] == 1
