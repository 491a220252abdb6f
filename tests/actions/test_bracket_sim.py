"""place_bracket / place_oca through run_action, the CLI, entry.main and TradingClient, against the
simulator. Every leg's reported outcome is checked against the simulator's book (the broker's
truth), never against the request or the client's own parsing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from noetl_ib_plugin import TradingClient, entry
from noetl_ib_plugin.cli import main
from noetl_ib_plugin.errors import (
    IdempotencyKeyConflict,
    InputError,
    OrderGroupIncomplete,
    OrderGroupUnconfirmed,
    OrderRejected,
)
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.simulator.common import ApiError
from tests.fixtures.simulators import act

AAPL = 265598
MSFT = 272093


def _bracket(coid: str | None = "br1", **extra: Any) -> dict[str, Any]:
    """BUY 5 AAPL LMT 99 (AAPL pinned at 100: rests) with take-profit 101, stop-loss 97."""
    args: dict[str, Any] = {"symbol": "AAPL", "side": "BUY", "quantity": 5, "order_type": "LMT",
                            "limit_price": 99.0, "take_profit_price": 101.0,
                            "stop_loss_price": 97.0, **extra}
    if coid is not None:
        args["client_order_id"] = coid
    return args


def _book(sim: Simulator) -> dict[str, dict[str, Any]]:
    """The broker's orders by cOID (asserting no cOID is there twice)."""
    orders = sim.orders()
    coids = [str(o["cOID"]) for o in orders]
    assert len(coids) == len(set(coids)), coids
    return {str(o["cOID"]): o for o in orders}


def _agrees(leg: dict[str, Any], held: dict[str, Any]) -> None:
    """A placed leg reports exactly the broker's order."""
    assert leg["outcome"] == "placed"
    assert leg["order_id"] == str(held["order_id"]) and leg["client_order_id"] == held["cOID"]
    assert leg["status"] == held["status"] and leg["side"] == held["side"]
    assert leg["quantity"] == held["quantity"] and leg["order_type"] == held["orderType"]
    price = leg["limit_price"] if held["orderType"] == "LMT" else leg["stop_price"]
    assert price == held["price"]


def test_bracket_places_three_linked_legs_as_the_book_holds_them(priced: Simulator) -> None:
    """Parent working, children held PreSubmitted under `<cOID>-tp` / `-sl`, each as in the book."""
    out = act(priced, "sim_oauth2", "place_bracket", **_bracket())
    book = _book(priced)
    assert [leg["client_order_id"] for leg in out["legs"]] == ["br1", "br1-tp", "br1-sl"]
    assert [leg["role"] for leg in out["legs"]] == ["parent", "take_profit", "stop_loss"]
    for leg in out["legs"]:
        _agrees(leg, book[leg["client_order_id"]])
    assert book["br1-tp"]["parent_cOID"] == book["br1-sl"]["parent_cOID"] == "br1"
    assert book["br1-tp"]["held"] and book["br1-sl"]["held"]
    assert [book[c]["side"] for c in ("br1", "br1-tp", "br1-sl")] == ["BUY", "SELL", "SELL"]
    assert out["legs"][1]["parent_client_order_id"] == "br1"


def test_rerun_with_the_same_key_sends_no_leg_again(priced: Simulator) -> None:
    """A re-run step (same key) is answered from the book: same order ids, nothing new."""
    first = act(priced, "sim_oauth2", "place_bracket", **_bracket())
    again = act(priced, "sim_oauth2", "place_bracket", **_bracket())
    assert [leg["order_id"] for leg in again["legs"]] == [leg["order_id"] for leg in first["legs"]]
    assert all(leg["reconciled"] for leg in again["legs"])
    assert len(_book(priced)) == 3


@pytest.mark.parametrize("unique", [True, False], ids=["coid-unique", "coid-not-unique"])
@pytest.mark.parametrize("kind", ["garbage_html", "garbage_524", "reset_after"])
def test_lost_answer_is_reconciled_leg_by_leg(priced: Simulator, kind: str, unique: bool) -> None:
    """The POST is processed but its answer lost: every leg found by cOID, none sent twice."""
    priced.set_order_options(enforce_coid_unique=unique)
    priced.set_faults({kind: 1.0, "paths": ["/v1/api/iserver/account/DU"], "methods": ["POST"]})
    out = act(priced, "sim_oauth2", "place_bracket", **_bracket())
    priced.set_faults({})
    book = _book(priced)
    assert len(book) == 3
    for leg in out["legs"]:
        assert leg["reconciled"] is True
        _agrees(leg, book[leg["client_order_id"]])


