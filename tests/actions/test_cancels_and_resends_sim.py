"""Cancels and reused cOIDs after a lost answer or a brokerage-session change.

The oracle is the simulator's order book (`Simulator.orders()`), never the client's parsing.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from noetl_ib_plugin.cli import main
from noetl_ib_plugin.errors import BrokerError, IdempotencyKeyConflict
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.trading import TradingClient
from tests.fixtures.simulators import act

GARBAGE = ("garbage_html", "garbage_empty", "garbage_shape", "garbage_408", "garbage_501",
           "garbage_524")


def _order(coid: str, **extra: Any) -> dict[str, Any]:
    """BUY 3 AAPL LMT 99 DAY (AAPL pinned at 100: it rests) under `coid`."""
    return {"symbol": "AAPL", "side": "BUY", "quantity": 3, "order_type": "LMT",
            "limit_price": 99.0, "tif": "DAY", "client_order_id": coid, **extra}


def _book(sim_reset: Simulator, order_id: str) -> dict[str, Any]:
    """The broker's record of one order."""
    return next(o for o in sim_reset.orders() if str(o["order_id"]) == order_id)


def _cli(sim_reset: Simulator, capsys: pytest.CaptureFixture[str], action: str,
         args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """`noetl-ib run ACTION` in-process: (exit code, result or error)."""
    code = main(["run", action, "--credential", "sim_oauth2", "--credentials-file",
                 str(sim_reset.credentials_file), "--args-json", json.dumps(args)])
    out, err = capsys.readouterr()
    return code, json.loads(out) if code == 0 else json.loads(err.strip().splitlines()[-1])["error"]


def _new_session(sim_reset: Simulator) -> None:
    """Close the caller's brokerage session (a placement with the session_change fault)."""
    sim_reset.set_faults({"session_change": 1.0})
    act(sim_reset, "sim_oauth2", "place_order", **_order("other-order"))
    sim_reset.set_faults({})


@pytest.mark.parametrize("kind", GARBAGE)
def test_cancel_with_an_unreadable_answer_is_reconciled(priced: Simulator, kind: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A cancel IBKR processed but answered with junk exits 0 (reconciled), never 4."""
    placed = act(priced, "sim_oauth2", "place_order", **_order(f"cx-{kind}"))
    priced.set_faults({kind: 1.0, "garbage_methods": ["DELETE"]})
    code, out = _cli(priced, capsys, "cancel_order", {"order_id": placed["order_id"]})
    assert priced.stats()["faults_injected"].get(kind)
    assert _book(priced, placed["order_id"])["status"] in ("Cancelled", "PendingCancel")
    assert code == 0 and out["reconciled"] is True and out["order_id"] == placed["order_id"]


def test_cancel_retried_after_a_session_change_is_already_cancelled(
        priced: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    """A retried cancel of an order cancelled before a session change: exit 0, already_cancelled."""
    placed = act(priced, "sim_oauth2", "place_order", **_order("cs-1"))
    act(priced, "sim_oauth2", "cancel_order", order_id=placed["order_id"])
    _new_session(priced)
    code, out = _cli(priced, capsys, "cancel_order", {"order_id": placed["order_id"]})
    assert _book(priced, placed["order_id"])["status"] == "Cancelled"
    assert code == 0 and out["already_cancelled"] is True and out["status"] == "Cancelled"


def test_cancel_of_an_order_filled_before_a_session_change_says_filled(priced: Simulator) -> None:
    """Cancelling an order filled in an earlier session is refused as filled, with that fix."""
    placed = act(priced, "sim_oauth2", "place_order", **_order("cf-1", limit_price=101.0))
    _new_session(priced)
    with pytest.raises(BrokerError) as info:
        act(priced, "sim_oauth2", "cancel_order", order_id=placed["order_id"])
    assert _book(priced, placed["order_id"])["status"] == "Filled"
    assert "already filled" in info.value.message and "opposite order" in (info.value.fix or "")


def test_reused_coid_of_a_filled_order_for_a_bigger_order_is_a_conflict(
        priced: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    """cOID of a BUY 1 filled last session reused for BUY 5: exit 2 conflict, nothing placed."""
    first = act(priced, "sim_oauth2", "place_order", **_order("cr-1", quantity=1,
                                                             limit_price=101.0))
    _new_session(priced)
    code, err = _cli(priced, capsys, "place_order", _order("cr-1", quantity=5, limit_price=101.0))
    assert code == 2 and err["type"] == IdempotencyKeyConflict.__name__
    assert err["order_id"] == first["order_id"] and "cr-1" in err["message"]
    assert [o["quantity"] for o in priced.orders() if o["cOID"] == "cr-1"] == [1.0]


def test_order_found_only_in_trades_is_reported_as_the_broker_holds_it(priced: Simulator) -> None:
    """Same order resent after a session change: the result carries the broker's type, price, tif."""
    first = act(priced, "sim_oauth2", "place_order", **_order("ct-1", quantity=1,
                                                             limit_price=101.0))
    _new_session(priced)
    out = act(priced, "sim_oauth2", "place_order", **_order("ct-1", quantity=1, limit_price=101.0))
    book = _book(priced, first["order_id"])
    assert out["order_id"] == first["order_id"] and out["reconciled"] is True
    assert out["source"] == "trades" and out["status"] == book["status"] == "Filled"
    assert (out["order_type"], out["limit_price"], out["tif"], out["quantity"]) == (
        book["orderType"], book["price"], book["tif"], book["quantity"])


def test_cancel_whose_answer_is_lost_on_a_filled_order_says_filled(
        priced: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    """Cancel of a filled order, answer lost (reset): exit 4 'already filled', not 5 'retry later'."""
    placed = act(priced, "sim_oauth2", "place_order", **_order("cl-1", limit_price=101.0))
    priced.set_faults({"reset_after": 1.0, "methods": ["DELETE"]})
    code, err = _cli(priced, capsys, "cancel_order", {"order_id": placed["order_id"]})
    assert _book(priced, placed["order_id"])["status"] == "Filled"
    assert code == 4 and "already filled" in err["message"] and "opposite order" in err["message"]


@pytest.mark.parametrize("faults", [{}, {"garbage_empty": 1.0}, {"reset_after": 1.0, "methods": [
    "POST"], "paths": ["/v1/api/iserver/account/"]}])
def test_threads_placing_one_key_get_one_order(priced: Simulator, faults: dict[str, Any]) -> None:
    """4 threads of one TradingClient, same client_order_id, answers lost or not: 1 order, all name it."""
    priced.set_faults(faults)
    client = TradingClient("sim_oauth2", credentials_file=priced.credentials_file)

    def place(_: int) -> str:
        """One thread's placement; its order id."""
        return client.place_order(symbol="AAPL", side="BUY", quantity=3, order_type="LMT",
                                  limit_price=99.0, client_order_id="threads-1").order_id

    with ThreadPoolExecutor(4) as pool:
        ids = set(pool.map(place, range(4)))
    book = [o for o in priced.orders() if o["cOID"] == "threads-1"]
    assert len(book) == 1 and ids == {str(book[0]["order_id"])}
