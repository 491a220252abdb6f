"""Did-you-mean hints, an empty credentials file, and a readable `actions` listing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from noetl_ib_plugin.actions.spec import Action
from noetl_ib_plugin.cli import main
from noetl_ib_plugin.cli._actions import action_catalog, render_action
from noetl_ib_plugin.errors import CredentialError, CredentialNotFound, InputError
from noetl_ib_plugin.runner import load_credential, run_action

from .helpers import one_json


def _error(err: str) -> dict[str, object]:
    value = json.loads(err.strip().splitlines()[-1])["error"]
    assert isinstance(value, dict)
    return value


def test_check_of_an_empty_list_says_it_holds_no_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`credentials check` on `[]`: exit 2, valid false, "holds no records" (not valid: true)."""
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    assert main(["credentials", "check", str(empty)]) == 2
    captured = capsys.readouterr()
    assert one_json(captured.out)["valid"] is False
    assert "holds no records" in str(_error(captured.err)["message"])


def test_unknown_credential_lists_names_and_the_closest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A misspelt record name lists the names in the file and the alias dir, and the closest."""
    monkeypatch.setenv("NOETL_CREDENTIALS_DIR", str(tmp_path / "aliases"))
    (tmp_path / "aliases").mkdir()
    (tmp_path / "aliases" / "ib_live").write_text("{}")
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps([{"name": "ib_paper", "type": "x", "data": {}},
                                 {"name": "other", "type": "x", "data": {}}]))
    with pytest.raises(CredentialNotFound) as info:
        load_credential("ib_papr", creds)
    assert info.value.known == ["ib_live", "ib_paper", "other"]
    assert "did you mean 'ib_paper'?" in info.value.message
    assert "ib_live" in info.value.message


@pytest.mark.parametrize(
    ("args", "field", "suggestion"),
    [
        ({"qty": 1}, "qty", "quantity="),
        ({"qty": 1, "quantity": None}, "qty", "quantity="),  # the input: no quantity
        ({"limt_price": 1.0}, "limt_price", "limit_price="),
        ({"sidee": "BUY"}, "sidee", "side="),
    ],
)
def test_unknown_argument_names_the_closest_input(
    args: dict[str, Any], field: str, suggestion: str
) -> None:
    """`qty=1` on place_order: the fix says `quantity=` and how to list the inputs (CLI and Python)."""
    with pytest.raises(InputError) as info:
        run_action("place_order", "unused", symbol="AAPL", side="BUY", order_type="MKT",
                   **{k: v for k, v in ({"quantity": 1} | args).items() if v is not None})
    err = info.value
    assert err.field == field and err.fix is not None
    assert f"did you mean {suggestion}" in err.fix
    assert "`noetl-ib actions place_order`" in err.fix and "`list_actions()`" in err.fix


def test_unknown_record_field_names_the_closest_field(tmp_path: Path) -> None:
    """`privat_key` in an OAuth 2.0 record: the fix names data.private_key."""
    from noetl_ib_plugin.credentials import parse_record

    with pytest.raises(CredentialError) as info:
        parse_record({"name": "x", "type": "interactive_brokers_oauth",
                      "data": {"client_id": "c", "privat_key": "k"}})
    assert info.value.field == "data.privat_key"
    assert "did you mean data.private_key?" in (info.value.fix or "")


def test_actions_prints_a_table_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    """`noetl-ib actions`: a header row and one aligned row per action, not one JSON line."""
    assert main(["actions"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["ACTION", "TRADES", "REQUIRED"]
    row = next(line for line in lines if line.startswith("place_order "))
    assert "yes" in row.split() and "side, order_type" in row


def test_actions_name_prints_one_action_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    """`noetl-ib actions snapshot`: its inputs with type and default; `--json` the machine form."""
    assert main(["actions", "snapshot"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("snapshot: ")
    conids = next(line for line in text.splitlines() if line.split()[:1] == ["conids"])
    assert "list[integer]" in conids
    assert "all_or_nothing" in text
    outputs = text.split("Outputs:")[1]
    assert all(name in outputs for name in ("snapshots", "partial", "errors"))
    assert main(["actions", "snapshot", "--json"]) == 0
    (entry,) = one_json(capsys.readouterr().out)["actions"]
    assert entry["name"] == "snapshot"
    assert main(["actions", "snapshott"]) == 2
    assert "did you mean snapshot?" in str(_error(capsys.readouterr().err)["message"])


def test_actions_shows_outputs_when_the_action_declares_them() -> None:
    """An action with an `output_model` gets an Outputs block (the typed-outputs work plugs in)."""
    from pydantic import BaseModel, Field

    class Quote(BaseModel):
        last: float | None = Field(description="last price")

    action = Action(name="q", input_model="noetl_ib_plugin.actions.models:SnapshotInput",
                    run="noetl_ib_plugin.actions.marketdata:snapshot", description="quotes")
    object.__setattr__(action, "output_model", Quote)
    from noetl_ib_plugin.cli._actions import _entry

    text = render_action(_entry("q", action))
    outputs = text.split("Outputs:")[1]
    assert "last" in outputs and "last price" in outputs
    assert "outputs" in next(e for e in action_catalog() if e["name"] == "snapshot")


def test_unknown_credential_fix_names_the_record_to_store() -> None:
    """The not-found fix names the record to store when it is a well-formed name, else NAME."""
    from noetl_ib_plugin.errors import CredentialNotFound as NotFound

    assert "`noetl credential set ib_paper.main-2 < record.json`" in str(
        NotFound("ib_paper.main-2", []).fix)
    assert "`noetl credential set NAME < record.json`" in str(NotFound("ib paper; rm -rf", []).fix)
