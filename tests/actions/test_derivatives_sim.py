"""Options and futures by their parts against the simulator: exactly the contract asked for, or a
typed input error before any order request (issue 22 item 5).

The simulator's chains (simulator/derivatives.py): AAPL JAN30 (expiries 20300111 and 20300118)
and FEB30, SPY JAN30; ES futures MAR30, JUN30, SEP30 (multiplier 50). Oracles are literal
conids and the simulator's own book, never the resolution code.
"""

from __future__ import annotations

from typing import Any

import pytest

from noetl_ib_plugin.errors import AmbiguousContract, ContractMismatch, InputError
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.simulator.derivatives import AAPL_OPTION_CONID, ES_MAR30_CONID
from tests.fixtures.simulators import act

CRED = "sim_oauth2"
MKT = {"side": "BUY", "quantity": 1, "order_type": "MKT"}
ORDER_POSTS = "POST /v1/api/iserver/account/{acct}/orders"  # the simulator counts by route template
AAPL_JAN30_200C = {"symbol": "AAPL", "sec_type": "OPT", "expiry": "20300118", "strike": 200,
                   "right": "C"}
#: The simulator numbers AAPL 20300118 strikes 200, 180, 190, 210, 220 (C then P each) from
#: 730000001, so 200 P is the next conid.
AAPL_JAN30_200P = AAPL_OPTION_CONID + 1


def _posts(sim: Simulator) -> int:
    """Order requests the simulator received."""
    return int(sim.stats()["requests_by_endpoint"].get(ORDER_POSTS, 0))


def _book(sim: Simulator) -> tuple[list[dict[str, Any]], list[tuple[int, float]]]:
    """The simulator's orders and the account's holdings (conid, quantity)."""
    positions = act(sim, CRED, "get_positions")["positions"]
    return sim.orders(), sorted((p["conid"], p["position"]) for p in positions)


def _refused(sim: Simulator, error: type[Exception], **args: Any) -> Any:
    """place_order refused with `error`; no order request and an unchanged book."""
    before = _book(sim)
    with pytest.raises(error) as info:
        act(sim, CRED, "place_order", **{**MKT, **args})
    assert _posts(sim) == 0
    assert _book(sim) == before
    return info.value


def test_option_by_parts_places_exactly_that_option(sim_reset: Simulator) -> None:
    """AAPL 20300118 200 C by its parts trades conid 730000001 and reports its parts."""
    placed = act(sim_reset, CRED, "place_order", **MKT, **AAPL_JAN30_200C)
    (order,) = sim_reset.orders()
    assert placed["conid"] == order["conid"] == AAPL_OPTION_CONID
    assert (placed["sec_type"], placed["month"], placed["expiry"], placed["strike"],
            placed["right"], placed["multiplier"]) == ("OPT", "JAN30", "20300118", 200.0, "C",
                                                       100.0)


def test_put_is_not_the_call(sim_reset: Simulator) -> None:
    """right=P trades the put's own conid, never the call's."""
    placed = act(sim_reset, CRED, "place_order", **MKT, **{**AAPL_JAN30_200C, "right": "put"})
    assert placed["conid"] == AAPL_JAN30_200P and placed["right"] == "P"


def test_month_with_two_expiries_asks_for_the_expiry(sim_reset: Simulator) -> None:
    """JAN30 holds a weekly and a monthly 200 C: AmbiguousContract names expiry, lists both."""
    args = {**AAPL_JAN30_200C, "month": "JAN30"}
    del args["expiry"]
    error = _refused(sim_reset, AmbiguousContract, **args)
    assert error.field == "expiry" and "20300111" in str(error) and "20300118" in str(error)
    assert error.fix == "narrow with expiry=20300111 (or pass conid=730000011)."


def test_unlisted_strike_names_the_field_and_nearby_strikes(sim_reset: Simulator) -> None:
    """strike=205 is not listed: InputError on strike naming 200 and 210, nothing sent."""
    error = _refused(sim_reset, InputError, **{**AAPL_JAN30_200C, "strike": 205})
    assert error.field == "strike" and "200, 210" in str(error)
    assert error.fix.startswith("pass strike=200")


