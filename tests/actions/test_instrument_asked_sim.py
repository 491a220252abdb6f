"""The instrument traded (or quoted) is the one asked for, type included, against the simulator.

Every refusal happens before any order request, and the simulator's book (orders, positions)
is what it was. The simulator answers secdef/search as IBKR documents it: the underlying, with
`sections` naming its derivative types; option 730000001 (AAPL JAN30 200 C) is known by conid.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from noetl_ib_plugin.errors import AmbiguousContract, ContractMismatch, InputError
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.simulator.derivatives import AAPL_OPTION_CONID
from tests.cli.helpers import cli
from tests.fixtures.simulators import act, client_for

CRED = "sim_oauth2"
AAPL = 265598
BHP_ASX = 4036818
MKT = {"side": "BUY", "quantity": 1, "order_type": "MKT"}
ORDER_POSTS = "POST /v1/api/iserver/account/{acct}/orders"  # the simulator counts by route template


def _book(sim: Simulator) -> tuple[list[dict[str, Any]], list[tuple[int, float]]]:
    """The simulator's orders and the account's positions (conid, quantity)."""
    positions = act(sim, CRED, "get_positions")["positions"]
    return sim.orders(), sorted((p["conid"], p["position"]) for p in positions)


def _refused(sim: Simulator, error: type[Exception], **args: Any) -> Any:
    """Run place_order expecting `error`; the book is unchanged and no order request was sent."""
    before = _book(sim)
    with pytest.raises(error) as info:
        act(sim, CRED, "place_order", **{**MKT, **args})
    assert sim.stats()["requests_by_endpoint"].get(ORDER_POSTS, 0) == 0
    assert _book(sim) == before
    return info.value


def test_simulator_search_answers_the_underlying_with_derivative_sections(
        sim_reset: Simulator) -> None:
    """secdef/search for AAPL OPT answers the stock's conid with sections naming OPT (IBKR doc)."""
    client = client_for(sim_reset, CRED)
    (item,) = client.get("/iserver/secdef/search", params={"symbol": "AAPL", "secType": "OPT"})
    assert item["conid"] == str(AAPL) and item["symbol"] == "AAPL"
    assert {"secType": "OPT", "months": "JAN30;FEB30",
            "exchange": "SMART;AMEX;BATS;BOX;CBOE"} in item["sections"]
    assert client.get(f"/iserver/contract/{AAPL_OPTION_CONID}/info")["instrument_type"] == "OPT"
    assert client.get(f"/iserver/contract/{AAPL}/info")["instrument_type"] == "STK"


def test_failing_input_options_by_symbol_is_refused_on_the_cli(sim_env: Simulator) -> None:
    """Issue 22's input: `place_order symbol=AAPL sec_type=OPT ... MKT` exits 2, no stock bought."""
    proc = cli("run", "place_order", "--credential", CRED, "symbol=AAPL", "sec_type=OPT",
               "side=BUY", "quantity=1", "order_type=MKT")
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    error = json.loads(proc.stderr.strip().splitlines()[-1])["error"]
    assert (error["type"], error["category"], error["field"]) == (
        "ContractMismatch", "input", "sec_type")
    assert "sec_type=STK" in error["message"]
    assert sim_env.orders() == []
    assert sim_env.stats()["requests_by_endpoint"].get(ORDER_POSTS, 0) == 0


def test_options_by_symbol_is_refused_before_any_request(sim_reset: Simulator) -> None:
    """Every derivative type by symbol is refused without even a search (it answers the stock)."""
    for sec_type in ("OPT", "FUT", "WAR", "opt"):
        error = _refused(sim_reset, ContractMismatch, symbol="AAPL", sec_type=sec_type)
        assert error.field == "sec_type" and "conid=CONID sec_type=" in str(error)
    assert sim_reset.stats()["requests_by_endpoint"].get(
        "GET /v1/api/iserver/secdef/search", 0) == 0


