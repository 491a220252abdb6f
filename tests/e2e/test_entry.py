"""`noetl_ib_plugin.entry.main` run the way a NoETL worker runs a `kind: python` step."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

from noetl_ib_plugin.entry import main, split_credential_fields
from noetl_ib_plugin.errors import CredentialError, InputError
from noetl_ib_plugin.simulator import Simulator
from tests.cli.helpers import REPO, record_secrets

from .worker import MARKER, run_python_step

PLAYBOOK = REPO / "examples" / "playbooks" / "distributed_positions.yaml"
CODE = "from noetl_ib_plugin.entry import main\n"
_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")


def _record(sim: Simulator, name: str = "sim_oauth2") -> dict[str, Any]:
    records = json.loads(sim.credentials_file.read_text())["credentials"]
    record = next(r for r in records if r["name"] == name)
    assert isinstance(record, dict)
    return record


def _render(value: Any, context: dict[str, Any]) -> Any:
    """Jinja-like rendering of `{{ a.b.c }}` paths; an undefined path renders as "" (Jinja's default)."""
    if isinstance(value, dict):
        return {k: _render(v, context) for k, v in value.items()}
    if not isinstance(value, str):
        return value

    def lookup(match: re.Match[str]) -> str:
        node: Any = context
        for part in match.group(1).split("."):
            node = node.get(part, "") if isinstance(node, dict) else ""
        return str(node)

    return _TEMPLATE.sub(lookup, value)


def test_keychain_fields_are_split_from_action_params() -> None:
    """With credential_type, fields of the type's model go to the credential, the rest to the action."""
    data, rest = split_credential_fields(
        "interactive_brokers_oauth",
        {"client_id": "c", "key_id": "k", "private_key": "PEM", "account_id": "DU1", "ip": "",
         "symbol": "AAPL", "quantity": 1},
        credential="ibuser",
    )
    assert data == {"client_id": "c", "key_id": "k", "private_key": "PEM", "account_id": "DU1",
                    "credential": "ibuser"}
    assert rest == {"symbol": "AAPL", "quantity": 1}
    with pytest.raises(CredentialError):
        split_credential_fields("no_such_type", {})


def test_entry_by_record_name_in_worker(sim: Simulator) -> None:
    """A record name resolves through NOETL_IB_CREDENTIALS like the CLI; the result is the step result."""
    run = run_python_step(CODE, {"action": "get_positions", "credential": "sim_oauth2"})
    assert run.ok, run.stderr
    assert run.result["count"] == len(run.result["positions"]) > 0
    assert MARKER not in run.stdout


def test_entry_with_keychain_fields_in_worker(sim: Simulator) -> None:
    """Individual keychain fields plus credential_type build the record; action args pass through."""
    data = _record(sim)["data"]
    args = {"action": "snapshot", "credential_type": "interactive_brokers_oauth",
            "credential_name": "ib_paper", "symbols": "AAPL", "fields": "last,bid", **data}
    run = run_python_step(CODE, args, env={"NOETL_IB_CREDENTIALS": ""})
    assert run.ok, run.stderr
    assert run.result["snapshots"][0]["symbol"] == "AAPL"
    assert run.result["snapshots"][0]["last"] > 0


def test_entry_with_record_dict(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole record dict is accepted as `credential` (in-process call)."""
    monkeypatch.delenv("NOETL_IB_CREDENTIALS")
    result = main("account_summary", credential=_record(sim, "sim_oauth1a"))
    assert result["account_id"].startswith("DU")


def test_entry_errors_raise_or_return(sim: Simulator) -> None:
    """Errors fail the step with the plugin's message (no secret); on_error=return hands them back."""
    bad = run_python_step(CODE, {"action": "cancel_order", "credential": "sim_oauth2", "order_id": "1"})
    assert not bad.ok
    assert "doesn't exist" in bad.stderr
    for secret in record_secrets(sim.credentials_file):
        assert secret not in bad.stderr + bad.stdout
    soft = run_python_step(
        CODE, {"action": "cancel_order", "credential": "sim_oauth2", "order_id": "1", "on_error": "return"}
    )
    assert soft.ok, soft.stderr
    assert soft.result["ok"] is False
    assert soft.result["error"]["category"] == "broker"


def test_entry_argument_checks() -> None:
    """No credential at all, a bad on_error or a non-boolean allow_live are input errors."""
    with pytest.raises(CredentialError, match="credential"):
        main("get_positions")
    with pytest.raises(InputError):
        main("get_positions", credential="x", on_error="ignore")
    with pytest.raises(InputError, match="allow_live"):
        main("get_positions", credential="x", allow_live="maybe", on_error="raise")


def test_distributed_playbook_is_well_formed() -> None:
    """The distributed playbook satisfies `noetl schema`'s required keys and uses python + keychain."""
    schema = json.loads(
        subprocess.run([str(Path(sys.executable).parent / "noetl"), "schema"], capture_output=True,
                       text=True, check=True).stdout
    )
    doc = yaml.safe_load(PLAYBOOK.read_text())
    assert set(schema["required"]) <= set(doc)
    step_required = set(schema["$defs"]["Step"]["required"])
    tool_required = set(schema["$defs"]["ToolSpec"]["required"])
    names = [s["step"] for s in doc["workflow"]]
    for step in doc["workflow"]:
        assert step_required <= set(step)
        if "tool" in step:
            assert tool_required <= set(step["tool"])
        for arc in step.get("next", []):
            assert arc["step"] in names
    assert doc["executor"]["requires"]["tools"] == ["python"]
    python_steps = [s for s in doc["workflow"] if s.get("tool", {}).get("kind") == "python"]
    assert len(python_steps) == 2
    assert all("noetl_ib_plugin.entry import main" in s["tool"]["code"] for s in python_steps)
    assert "{{ keychain.ib_paper.private_key }}" in python_steps[0]["tool"]["args"].values()


def test_distributed_playbook_code_runs_in_worker(sim: Simulator) -> None:
    """Each python step, rendered as the server would (keychain + workload), runs in the worker harness."""
    doc = yaml.safe_load(PLAYBOOK.read_text())
    workload = {**doc["workload"], "python": sys.executable}
    context = {"workload": workload, "keychain": {"ib_paper": _record(sim)["data"]}}
    results = {}
    for step in doc["workflow"]:
        tool = step.get("tool")
        if not tool:
            continue
        python = _render(tool["python"], context)
        run = run_python_step(tool["code"], _render(tool["args"], context), python=python)
        assert run.ok, f"{step['step']}: {run.stderr}"
        results[step["step"]] = run.result
    assert results["start"]["count"] > 0
    assert results["summary"]["account_id"] == results["start"]["account_id"]
    assert sim.stats()["oauth2_token_requests"] == 1