def test_unlisted_month_names_the_listed_months(sim_reset: Simulator) -> None:
    """month=MAR30 is not among AAPL's option months: InputError listing JAN30, FEB30."""
    args = {"symbol": "AAPL", "sec_type": "OPT", "month": "MAR30", "strike": 200, "right": "C"}
    error = _refused(sim_reset, InputError, **args)
    assert error.field == "month" and "JAN30, FEB30" in str(error)


def test_unlisted_expiry_names_the_listed_expiries(sim_reset: Simulator) -> None:
    """expiry=20300125 (a JAN30 date with no series): InputError listing the month's expiries."""
    error = _refused(sim_reset, InputError, **{**AAPL_JAN30_200C, "expiry": "20300125"})
    assert error.field == "expiry" and "20300111, 20300118" in str(error)


@pytest.mark.parametrize("missing", ["strike", "right", "expiry"])
def test_a_missing_part_is_named_before_any_request(sim_reset: Simulator, missing: str) -> None:
    """An option without its strike, right or month is refused naming the part, no search."""
    args = dict(AAPL_JAN30_200C)
    del args[missing]
    error = _refused(sim_reset, InputError, **args)
    assert error.field == ("month" if missing == "expiry" else missing)
    assert sim_reset.stats()["requests_by_endpoint"].get(
        "GET /v1/api/iserver/secdef/search", 0) == 0


def test_option_conid_with_other_parts_is_refused(sim_reset: Simulator) -> None:
    """conid=<200 C> with right=P: the conid is not the put asked for; nothing is sent."""
    error = _refused(sim_reset, ContractMismatch, conid=AAPL_OPTION_CONID,
                     **{**AAPL_JAN30_200C, "right": "P"})
    assert error.field == "conid" and f"conid {AAPL_JAN30_200P}" in str(error)


def test_option_conid_with_its_own_parts_is_placed(sim_reset: Simulator) -> None:
    """conid + parts that agree (symbol left out) trade that conid."""
    args = {k: v for k, v in AAPL_JAN30_200C.items() if k != "symbol"}
    placed = act(sim_reset, CRED, "place_order", conid=AAPL_OPTION_CONID, **MKT, **args)
    assert placed["conid"] == AAPL_OPTION_CONID


def test_conid_of_another_symbol_is_refused(sim_reset: Simulator) -> None:
    """symbol=SPY with AAPL's option conid: the conid names another symbol; nothing is sent."""
    args = {**AAPL_JAN30_200C, "symbol": "SPY", "strike": 510}
    error = _refused(sim_reset, ContractMismatch, conid=AAPL_OPTION_CONID, **args)
    assert error.field == "conid"


def test_stock_conid_with_option_parts_is_refused(sim_reset: Simulator) -> None:
    """conid=265598 (AAPL stock) named with option parts is a STK contract: refused on sec_type."""
    args = {k: v for k, v in AAPL_JAN30_200C.items() if k != "symbol"}
    error = _refused(sim_reset, ContractMismatch, conid=265598, **args)
    assert error.field == "sec_type" and "is a STK contract, not OPT" in str(error)


def test_future_by_month_places_that_month(sim_reset: Simulator) -> None:
    """ES MAR30 trades conid 750000001 with multiplier 50; JUN30 trades the next conid."""
    placed = act(sim_reset, CRED, "place_order", symbol="ES", sec_type="FUT", month="MAR30", **MKT)
    assert placed["conid"] == ES_MAR30_CONID and placed["multiplier"] == 50.0
    june = act(sim_reset, CRED, "place_order", symbol="ES", sec_type="FUT", month="2030-06", **MKT)
    assert june["conid"] == ES_MAR30_CONID + 1 and june["month"] == "JUN30"


