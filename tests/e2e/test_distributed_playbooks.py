"""The distributed example playbooks, driven step by step through the worker harness and the simulator."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

from noetl_ib_plugin.simulator import Simulator
from tests.cli.helpers import REPO, noetl, process_env, record_secrets

from .noetl_server import NoetlServer
from .test_entry import sim_record
from .worker import render, run_playbook

PLAYBOOKS = sorted((REPO / "examples" / "playbooks").glob("distributed_*.yaml"))


def _doc(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((REPO / "examples" / "playbooks" / name).read_text())
    assert isinstance(doc, dict)
    return doc


@pytest.fixture
def noetl_with_credential(sim_env: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[NoetlServer]:
    """A NoETL stand-in holding the simulator's OAuth 2.0 record as `ib_oauth`; no local file."""
    monkeypatch.delenv("NOETL_IB_CREDENTIALS")
    server = NoetlServer().start()
    server.register({**sim_record(sim_env), "name": "ib_oauth", "type": "interactive_brokers_oauth"})
    yield server
    server.stop()


def test_render_keeps_whole_objects_and_prints_scalars() -> None:
    """`{{ a }}` of an object stays an object, scalars print like minijinja, undefined is ""."""
    ctx = {"k": {"x": {"f": 1}}, "s": {"ok": True, "l": [{"v": 2.5}]}}
    assert render({"c": "{{ k.x }}"}, ctx) == {"c": {"f": 1}}
    assert render("{{ s.ok }}", ctx) == "true"
    assert render("{{ not s.ok }}", ctx) == "false"
    assert render("p={{ s.l[0].v }}", ctx) == "p=2.5"
    assert render("{{ nope.x }}", ctx) == ""


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.name)
def test_distributed_playbooks_are_well_formed(path: Path) -> None:
    """`noetl schema` keys, python steps only through entry.main, routing on ok, no `{{` in code."""
    schema = json.loads(
        subprocess.run([str(Path(sys.executable).parent / "noetl"), "schema"], capture_output=True,
                       text=True, check=True).stdout
    )
    doc = yaml.safe_load(path.read_text())
    assert set(schema["required"]) <= set(doc)
    names = {s["step"] for s in doc["workflow"]}
    assert doc["executor"]["requires"]["tools"] == ["python"]
    for step in doc["workflow"]:
        assert set(schema["$defs"]["Step"]["required"]) <= set(step)
        for arc in step.get("next", []):
            assert arc["step"] in names
        tool = step.get("tool")
        if not tool:
            continue
        assert tool["kind"] == "python" and "credential" not in tool and "auth" not in tool
        assert "noetl_ib_plugin.entry import main" in tool["code"]
        assert not any(m in tool["code"] for m in ("{{", "{%", "{#"))
        assert step["next"][0]["when"] == f"{{{{ {step['step']}.ok }}}}"


def test_positions_playbook_runs_step_by_step(sim_env: Simulator, noetl_with_credential: NoetlServer) -> None:
    """Both steps succeed on one token and one brokerage session; the path skips `failed`."""
    path, runs = run_playbook(_doc("distributed_positions.yaml"), server_url=noetl_with_credential.url,
                              workload={"python": sys.executable})
    assert path == ["start", "summary", "end"]
    assert runs["start"].data["count"] > 0
    assert runs["summary"].data["account_id"] == runs["start"].data["account_id"]
    stats = sim_env.stats()
    assert (stats["oauth2_token_requests"], stats["ssodh_init_requests"]) == (1, 1)
    for run in runs.values():
        assert run.stderr == ""
    posted = json.dumps(noetl_with_credential.keychain_posts)
    assert posted and all(s not in posted for s in record_secrets(sim_env.credentials_file))


def test_order_roundtrip_playbook_places_and_cancels(
    sim_env: Simulator, noetl_with_credential: NoetlServer
) -> None:
    """Quote, place (deterministic cOID), list, cancel: the order is cancelled at the simulator."""
    doc = _doc("distributed_order_roundtrip.yaml")
    path, runs = run_playbook(doc, server_url=noetl_with_credential.url, execution_id="4242",
                              workload={"python": sys.executable})
    assert path == ["start", "place", "open_orders", "cancel", "end"], {
        k: r.data for k, r in runs.items()}
    placed = runs["place"].data
    assert placed["client_order_id"].startswith("nib-") and placed["outcome"] == "placed"
    assert placed["order_id"] in {o["order_id"] for o in runs["open_orders"].data["orders"]}
    assert runs["cancel"].data["status"] == "cancel_requested"
    assert sim_env.stats()["orders_cancelled"] == 1
    assert sim_env.stats()["oauth2_token_requests"] == 1


def test_failed_step_routes_to_failed(sim_env: Simulator, noetl_with_credential: NoetlServer) -> None:
    """An unregistered alias renders as "" and the step returns ok=false: the run goes to `failed`."""
    doc = _doc("distributed_positions.yaml")
    doc["workflow"][0]["tool"]["args"]["credential"] = "{{ keychain.missing }}"
    path, runs = run_playbook(doc, server_url=noetl_with_credential.url,
                              workload={"python": sys.executable})
    assert path == ["start", "failed", "end"]
    assert runs["start"].status == "ok"
    assert runs["start"].data["isError"] is True
    assert runs["start"].data["error"]["field"] == "credential"


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.name)
def test_local_runtime_refuses_distributed_playbooks(path: Path) -> None:
    """The real `noetl run --runtime local` refuses them instead of skipping the python steps."""
    proc = noetl("run", str(path), "--runtime", "local", "--json", env=process_env())
    assert proc.returncode != 0
    assert "requires distributed runtime" in proc.stderr