def test_stock_conid_with_options_type_is_refused(sim_reset: Simulator) -> None:
    """conid=265598 sec_type=OPT: the conid is AAPL stock, so nothing is sent."""
    error = _refused(sim_reset, ContractMismatch, conid=AAPL, sec_type="OPT")
    assert error.field == "sec_type" and "is a STK contract, not OPT" in str(error)
    assert error.resolved["sec_type"] == "STK" and error.requested["sec_type"] == "OPT"


def test_option_conid_without_type_is_refused_and_the_fix_works(sim_reset: Simulator) -> None:
    """An option's conid under the default sec_type=STK is refused; the fix places exactly it."""
    error = _refused(sim_reset, ContractMismatch, conid=AAPL_OPTION_CONID)
    assert error.field == "sec_type" and "pass sec_type=OPT" in str(error)
    placed = act(sim_reset, CRED, "place_order", conid=AAPL_OPTION_CONID, sec_type="OPT", **MKT)
    (order,) = sim_reset.orders()
    assert placed["conid"] == order["conid"] == AAPL_OPTION_CONID


def test_option_conid_with_its_underlying_symbol_is_refused(sim_reset: Simulator) -> None:
    """symbol=AAPL conid=<option> sec_type=OPT: a symbol cannot name an option; nothing is sent."""
    _refused(sim_reset, ContractMismatch, symbol="AAPL", conid=AAPL_OPTION_CONID, sec_type="OPT")


@pytest.mark.parametrize(
    ("args", "field", "words"),
    [
        ({"conid": BHP_ASX, "currency": "USD"}, "currency", "trades in AUD, not USD"),
        ({"conid": AAPL, "exchange": "NYSE"}, "exchange", "is listed on NASDAQ, not NYSE"),
    ],
)
def test_conid_with_other_exchange_or_currency_is_refused(
        sim_reset: Simulator, args: dict[str, Any], field: str, words: str) -> None:
    """A conid whose listing is not in the exchange/currency asked for is refused, not traded."""
    error = _refused(sim_reset, ContractMismatch, **args)
    assert error.field == field and words in str(error)


def test_several_listings_are_refused_and_a_filter_picks_one(sim_reset: Simulator) -> None:
    """BHP (NYSE USD, ASX AUD): no pick without a filter; currency=AUD trades the ASX listing."""
    error = _refused(sim_reset, AmbiguousContract, symbol="BHP")
    assert {c["conid"] for c in error.candidates} == {4036812, BHP_ASX}
    placed = act(sim_reset, CRED, "place_order", symbol="BHP", currency="AUD", **MKT)
    assert placed["conid"] == BHP_ASX


def test_history_with_a_symbol_and_another_conid_is_refused(sim_reset: Simulator) -> None:
    """history symbol=AAPL conid=8314 (IBM) would label IBM's bars AAPL: refused, no bars asked."""
    with pytest.raises(InputError) as info:
        act(sim_reset, CRED, "history", symbol="AAPL", conid=8314)
    assert info.value.field == "conid"
    assert sim_reset.stats()["requests_by_endpoint"].get(
        "GET /v1/api/iserver/marketdata/history", 0) == 0


def test_history_by_conid_checks_the_currency_asked(sim_reset: Simulator) -> None:
    """history conid=4036818 currency=USD: the ASX listing trades in AUD, so no bars are asked."""
    with pytest.raises(ContractMismatch) as info:
        act(sim_reset, CRED, "history", conid=BHP_ASX, currency="USD")
    assert info.value.field == "currency"
    assert sim_reset.stats()["requests_by_endpoint"].get(
        "GET /v1/api/iserver/marketdata/history", 0) == 0



def test_order_request_counter_counts_a_placement(sim_reset: Simulator) -> None:
    """The counter the refusals read goes up when an order is sent, so "0 order requests" means something."""
    act(sim_reset, CRED, "place_order", symbol="AAPL", **MKT)
    assert sim_reset.stats()["requests_by_endpoint"].get(ORDER_POSTS, 0) >= 1
