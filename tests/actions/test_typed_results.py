"""Typed results end to end: every front door serialises the action's model at the edge, and what
it prints or returns is exactly what the old dict path (validate, `model_dump(mode="json")`) gave."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from noetl_ib_plugin import TradingClient
from noetl_ib_plugin.actions import BUILTIN_ACTIONS
from noetl_ib_plugin.actions.spec import Action
from noetl_ib_plugin.cli import main as cli_main
from noetl_ib_plugin.entry import main as entry_main
from noetl_ib_plugin.runner import default_host, run_action, run_action_typed
from noetl_ib_plugin.simulator import Simulator

CRED = "sim_oauth1a"
AAPL = 265598
#: A buy limit 1% under the price: it rests (no fill) and asks no percentage-constraint question.
RESTING: dict[str, Any] = {"symbol": "AAPL", "side": "BUY", "quantity": 1, "order_type": "LMT",
                           "limit_price": 99.0}


def _placed(sim: Simulator) -> str:
    """A fresh resting order's id (for the actions that name one)."""
    out = run_action("place_order", CRED, credentials_file=sim.credentials_file, **RESTING)
    return str(out["order_id"])


#: action -> (arguments given the simulator, the TradingClient method that runs it)
CASES: dict[str, tuple[Callable[[Simulator], dict[str, Any]], str]] = {
    "place_order": (lambda sim: dict(RESTING), "place_order"),
    "place_bracket": (lambda sim: {**RESTING, "take_profit_price": 101.0,
                                   "stop_loss_price": 97.0}, "place_bracket"),
    "place_oca": (lambda sim: {"orders": [dict(RESTING), {**RESTING, "limit_price": 98.5}]},
                  "place_oca"),
    "cancel_order": (lambda sim: {"order_id": _placed(sim)}, "cancel_order"),
    "modify_order": (lambda sim: {"order_id": _placed(sim), "limit_price": 98.5}, "modify_order"),
    "get_open_orders": (lambda sim: {}, "get_open_orders"),
    "get_positions": (lambda sim: {}, "get_positions"),
    "account_summary": (lambda sim: {}, "get_account_balance"),
    "snapshot": (lambda sim: {"symbols": ["AAPL"]}, "get_market_data"),
    "history": (lambda sim: {"symbol": "AAPL", "period": "1w", "bar": "1d"}, "get_history"),
    "ledger": (lambda sim: {}, "get_ledger"),
    "accounts": (lambda sim: {}, "get_accounts"),
    "auth_status": (lambda sim: {}, "auth_status"),
    "order_status": (lambda sim: {"order_id": _placed(sim)}, "get_order_status"),
    "trades": (lambda sim: {"days": 2}, "get_trades"),
    "wait_order": (lambda sim: {"order_id": _placed(sim), "until": "working", "timeout": 5},
                   "wait_order"),
    "wait_price": (lambda sim: {"symbol": "AAPL", "condition": "last >= 1", "timeout": 5},
                   "wait_price"),
    "preview_order": (lambda sim: dict(RESTING), "preview_order"),
    "get_pnl": (lambda sim: {}, "get_pnl"),
    "search_contracts": (lambda sim: {"symbol": "AAPL", "sec_type": "OPT", "month": "JAN30"},
                         "search_contracts"),
}


def _old_dict_path(model: type[BaseModel] | None, raw: dict[str, Any]) -> dict[str, Any]:
    """What the runner returned before typed results: the validated model's JSON dump, else raw."""
    if model is None:
        return raw
    try:
        return model.model_validate(raw).model_dump(mode="json")
    except ValidationError:
        return raw


