"""Every leg of a bracket or OCA group trades the contract asked for, derivative parts included:
the same resolution as a single order, refused before any order request when it is not exact.
The oracle is the simulator's book and its own option table (simulator.derivatives)."""

from __future__ import annotations

from typing import Any

import pytest

from noetl_ib_plugin.errors import InputError
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.simulator.derivatives import AAPL_OPTION_CONID
from tests.fixtures.simulators import act

CRED = "sim_oauth2"
ORDER_POSTS = "POST /v1/api/iserver/account/{acct}/orders"  # the simulator counts by route template
#: AAPL 20300118 200 C by its parts (the simulator's conid AAPL_OPTION_CONID).
CALL = {"symbol": "AAPL", "sec_type": "OPT", "expiry": "20300118", "strike": 200, "right": "C"}
#: The simulator numbers that expiry's strikes 200, 180, ... C then P: the 200 P is the next conid.
PUT_CONID = AAPL_OPTION_CONID + 1


def _posts(sim: Simulator) -> int:
    """Order requests the simulator received."""
    return int(sim.stats()["requests_by_endpoint"].get(ORDER_POSTS, 0))


def test_bracket_on_an_option_by_its_parts_trades_that_option_on_every_leg(
        sim_reset: Simulator) -> None:
    """A bracket named by underlying + expiry + strike + right sends all three legs for that option."""
    sim_reset.set_price(AAPL_OPTION_CONID, 10.0)
    out = act(sim_reset, CRED, "place_bracket", **CALL, side="BUY", quantity=1,
              order_type="LMT", limit_price=9.9, take_profit_price=10.2, stop_loss_price=9.8,
              client_order_id="opt-br")
    book = {o["cOID"]: o for o in sim_reset.orders()}
    assert set(book) == {"opt-br", "opt-br-tp", "opt-br-sl"}
    assert {o["conid"] for o in book.values()} == {AAPL_OPTION_CONID}
    assert [leg["outcome"] for leg in out["legs"]] == ["placed"] * 3


def test_bracket_or_oca_leg_naming_an_option_without_its_parts_is_refused_before_any_request(
        sim_reset: Simulator) -> None:
    """sec_type=OPT by symbol alone (issue 22's failing input) is an input error for groups too."""
    before = _posts(sim_reset)
    with pytest.raises(InputError):
        act(sim_reset, CRED, "place_bracket", symbol="AAPL", sec_type="OPT", side="BUY",
            quantity=1, order_type="LMT", limit_price=1.0, take_profit_price=2.0)
    leg: dict[str, Any] = {"symbol": "AAPL", "side": "BUY", "quantity": 1, "order_type": "LMT",
                           "limit_price": 1.0}
    with pytest.raises(InputError):
        act(sim_reset, CRED, "place_oca", orders=[leg, {**leg, "sec_type": "OPT"}])
    assert _posts(sim_reset) == before and sim_reset.orders() == []


def test_oca_legs_each_trade_their_own_option(sim_reset: Simulator) -> None:
    """An OCA group of the 200 C and the 200 P sends each leg for its own conid, never the stock."""
    for conid in (AAPL_OPTION_CONID, PUT_CONID):
        sim_reset.set_price(conid, 10.0)
    legs = [{**CALL, "side": "BUY", "quantity": 1, "order_type": "LMT", "limit_price": 9.9},
            {**CALL, "right": "P", "side": "BUY", "quantity": 1, "order_type": "LMT",
             "limit_price": 9.9}]
    act(sim_reset, CRED, "place_oca", orders=legs, client_order_id="opt-oca")
    by_coid = {o["cOID"]: o["conid"] for o in sim_reset.orders()}
    assert by_coid == {"opt-oca-1": AAPL_OPTION_CONID, "opt-oca-2": PUT_CONID}


def test_bracket_sized_in_cash_is_refused_before_any_request(sim_reset: Simulator) -> None:
    """cash_quantity cannot size a bracket's children: an input error naming it, nothing sent."""
    with pytest.raises(InputError) as info:
        act(sim_reset, CRED, "place_bracket", symbol="AAPL", side="BUY", cash_quantity=1000,
            order_type="LMT", limit_price=99.0, take_profit_price=101.0)
    assert "cash_quantity" in str(info.value) and "quantity=N" in str(info.value.fix)
    assert sim_reset.orders() == []
