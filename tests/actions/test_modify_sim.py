"""modify_order against the simulator: the outcome we report is what the simulator's book holds.

The oracle is the simulator's own order record (`sim.orders()`: values and the list of
modifications it applied), never this package's parsers.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from noetl_ib_plugin.cli._io import error_exit_code
from noetl_ib_plugin.entry import main
from noetl_ib_plugin.errors import (
    InputError,
    ModifyUnconfirmed,
    OrderNotFound,
    OrderNotWorking,
    OrderRejected,
)
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.trading import TradingClient
from tests.fixtures.simulators import act

AAPL = 265598
ACCOUNT = "DU1234567"
MODIFY_PATHS = {"paths": [f"/v1/api/iserver/account/{ACCOUNT}/order/"], "methods": ["POST"]}


def _book(sim: Simulator, order_id: str) -> dict[str, Any]:
    """The simulator's record of one order."""
    return next(o for o in sim.orders() if str(o["order_id"]) == order_id)


def _resting(sim: Simulator, **extra: Any) -> str:
    """A BUY 5 AAPL LMT 98 that rests at the simulator (AAPL at 100)."""
    args = {"symbol": "AAPL", "side": "BUY", "quantity": 5, "order_type": "LMT",
            "limit_price": 98.0, **extra}
    return str(act(sim, "sim_oauth2", "place_order", **args)["order_id"])


def test_modify_price_and_quantity_reports_the_book(priced: Simulator) -> None:
    """The result is the order as the book holds it, applied once."""
    oid = _resting(priced)
    out = act(priced, "sim_oauth2", "modify_order", order_id=oid, limit_price=98.5, quantity=7,
              tif="GTC")
    held = _book(priced, oid)
    assert (held["price"], held["quantity"], held["tif"]) == (98.5, 7.0, "GTC")
    assert (out["limit_price"], out["quantity"], out["tif"]) == (98.5, 7.0, "GTC")
    assert (out["outcome"], out["reconciled"], out["resent"]) == ("applied", False, False)
    assert out["changed"] == ["quantity", "limit_price", "tif"]
    assert len(held["modifications"]) == 1


def test_same_target_again_sends_nothing(priced: Simulator) -> None:
    """Target values, not deltas: the same modification twice is applied once."""
    oid = _resting(priced)
    act(priced, "sim_oauth2", "modify_order", order_id=oid, quantity=9)
    again = act(priced, "sim_oauth2", "modify_order", order_id=oid, quantity=9)
    assert again["outcome"] == "unchanged" and again["quantity"] == 9.0
    assert len(_book(priced, oid)["modifications"]) == 1


def test_lost_answer_applied_is_reported_applied_once(priced: Simulator) -> None:
    """modify_lost: applied then reset; reading back shows it, nothing is resent."""
    oid = _resting(priced)
    priced.set_faults({"modify_lost": 1.0})
    out = act(priced, "sim_oauth2", "modify_order", order_id=oid, quantity=8)
    priced.set_faults({})
    assert (out["reconciled"], out["resent"], out["quantity"]) == (True, False, 8.0)
    assert [m["quantity"] for m in _book(priced, oid)["modifications"]] == [8.0]
    assert priced.stats()["faults_injected"]["modify_lost"] == 1


def _seed_lost_then_kept(p: float) -> int:
    """A plan seed whose first draw of one kind hits and second misses (one draw per request)."""
    for seed in range(1000):
        rng = random.Random(seed)
        if rng.random() < p <= rng.random():
            return seed
    raise AssertionError("no seed")


def test_lost_before_processing_is_resent_once(priced: Simulator) -> None:
    """Lost before it reached the book: old values for the settle wait, resent once, applied once."""
    oid = _resting(priced)
    priced.set_faults({"seed": _seed_lost_then_kept(0.5), "reset_before": 0.5, **MODIFY_PATHS})
    out = act(priced, "sim_oauth2", "modify_order", order_id=oid, limit_price=97.5)
    priced.set_faults({})
    assert (out["reconciled"], out["resent"], out["limit_price"]) == (False, True, 97.5)
    assert [m["price"] for m in _book(priced, oid)["modifications"]] == [97.5]