@pytest.fixture
def spied(sim_reset: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Every built-in action wrapped so each raw result its run function returns is recorded."""
    sim_reset.set_price(AAPL, 100.0)
    raws: list[dict[str, Any]] = []
    actions = default_host().registry.actions
    for name in CASES:
        original = actions[name]

        def run(client: Any, inp: Any, _run: Any = original.run, **collaborators: Any) -> Any:
            raw = _run(client, inp, **collaborators)  # open_stream for streams=True actions
            raws.append(raw)
            return raw

        monkeypatch.setitem(actions, name, Action(
            name, original.input_model, run, original.description, original.trading,
            output_model=original.output_model, streams=original.streams))
    yield raws


def test_every_builtin_action_has_a_case() -> None:
    """A new built-in action must join CASES, so its edge is compared too."""
    assert {action.name for action in BUILTIN_ACTIONS} == set(CASES)


def _words(args: dict[str, Any]) -> list[str]:
    """key=value words the CLI parses back to the same values."""
    return [f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in args.items()]


@pytest.mark.usefixtures("fresh_runner_clients", "restore_root_logging")
@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_prints_byte_for_byte_what_the_dict_path_printed(
    spied: list[dict[str, Any]], sim_reset: Simulator, name: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`noetl-ib run NAME`'s stdout equals the old dict path's JSON line, byte for byte."""
    args = CASES[name][0](sim_reset)
    capsys.readouterr()
    spied.clear()
    code = cli_main(["run", name, "--credential", CRED, "--credentials-file",
                     str(sim_reset.credentials_file), *_words(args)])
    printed = capsys.readouterr().out
    assert code == 0
    [raw] = spied
    expected = _old_dict_path(default_host().registry.actions[name].output_model, raw)
    assert printed == json.dumps(expected, separators=(",", ":"), default=str) + "\n"


@pytest.mark.parametrize("name", sorted(CASES))
def test_entry_main_returns_what_the_dict_path_returned(
    spied: list[dict[str, Any]], sim_reset: Simulator, name: str,
) -> None:
    """entry.main's step result (ok, outcome) equals the old dict path's, key order included."""
    args = CASES[name][0](sim_reset)
    spied.clear()
    out = entry_main(name, CRED, str(sim_reset.credentials_file), **args)
    [raw] = spied
    expected = json.loads(json.dumps(
        _old_dict_path(default_host().registry.actions[name].output_model, raw), default=str))
    expected.setdefault("ok", True)
    if name == "place_order":
        expected.setdefault("outcome", "placed")
    assert json.dumps(out) == json.dumps(expected)


@pytest.mark.parametrize("name", sorted(CASES))
def test_trading_client_returns_the_model_without_a_json_round_trip(
    spied: list[dict[str, Any]], sim_reset: Simulator, name: str,
) -> None:
    """TradingClient's model equals the one the old path re-read from JSON, and dumps the same."""
    args, method = CASES[name]
    given = args(sim_reset)
    spied.clear()
    with TradingClient(CRED, credentials_file=sim_reset.credentials_file) as ib:
        typed = getattr(ib, method)(**given)
    [raw] = spied
    model = default_host().registry.actions[name].output_model
    assert model is not None and type(typed) is model
    old = model.model_validate(_old_dict_path(model, raw))
    assert typed == old
    assert typed.model_dump(mode="json") == old.model_dump(mode="json")


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_builtin_run_function_returns_its_output_model(
    spied: list[dict[str, Any]], sim_reset: Simulator, name: str,
) -> None:
    """A built-in action's run function gives its output model itself; no dict before the edge."""
    args = CASES[name][0](sim_reset)
    spied.clear()
    run_action(name, CRED, credentials_file=sim_reset.credentials_file, **args)
    [raw] = spied
    built: Any = raw
    model = default_host().registry.actions[name].output_model
    assert model is not None and type(built) is model


def _answering_once(monkeypatch: pytest.MonkeyPatch, name: str) -> Action:
    """Make action `name` answer every call with its first answer (ledger times move between
    calls, so two calls compare only when they see one broker answer)."""
    actions = default_host().registry.actions
    original = actions[name]
    answers: list[Any] = []

    def run(client: Any, inp: Any) -> Any:
        if not answers:
            answers.append(original.run(client, inp))
        return answers[0]

    monkeypatch.setitem(actions, name, Action(
        name, original.input_model, run, original.description, output_model=original.output_model))
    return original


def test_run_action_typed_gives_the_model_and_run_action_its_json(
    sim_reset: Simulator, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """run_action_typed returns the output model; run_action returns that model's JSON dump."""
    _answering_once(monkeypatch, "ledger")
    typed = run_action_typed("ledger", CRED, credentials_file=sim_reset.credentials_file)
    model = default_host().registry.actions["ledger"].output_model
    assert model is not None and isinstance(typed, model)
    plain = run_action("ledger", CRED, credentials_file=sim_reset.credentials_file)
    assert isinstance(plain, dict) and plain["currencies"][0]["currency"] == "BASE"
    assert model.model_validate(plain) == typed


def test_trading_client_hands_over_the_very_model_the_action_built(
    sim_reset: Simulator, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An action returning its model reaches the bot as that same object (no dump and reload)."""
    actions = default_host().registry.actions
    original = actions["ledger"]
    model = original.output_model
    assert model is not None
    built: list[BaseModel] = []
    first: list[Any] = []

    def run(client: Any, inp: Any) -> BaseModel:
        if not first:  # one broker answer for both calls below (ledger times move)
            first.append(original.run(client, inp))
        built.append(model.model_validate(first[0]))
        return built[-1]

    monkeypatch.setitem(actions, "ledger", Action(
        "ledger", original.input_model, run, original.description, output_model=model))
    with TradingClient(CRED, credentials_file=sim_reset.credentials_file) as ib:
        typed = ib.get_ledger()
    assert typed is built[-1]
    assert run_action("ledger", CRED, credentials_file=sim_reset.credentials_file) == \
        built[-1].model_dump(mode="json")