def test_one_leg_refused_is_reported_as_the_broker_holds_it(priced: Simulator) -> None:
    """leg_refused: parent and take-profit held, stop-loss absent -> OrderGroupIncomplete (exit 4)."""
    priced.set_faults({"leg_refused": 1.0, "paths": ["/v1/api/iserver/account/DU"]})
    with pytest.raises(OrderGroupIncomplete) as err:
        act(priced, "sim_oauth2", "place_bracket", **_bracket())
    priced.set_faults({})
    book = _book(priced)
    legs = {leg["client_order_id"]: leg for leg in err.value.legs}
    assert set(book) == {"br1", "br1-tp"}
    assert legs["br1-sl"]["outcome"] == "refused" and legs["br1-sl"]["order_id"] is None
    for coid in ("br1", "br1-tp"):
        assert legs[coid]["outcome"] == "placed"
        assert legs[coid]["order_id"] == str(book[coid]["order_id"])
    assert str(book["br1"]["order_id"]) in (err.value.fix or "")


def test_lost_answer_with_lookups_failing_is_unknown_exit_6(
        priced: Simulator, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Placed but answered 500, live orders/trades failing: every leg unknown (exit 6), sent once."""
    broker = priced.engine.broker
    place = broker.place
    sent: list[int] = []

    def processed_then_500(*args: Any, **kwargs: Any) -> Any:
        sent.append(1)
        place(*args, **kwargs)
        raise ApiError(500, {"error": "Internal Server Error", "statusCode": 500})

    monkeypatch.setattr(broker, "place", processed_then_500)
    priced.set_faults({"http_500": 1.0, "methods": ["GET"],
                       "paths": ["/v1/api/iserver/account/orders",
                                 "/v1/api/iserver/account/trades"]})
    argv = ["run", "place_bracket", "--credential", "sim_oauth2", "--credentials-file",
            str(priced.credentials_file), "--args-json", json.dumps(_bracket())]
    code = main(argv)
    priced.set_faults({})
    error = json.loads(capsys.readouterr().err.strip().splitlines()[-1])["error"]
    assert code == 6 and error["type"] == "OrderGroupUnconfirmed"
    assert [leg["outcome"] for leg in error["legs"]] == ["unknown"] * 3
    assert "br1" in error["message"] and len(sent) == 1 and len(_book(priced)) == 3


def test_wrong_side_prices_are_input_errors_before_any_request(priced: Simulator) -> None:
    """Take-profit below a BUY entry, stop above it, SELL mirrored: InputError, book empty."""
    cases = [
        (_bracket(take_profit_price=98.0), "take_profit_price"),
        (_bracket(stop_loss_price=99.5), "stop_loss_price"),
        (_bracket(side="SELL", limit_price=101.0, take_profit_price=102.0,
                  stop_loss_price=103.0), "take_profit_price"),
        (_bracket(side="SELL", limit_price=101.0, take_profit_price=99.0,
                  stop_loss_price=100.0), "stop_loss_price"),
        (_bracket(order_type="MKT", limit_price=None, take_profit_price=97.0,
                  stop_loss_price=101.0), "stop_loss_price"),
        (_bracket(take_profit_price=None, stop_loss_price=None), "take_profit_price"),
        (_bracket(tif="IOC"), "exit_tif"),
    ]
    for given, field in cases:
        args = {k: v for k, v in given.items() if v is not None}
        with pytest.raises(InputError) as err:
            act(priced, "sim_oauth2", "place_bracket", **args)
        assert err.value.field == field, (args, err.value)
        assert (err.value.fix or "").startswith(("pass ", "add ")), err.value.fix
    assert priced.orders() == []


def test_the_fix_for_a_wrong_take_profit_works_when_copied(priced: Simulator) -> None:
    """The suggested take_profit_price, pasted as given, places the bracket."""
    with pytest.raises(InputError) as err:
        act(priced, "sim_oauth2", "place_bracket", **_bracket(take_profit_price=98.0))
    value = (err.value.fix or "").split("take_profit_price=")[1].split()[0]
    out = act(priced, "sim_oauth2", "place_bracket", **_bracket(take_profit_price=value))
    assert out["legs"][1]["limit_price"] == float(value)


def test_question_about_a_child_is_answered_by_id_for_the_group(priced: Simulator) -> None:
    """A take-profit 10% away asks o163: declined by default (nothing held), placed with confirm."""
    with pytest.raises(OrderRejected) as err:
        act(priced, "sim_oauth2", "place_bracket", **_bracket(take_profit_price=110.0))
    assert "o163" in str(err.value) and priced.orders() == []
    out = act(priced, "sim_oauth2", "place_bracket",
              **_bracket(take_profit_price=110.0, confirm=["o163"]))
    assert out["confirmed_message_ids"] == ["o163"] and len(_book(priced)) == 3


def test_oca_group_places_each_leg_and_the_first_fill_cancels_the_rest(priced: Simulator) -> None:
    """place_oca: two legs on two contracts in one group; AAPL fills -> MSFT leg cancelled."""
    priced.set_price(MSFT, 400.0)
    orders = [{"symbol": "AAPL", "side": "BUY", "quantity": 2, "order_type": "LMT",
               "limit_price": 99.0},
              {"symbol": "MSFT", "side": "BUY", "quantity": 1, "order_type": "LMT",
               "limit_price": 395.0}]
    out = act(priced, "sim_oauth2", "place_oca", orders=orders, client_order_id="oca1")
    book = _book(priced)
    assert [leg["client_order_id"] for leg in out["legs"]] == ["oca1-1", "oca1-2"]
    for leg in out["legs"]:
        _agrees(leg, book[leg["client_order_id"]])
    assert book["oca1-1"]["oca_group"] == book["oca1-2"]["oca_group"] is not None
    priced.set_price(AAPL, 98.5)
    priced.engine.broker.evaluate()
    assert {c: o["status"] for c, o in _book(priced).items()} == {"oca1-1": "Filled",
                                                                  "oca1-2": "Cancelled"}


def test_oca_legs_may_not_carry_group_arguments(priced: Simulator) -> None:
    """account_id inside one OCA order is an InputError naming orders.1.account_id."""
    orders = [{"symbol": "AAPL", "side": "BUY", "quantity": 1, "order_type": "MKT"},
              {"symbol": "AAPL", "side": "SELL", "quantity": 1, "order_type": "MKT",
               "account_id": "DU1234567"}]
    with pytest.raises(InputError) as err:
        act(priced, "sim_oauth2", "place_oca", orders=orders)
    assert err.value.field == "orders.1.account_id" and priced.orders() == []


def test_oca_orders_text_nested_deep_is_a_typed_error(priced: Simulator) -> None:
    """entry.main with orders= JSON text nested 5000 deep: InputError on orders, not internal."""
    out = entry.main("place_oca", "sim_oauth2", str(priced.credentials_file),
                     orders="[" * 5000 + "]" * 5000)
    assert (out["error"]["type"], out["error"]["field"]) == ("InputError", "orders")
    assert priced.orders() == []


def test_oca_leg_id_equal_to_a_derived_one_is_an_input_error(priced: Simulator) -> None:
    """orders[0] named g-2, the id derived for orders[1]: InputError naming orders.0, none sent."""
    orders = [{"symbol": "AAPL", "side": "BUY", "quantity": 1, "order_type": "LMT",
               "limit_price": 99, "client_order_id": "g-2"},
              {"symbol": "MSFT", "side": "BUY", "quantity": 1, "order_type": "LMT",
               "limit_price": 99}]
    with pytest.raises(InputError) as err:
        act(priced, "sim_oauth2", "place_oca", orders=orders, client_order_id="g")
    assert err.value.field == "orders.0.client_order_id" and priced.orders() == []
    orders[0]["client_order_id"] = "g-2x"  # the fix, as written
    priced.set_price(MSFT, 100.0)
    out = act(priced, "sim_oauth2", "place_oca", orders=orders, client_order_id="g")
    assert [leg["client_order_id"] for leg in out["legs"]] == ["g-2x", "g-2"]


def test_entry_main_derives_the_key_so_a_redriven_step_sends_nothing(priced: Simulator) -> None:
    """Two entry.main calls of the same execution and step: one set of legs in the book."""
    args = {"action": "place_bracket", "credential": "sim_oauth2",
            "credentials_file": str(priced.credentials_file), **_bracket(coid=None)}
    first = entry.main(execution_id="e1", step="enter", **args)
    second = entry.main(execution_id="e1", step="enter", **args)
    assert first["ok"] is True and second["ok"] is True
    legs1, legs2 = first["legs"], second["legs"]
    assert [leg["order_id"] for leg in legs1] == [leg["order_id"] for leg in legs2]
    assert legs1[0]["client_order_id"].startswith("nib-") and len(_book(priced)) == 3


def test_trading_client_returns_the_typed_group(priced: Simulator) -> None:
    """TradingClient.place_bracket / place_oca return OrderGroupOutput with typed legs."""
    with TradingClient("sim_oauth2", credentials_file=priced.credentials_file) as ib:
        group = ib.place_bracket(symbol="AAPL", side="BUY", quantity=1, order_type="LMT",
                                 limit_price=99.0, take_profit_price=101.0,
                                 stop_loss_price=97.0, client_order_id="tc1")
        oca = ib.place_oca([{"symbol": "AAPL", "side": "SELL", "quantity": 1,
                             "order_type": "LMT", "limit_price": 101.0},
                            {"symbol": "AAPL", "side": "SELL", "quantity": 1,
                             "order_type": "STP", "stop_price": 97.0}], client_order_id="tc2")
    assert group.order_id == group.legs[0].order_id and group.legs[2].role == "stop_loss"
    assert [leg.outcome for leg in oca.legs] == ["placed", "placed"]
    assert oca.legs[1].stop_price == 97.0 and group.group_type == "bracket"


def test_cancelling_the_parent_leaves_no_child(priced: Simulator) -> None:
    """cancel_order on the parent: the simulator cancels both children (no orphan)."""
    out = act(priced, "sim_oauth2", "place_bracket", **_bracket())
    act(priced, "sim_oauth2", "cancel_order", order_id=out["legs"][0]["order_id"])
    priced.engine.broker.evaluate()
    assert {o["status"] for o in priced.orders()} == {"Cancelled"}


def test_group_unconfirmed_is_not_a_broker_error() -> None:
    """OrderGroupUnconfirmed is an OrderUnconfirmed (exit 6); Incomplete is a BrokerError (exit 4)."""
    unknown = OrderGroupUnconfirmed("lost", client_order_id="g", legs=[])
    assert unknown.category == "unknown" and "g" in str(unknown)
    part = OrderGroupIncomplete("part", client_order_id="g", legs=[], fix="cancel 1.")
    assert part.category == "broker" and part.to_dict()["legs"] == []


def test_cli_key_value_form_places_a_bracket_and_an_oca_group(
        priced: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    """`noetl-ib run place_bracket k=v ...` and `place_oca orders='[...]'` exit 0 with the legs."""
    base = ["--credential", "sim_oauth2", "--credentials-file", str(priced.credentials_file)]
    code = main(["run", "place_bracket", *base, "symbol=AAPL", "side=SELL", "quantity=2",
                 "order_type=LMT", "limit_price=101", "take_profit_price=99",
                 "stop_loss_price=103", "client_order_id=cli1", "exit_tif=gtc"])
    bracket = json.loads(capsys.readouterr().out)
    orders = json.dumps([{"symbol": "AAPL", "side": "BUY", "quantity": 1, "order_type": "LMT",
                          "limit_price": 99},
                         {"symbol": "MSFT", "side": "BUY", "quantity": 1, "order_type": "LMT",
                          "limit_price": 99}])
    priced.set_price(MSFT, 100.0)
    code_oca = main(["run", "place_oca", *base, f"orders={orders}", "client_order_id=cli2"])
    oca = json.loads(capsys.readouterr().out)
    assert (code, code_oca) == (0, 0)
    book = _book(priced)
    assert [book[leg["client_order_id"]]["tif"] for leg in bracket["legs"]] == ["DAY", "GTC", "GTC"]
    assert [leg["client_order_id"] for leg in oca["legs"]] == ["cli2-1", "cli2-2"]
    assert all(book[leg["client_order_id"]]["side"] == leg["side"] for leg in bracket["legs"])


def test_threads_placing_one_group_key_send_it_once(priced: Simulator) -> None:
    """Four threads of one TradingClient place the same bracket key at once: one set of legs."""
    from concurrent.futures import ThreadPoolExecutor

    with TradingClient("sim_oauth2", credentials_file=priced.credentials_file) as ib:
        ib.connect()
        args = _bracket("th1")
        with ThreadPoolExecutor(4) as pool:
            groups = list(pool.map(lambda _: ib.place_bracket(**args), range(4)))
    ids = {tuple(leg.order_id for leg in g.legs) for g in groups}
    assert len(ids) == 1 and len(_book(priced)) == 3


def test_group_key_naming_another_order_is_a_conflict_and_places_nothing(
        priced: Simulator) -> None:
    """A bracket keyed by a cOID IBKR holds for another order: IdempotencyKeyConflict, no leg."""
    act(priced, "sim_oauth2", "place_order", symbol="AAPL", side="BUY", quantity=1,
        order_type="LMT", limit_price=98.0, client_order_id="taken1")
    with pytest.raises(IdempotencyKeyConflict) as err:
        act(priced, "sim_oauth2", "place_bracket", **_bracket("taken1"))
    assert err.value.client_order_id == "taken1"
    assert set(_book(priced)) == {"taken1"}