def test_unlisted_future_month_lists_the_months(sim_reset: Simulator) -> None:
    """ES DEC30 is not listed: InputError on month naming MAR30, JUN30, SEP30."""
    error = _refused(sim_reset, InputError, symbol="ES", sec_type="FUT", month="DEC30")
    assert error.field == "month" and "MAR30, JUN30, SEP30" in str(error)


def test_future_with_another_multiplier_is_refused(sim_reset: Simulator) -> None:
    """multiplier=5 (a micro) for ES (50): no such contract; nothing is sent."""
    error = _refused(sim_reset, InputError, symbol="ES", sec_type="FUT", month="MAR30",
                     multiplier=5)
    assert error.field == "multiplier" and "50" in str(error)


def test_future_conid_as_stock_is_refused(sim_reset: Simulator) -> None:
    """A future's conid under the default sec_type=STK names FUT in the fix; nothing is sent."""
    error = _refused(sim_reset, ContractMismatch, conid=ES_MAR30_CONID)
    assert "pass sec_type=FUT" in str(error)


def test_option_position_carries_the_multiplier(sim_reset: Simulator) -> None:
    """A filled option shows sec_type, parts and multiplier, and market value = qty x price x 100."""
    sim_reset.set_price(AAPL_OPTION_CONID, 12.5)
    act(sim_reset, CRED, "place_order", **{**MKT, "quantity": 2}, **AAPL_JAN30_200C)
    (pos,) = [p for p in act(sim_reset, CRED, "get_positions")["positions"]
              if p["conid"] == AAPL_OPTION_CONID]
    assert (pos["sec_type"], pos["multiplier"], pos["expiry"], pos["strike"], pos["right"]) == (
        "OPT", 100.0, "20300118", 200.0, "C")
    assert pos["position"] == 2.0 and pos["market_value"] == 2500.0
    assert pos["avg_price"] == 12.5
    (fill,) = [t for t in sim_reset.engine.broker.trades("DU1234567")
               if t["conid"] == AAPL_OPTION_CONID]
    assert fill["net_amount"] == -2500.0 and fill["sec_type"] == "OPT"


def test_future_quote_and_history_by_parts(sim_reset: Simulator) -> None:
    """snapshot and history name ES MAR30 by its parts and quote exactly that conid."""
    quotes = act(sim_reset, CRED, "snapshot", symbols=["ES"], sec_type="FUT", month="MAR30",
                 fields=["last"])
    assert [q["conid"] for q in quotes["snapshots"]] == [ES_MAR30_CONID]
    bars = act(sim_reset, CRED, "history", symbol="ES", sec_type="FUT", month="MAR30",
               period="1d", bar="1h")
    assert bars["conid"] == ES_MAR30_CONID


def test_snapshot_refuses_a_stock_conid_named_as_an_option(sim_reset: Simulator) -> None:
    """snapshot conids=265598 sec_type=OPT: listed under errors, the stock is not quoted."""
    out = act(sim_reset, CRED, "snapshot", symbols=["SPY"], conids=[265598], sec_type="OPT",
              month="JAN30", strike=510, right="C", fields=["last"])
    assert [q["conid"] for q in out["snapshots"]] != [265598]
    assert 265598 not in [q["conid"] for q in out["snapshots"]]
    assert out["partial"] and out["errors"][0]["conid"] == 265598


def test_delayed_account_gets_delayed_derivative_quotes(sim_reset: Simulator) -> None:
    """An account without a subscription sees an option quote flagged delayed (s.13)."""
    before = sim_reset.engine.broker.order_options()
    sim_reset.set_order_options(delayed_accounts=["DU1234567"])
    try:
        quotes = act(sim_reset, CRED, "snapshot", symbols=["AAPL"], max_wait=5, fields=["last"],
                     **{k: v for k, v in AAPL_JAN30_200C.items() if k != "symbol"})
    finally:
        sim_reset.set_order_options(**before)
    (quote,) = quotes["snapshots"]
    assert quote["conid"] == AAPL_OPTION_CONID and quote["delayed"] is True
