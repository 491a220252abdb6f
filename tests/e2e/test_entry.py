"""`noetl_ib_plugin.entry.main` run the way a NoETL worker runs a `kind: python` step."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from noetl_ib_plugin.common.step_result import failure_result
from noetl_ib_plugin.entry import (
    default_client_order_id,
    main,
    split_credential_fields,
    step_context_from,
)
from noetl_ib_plugin.errors import (
    AuthError,
    CredentialError,
    InputError,
    OrderRejected,
    OrderUnconfirmed,
    TransientError,
)
from noetl_ib_plugin.simulator import Simulator
from tests.cli.helpers import record_secrets

from .noetl_server import NoetlServer
from .worker import MARKER, WorkerRun, run_python_step

CODE = "from noetl_ib_plugin.entry import main\n"


def sim_record(sim_env: Simulator, name: str = "sim_oauth2") -> dict[str, Any]:
    """One record of the simulator's credentials file."""
    records = json.loads(sim_env.credentials_file.read_text())["credentials"]
    record = next(r for r in records if r["name"] == name)
    assert isinstance(record, dict)
    return record


def assert_quiet(run: WorkerRun) -> None:
    """Nothing but the marker line on stdout, nothing on stderr (NoETL persists both)."""
    assert run.stderr == ""
    assert [line for line in run.stdout.splitlines() if not line.startswith(MARKER)] == []


@pytest.fixture
def noetl_server() -> Iterator[NoetlServer]:
    """A strict NoETL server stand-in on loopback."""
    server = NoetlServer().start()
    yield server
    server.stop()


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


def test_harness_binds_only_declared_parameters() -> None:
    """The worker binds only the parameters main declares, and every arg as a global too."""
    code = "def main(a, b=2):\n    return {'a': a, 'b': b, 'g': c, 'step': step}\n"
    run = run_python_step(code, {"a": 1, "c": 3}, step="s1")
    assert run.status == "ok"
    assert run.result == {"a": 1, "b": 2, "g": 3, "step": "s1"}


def test_entry_by_record_name_in_worker(sim_env: Simulator) -> None:
    """A record name resolves through NOETL_IB_CREDENTIALS; the result has ok and prints nothing."""
    run = run_python_step(CODE, {"action": "get_positions", "credential": "sim_oauth2"})
    assert run.status == "ok", run.stderr
    assert run.result["ok"] is True
    assert run.result["count"] == len(run.result["positions"]) > 0
    assert_quiet(run)


@pytest.mark.parametrize("form", ["flat", "record", "json_string", "wrapped", "wrapped_json"])
def test_entry_with_whole_keychain_object(sim_env: Simulator, form: str) -> None:
    """The keychain object works as flat data, a record, a {status, data: record} wrapper, or JSON."""
    record = sim_record(sim_env)
    full = {"id": "7", "name": "ib_oauth", "type": "ib_oauth", "data": record["data"],
            "meta": {}, "created_at": "2026-01-01T00:00:00Z"}
    credential: Any = {
        "flat": record["data"],
        "record": full,
        "json_string": json.dumps(record["data"]),
        "wrapped": {"status": "found", "data": full, "expires_at": None},
        "wrapped_json": json.dumps({"data": full}),
    }[form]
    run = run_python_step(CODE, {"action": "snapshot", "credential": credential, "symbols": "AAPL",
                                 "fields": "last"}, env={"NOETL_IB_CREDENTIALS": ""})
    assert run.status == "ok", run.stderr
    assert run.result["ok"] is True, run.result
    assert run.result["snapshots"][0]["last"] > 0
    assert_quiet(run)


def test_logs_only_when_asked_and_redacted(sim_env: Simulator) -> None:
    """log_level: DEBUG writes the plugin's logs to stderr, still without a secret."""
    run = run_python_step(CODE, {"action": "get_positions", "credential": "sim_oauth2",
                                 "log_level": "DEBUG"})
    assert run.result["ok"] is True
    assert "noetl_ib_plugin" in run.stderr
    for secret in record_secrets(sim_env.credentials_file):
        assert secret not in run.stderr


def test_entry_with_keychain_fields_in_worker(sim_env: Simulator) -> None:
    """Individual keychain fields plus credential_type build the record; action args pass through."""
    data = sim_record(sim_env)["data"]
    args = {"action": "snapshot", "credential_type": "ibkr_oauth",
            "credential_name": "ib_paper", "symbols": "AAPL", "fields": "last,bid", **data}
    run = run_python_step(CODE, args, env={"NOETL_IB_CREDENTIALS": ""})
    assert run.status == "ok", run.stderr
    assert run.result["snapshots"][0]["symbol"] == "AAPL"
    assert run.result["snapshots"][0]["last"] > 0