def test_lost_twice_is_unknown_exit_6_and_never_applied(priced: Simulator) -> None:
    """Every send lost before processing: resent once, then ModifyUnconfirmed; the book unchanged."""
    oid = _resting(priced)
    priced.set_faults({"reset_before": 1.0, **MODIFY_PATHS})
    with pytest.raises(ModifyUnconfirmed) as info:
        act(priced, "sim_oauth2", "modify_order", order_id=oid, limit_price=97.5)
    priced.set_faults({})
    assert error_exit_code(info.value) == 6 and info.value.order_id == oid
    assert _book(priced, oid)["modifications"] == [] and _book(priced, oid)["price"] == 98.0
    assert priced.stats()["faults_injected"]["reset_before"] == 2


def test_filled_meanwhile_and_answer_lost_reports_the_fill(priced: Simulator) -> None:
    """Filled before the modification, answer lost: OrderNotWorking with the book's fill."""
    oid = _resting(priced)
    priced.set_faults({"modify_fill_race": 1.0, "modify_lost": 1.0})
    with pytest.raises(OrderNotWorking) as info:
        act(priced, "sim_oauth2", "modify_order", order_id=oid, quantity=6)
    priced.set_faults({})
    held = _book(priced, oid)
    assert (held["status"], held["modifications"]) == ("Filled", [])
    assert info.value.order_status == "Filled" and info.value.filled_quantity == held["filled"]
    assert error_exit_code(info.value) == 4


def test_filled_meanwhile_refusal_reports_the_fill(priced: Simulator) -> None:
    """IBKR refuses the modification of an order that just filled: OrderNotWorking, not a guess."""
    oid = _resting(priced)
    priced.set_faults({"modify_fill_race": 1.0})
    with pytest.raises(OrderNotWorking) as info:
        act(priced, "sim_oauth2", "modify_order", order_id=oid, limit_price=98.2)
    priced.set_faults({})
    assert info.value.avg_price == pytest.approx(_book(priced, oid)["avgPrice"])


def test_not_working_orders_are_refused_before_any_request(priced: Simulator) -> None:
    """Filled and cancelled orders: OrderNotWorking naming the status; no modify POST sent."""
    filled = str(act(priced, "sim_oauth2", "place_order", symbol="AAPL", side="BUY",
                     quantity=1, order_type="MKT")["order_id"])
    cancelled = _resting(priced)
    act(priced, "sim_oauth2", "cancel_order", order_id=cancelled)
    for oid, status in ((filled, "Filled"), (cancelled, "Cancelled")):
        with pytest.raises(OrderNotWorking, match=status) as info:
            act(priced, "sim_oauth2", "modify_order", order_id=oid, quantity=3)
        assert "order_status" in (info.value.fix or "")
    sent = priced.stats()["requests_by_endpoint"]
    assert "POST /v1/api/iserver/account/{acct}/order/{id}" not in sent, sent


def test_unknown_order_is_order_not_found_exit_4(priced: Simulator) -> None:
    """An id IBKR does not know: the existing OrderNotFound (exit 4)."""
    with pytest.raises(OrderNotFound) as info:
        act(priced, "sim_oauth2", "modify_order", order_id="99", limit_price=1.0)
    assert error_exit_code(info.value) == 4


@pytest.mark.parametrize(("args", "field"), [
    ({"stop_price": 97.0}, "stop_price"),
    ({"trailing_amount": 1.0}, "trailing_amount"),
    ({"limit_offset": 0.1}, "limit_offset"),
    ({"side": "SELL", "limit_price": 97.0}, "side"),
    ({"conid": 272093, "limit_price": 97.0}, "conid"),
    ({"order_type": "MKT", "quantity": 6}, "order_type"),
    ({"quantity": 0.5}, "quantity"),
])
def test_inapplicable_or_identity_changes_are_input_errors(priced: Simulator,
                                                           args: dict[str, Any],
                                                           field: str) -> None:
    """Inapplicable field, side/contract/type change, quantity <= filled: InputError, book unchanged."""
    priced.set_order_options(partial_fill_lot=1)
    oid = str(act(priced, "sim_oauth2", "place_order", symbol="AAPL", side="BUY", quantity=5,
                  order_type="LMT", limit_price=100.0)["order_id"])
    with pytest.raises(InputError) as info:
        act(priced, "sim_oauth2", "modify_order", order_id=oid, **args)
    assert info.value.field == field and info.value.fix
    assert _book(priced, oid)["modifications"] == []