def test_record_name_fetched_from_the_steps_server(sim_env: Simulator, noetl_server: NoetlServer) -> None:
    """A name is fetched from the worker's server with include_data and the step's execution_id."""
    noetl_server.register({**sim_record(sim_env), "name": "ib_oauth", "type": "ib_oauth"})
    run = run_python_step(
        CODE, {"action": "account_summary", "credential": "ib_oauth"},
        execution_id="480000000000000042",
        env={"NOETL_IB_CREDENTIALS": ""},
        worker_env={"NOETL_SERVER_URL": noetl_server.url, "NOETL_IB_TOKEN_CACHE": "file"},
    )
    assert run.status == "ok", run.stderr
    assert run.result["ok"] is True, run.result
    assert run.result["account_id"].startswith("DU")
    assert noetl_server.credential_queries == [
        {"include_data": ["true"], "execution_id": ["480000000000000042"]}
    ]


def test_entry_with_record_dict_in_process(sim_env: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole record dict is accepted as `credential` by a Python caller."""
    monkeypatch.delenv("NOETL_IB_CREDENTIALS")
    result = main("account_summary", credential=sim_record(sim_env, "sim_oauth1a"), on_error="raise")
    assert result["ok"] is True
    assert result["account_id"].startswith("DU")


def test_step_failure_is_a_result_not_a_crash(sim_env: Simulator) -> None:
    """An unknown order id gives ok false, isError, a one-line summary and the typed error; exit 0."""
    run = run_python_step(CODE, {"action": "cancel_order", "credential": "sim_oauth2", "order_id": "1"})
    assert run.status == "ok" and run.exit_code == 0
    data = run.result
    assert data["ok"] is False and data["isError"] is True
    assert "\n" not in data["summary"] and data["summary"].startswith("cancel_order failed:")
    assert data["error"]["type"] == "OrderNotFound"  # a BrokerError: exit 4
    assert data["error"]["category"] == "broker"
    assert data["error"]["field"] == "order_id"
    assert "doesn't exist" in data["error"]["message"]
    assert_quiet(run)
    text = json.dumps(data)
    for secret in record_secrets(sim_env.credentials_file):
        assert secret not in text
    assert run.step_failed(provider_error_terminates=True)
    assert not run.step_failed(provider_error_terminates=False)


def test_python_callers_get_the_typed_exception(sim_env: Simulator) -> None:
    """on_error="raise" raises the plugin's error; the default returns it."""
    with pytest.raises(CredentialError, match="credential"):
        main("get_positions", on_error="raise")
    soft = main("get_positions")
    assert soft["ok"] is False and soft["error"]["field"] == "credential"
    assert soft["error"]["type"] == "CredentialError"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "action"),
        ({"action": "get_positions", "credential": "x", "on_error": "ignore"}, "on_error"),
        ({"action": "get_positions", "credential": "x", "allow_live": "maybe"}, "allow_live"),
        ({"action": "get_positions", "credential": {"client_id": ""}}, "credential"),
        ({"action": "get_positions", "credential": {"client_id": "c"}, "credential_type": "nope"},
         "credential_type"),
        ({"action": "nope", "credential": "sim_oauth2"}, "action"),
        # odd shapes a template typo produces: each was a crash or a misleading message before
        ({"action": "get_positions", "credential_type": ["a"]}, "credential_type"),
        ({"action": "get_positions", "credential": "x", "credentials_file": ["a"]},
         "credentials_file"),
        ({"action": "get_positions", "credential": "x", "log_level": ["DEBUG"]}, "log_level"),
        ({"action": "get_positions", "credential": "x", "server_url": ["http://x"]}, "server_url"),
        ({"action": "get_positions", "credential": "x", "execution_id": {"a": 1}}, "execution_id"),
        ({"action": "get_positions", "credential": "x", "step": 3}, "step"),
        ({"action": "get_positions", "credential": "x", "credential_name": {"a": 1}},
         "credential_name"),
        ({"action": "get_positions", "credential": '{"a": ' * 5000 + "1" + "}" * 5000},
         "credential"),
        ({"action": "get_positions", "credential": ["sim_oauth2"]}, "credential"),
        ({"action": "get_positions", "credential": 123}, "credential"),
    ],
)
def test_bad_arguments_name_their_field(
    sim_env: Simulator, kwargs: dict[str, Any], field: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """Every bad argument comes back as an input error naming the field, never as an exception."""
    result = main(**kwargs)
    assert capfd.readouterr() == ("", "")  # step mode prints nothing
    assert result["ok"] is False and result["isError"] is True
    assert result["error"]["category"] == "input"
    assert result["error"]["field"] == field
    assert result["error"]["fix"]


def test_foreign_exceptions_do_not_leak_their_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected exception shows its type only: its text could quote a secret."""
    import noetl_ib_plugin.runner as runner

    def boom(*_: Any, **__: Any) -> Any:
        raise KeyError("-----BEGIN PRIVATE KEY----- secret")

    monkeypatch.setattr(runner, "run_action_typed", boom)
    result = main("get_positions", credential={"type": "ib_oauth", "data": {
        "client_id": "c", "key_id": "k", "private_key_path": "/nonexistent", "credential": "u"}})
    assert result["error"] == {
        "type": "KeyError", "message": "unexpected error inside noetl-ib-plugin", "field": None,
        "category": "internal",
        "fix": "rerun with log_level: DEBUG and report the traceback (it is redacted).",
    }
    assert "BEGIN" not in json.dumps(result)


def test_step_context_comes_from_the_worker_globals() -> None:
    """execution_id and step from globals, catalog_id from variables, the server from env."""
    ctx = step_context_from(
        worker_globals={"execution_id": 48, "step": "buy", "variables": {"catalog_id": 9}},
        environ={"NOETL_SERVER_URL": "http://noetl:8082/"},
    )
    assert (ctx.execution_id, ctx.step, ctx.server_url, ctx.catalog_id) == (
        "48", "buy", "http://noetl:8082", "9")
    pinned = step_context_from(catalog_id=9, worker_globals={},
                               environ={"NOETL_IB_KEYCHAIN_CATALOG_ID": "1"})
    assert pinned.catalog_id == "1" and pinned.server_url is None


def test_default_client_order_id_is_the_order_modules_derivation() -> None:
    """entry's default cOID is derive_client_order_id: stable per execution/step/order, else new."""
    from noetl_ib_plugin.actions.order_ticket import derive_client_order_id

    params = {"symbol": "AAPL", "side": "BUY", "quantity": 1, "order_type": "MKT"}
    coid = default_client_order_id("48", "buy", params)
    assert coid == derive_client_order_id("48", "buy", params) and coid.startswith("nib-")
    assert default_client_order_id("48", "buy", {**params, "client_order_id": "x"}) == coid
    assert default_client_order_id("48", "buy", {**params, "quantity": "1"}) == coid
    assert default_client_order_id("48", "sell", params) != coid
    assert default_client_order_id("49", "buy", params) != coid
    assert default_client_order_id("48", "buy", {**params, "quantity": 2}) != coid


def test_redriven_order_step_is_not_sent_twice(sim_env: Simulator) -> None:
    """Re-running the same execution and step resends the same cOID: one order at IBKR, not two."""
    last = main("snapshot", credential="sim_oauth2", symbols="AAPL", fields="last")["snapshots"][0]
    args = {"action": "place_order", "credential": "sim_oauth2", "symbol": "AAPL", "side": "BUY",
            "quantity": 1, "order_type": "LMT", "limit_price": round(last["last"] * 0.99, 2)}
    first = run_python_step(CODE, args, execution_id="77", step="buy")
    again = run_python_step(CODE, args, execution_id="77", step="buy")
    other = run_python_step(CODE, args, execution_id="78", step="buy")
    assert first.result["ok"] is True, first.result
    coid = first.result["client_order_id"]
    assert coid == default_client_order_id("77", "buy", args)
    assert again.result["client_order_id"] == coid
    assert other.result["client_order_id"] != coid
    assert again.result["order_id"] == first.result["order_id"]
    assert sim_env.stats()["orders_accepted"] == 2


def test_refused_order_reports_its_outcome(sim_env: Simulator) -> None:
    """A place_order input error says outcome refused: nothing was sent to IBKR."""
    result = main("place_order", credential="sim_oauth2", symbol="AAPL", side="BUY", quantity=-1,
                  order_type="MKT")
    assert result["ok"] is False and result["outcome"] == "refused"
    assert result["error"]["field"] == "quantity"
    assert sim_env.stats()["orders_accepted"] == 0


def test_input_error_type_is_kept(sim_env: Simulator) -> None:
    """The error dict's type is the plugin's class name so scripts can branch on it."""
    result = main("snapshot", credential="sim_oauth2", symbols="", fields="last")
    assert result["ok"] is False
    assert result["error"]["type"] == InputError.__name__


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (OrderUnconfirmed("connection reset after sending", client_order_id="nib-1"), "unknown"),
        (TransientError("HTTP 503 from IBKR"), "unknown"),
        (AuthError("refused"), "unknown"),
        (OrderRejected("IBKR rejected it"), "refused"),
        (InputError("bad", field="quantity"), "refused"),
    ],
)
def test_place_order_outcome_is_never_refused_unless_known(exc: Exception, outcome: str) -> None:
    """Only an input error or IBKR's own rejection says refused; anything else may be working."""
    result = failure_result("place_order", exc)
    assert result["outcome"] == outcome
    assert "outcome" not in failure_result("get_positions", exc)