def test_declined_question_leaves_the_order_as_it_was(priced: Simulator) -> None:
    """o163 on a big change is declined by default; confirm=o163 applies it."""
    oid = _resting(priced)
    with pytest.raises(OrderRejected, match="o163") as info:
        act(priced, "sim_oauth2", "modify_order", order_id=oid, limit_price=90.0)
    assert "confirm" in (info.value.fix or "") and _book(priced, oid)["price"] == 98.0
    out = act(priced, "sim_oauth2", "modify_order", order_id=oid, limit_price=90.0,
              confirm="o163")
    assert out["confirmed_message_ids"] == ["o163"] and _book(priced, oid)["price"] == 90.0


def test_trailing_amount_modified_through_the_trading_client(priced: Simulator) -> None:
    """TradingClient.modify_order changes a TRAIL order's amount; typed output, book agrees."""
    with TradingClient("sim_oauth2", credentials_file=priced.credentials_file) as ib:
        placed = ib.place_order(symbol="AAPL", side="SELL", quantity=2, order_type="TRAIL",
                                trailing_amount=2, trailing_type="amt")
        out = ib.modify_order(placed.order_id, trailing_amount=0.5)
    held = _book(priced, placed.order_id)
    assert (held["trailingAmt"], held["trailStop"]) == (0.5, 99.5)
    assert (out.trailing_amount, out.trailing_type, out.stop_price) == (0.5, "amt", 99.5)


def test_modify_through_entry_main_and_cli(priced: Simulator,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """entry.main returns ok with the applied order; the CLI prints the same JSON and exits 0."""
    from noetl_ib_plugin.cli import main as cli_main

    oid = _resting(priced)
    out = main(action="modify_order", credential="sim_oauth2", order_id=oid, limit_price=97.0,
               credentials_file=str(priced.credentials_file))
    assert out["ok"] is True and out["limit_price"] == 97.0, json.dumps(out)
    code = cli_main(["run", "modify_order", "--credential", "sim_oauth2", "--credentials-file",
                     str(priced.credentials_file), f"order_id={oid}", "quantity=6"])
    printed = json.loads(capsys.readouterr().out)
    assert code == 0 and printed["quantity"] == 6.0 and _book(priced, oid)["quantity"] == 6.0


def test_price_modify_of_a_fractional_order_keeps_its_size(priced: Simulator) -> None:
    """Re-pricing BUY 1.25 (status prints 1.2) leaves the book's size at 1.25 shares."""
    oid = _resting(priced, quantity=1.25)
    out = act(priced, "sim_oauth2", "modify_order", order_id=oid, limit_price=97.5)
    held = _book(priced, oid)
    assert (held["quantity"], held["price"]) == (1.25, 97.5)
    assert out["outcome"] == "applied" and len(held["modifications"]) == 1


@pytest.mark.parametrize(("placed", "change"), [
    ({"trailing_amount": 2, "trailing_type": "%"}, {"trailing_amount": 150}),
    ({"trailing_amount": 150, "trailing_type": "amt", "side": "BUY"}, {"trailing_type": "%"})])
def test_trailing_percent_of_100_or_more_is_refused_before_sending(
        priced: Simulator, placed: dict[str, Any], change: dict[str, Any]) -> None:
    """A new amount or type that makes the order trail by >= 100 %: InputError, nothing sent."""
    args = {"symbol": "AAPL", "side": "SELL", "quantity": 1, "order_type": "TRAIL", **placed}
    oid = str(act(priced, "sim_oauth2", "place_order", **args)["order_id"])
    with pytest.raises(InputError) as err:
        act(priced, "sim_oauth2", "modify_order", order_id=oid, **change)
    assert err.value.field == "trailing_amount" and "trailing_amount=1.5" in str(err.value.fix)
    assert _book(priced, oid)["modifications"] == []


def test_quantity_equal_to_the_rounded_status_size_is_sent(priced: Simulator) -> None:
    """BUY 1.25 (status prints 1.2) modified to quantity=1.2: applied, the book holds 1.2."""
    oid = _resting(priced, quantity=1.25)
    out = act(priced, "sim_oauth2", "modify_order", order_id=oid, quantity=1.2)
    held = _book(priced, oid)
    assert out["outcome"] == "applied" and held["quantity"] == 1.2
    assert [m["quantity"] for m in held["modifications"]] == [1.2]
