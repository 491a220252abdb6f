"""Contract answers the simulator does not give (class shares, other symbols, indices, untyped
info): each is refused before any order or quote request (`responses`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import responses

from noetl_ib_plugin import testing
from noetl_ib_plugin.actions.marketdata import snapshot
from noetl_ib_plugin.actions.models import PlaceOrderInput, SnapshotInput
from noetl_ib_plugin.actions.orders import place_order
from noetl_ib_plugin.errors import ContractMismatch, ContractNotFound
from tests.client.fakes import BASE, add_bootstrap, calls_to, make_client

SEARCH = f"{BASE}/iserver/secdef/search"
BRK_B = {"conid": "72063691", "symbol": "BRK B", "description": "NYSE",
         "sections": [{"secType": "STK"}]}


@pytest.fixture
def desk() -> Iterator[responses.RequestsMock]:
    """A mock IBKR with the bootstrap answered; each test adds its contract answers."""
    testing.reset()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        add_bootstrap(mock)
        yield mock
    testing.reset()


def _info(mock: responses.RequestsMock, conid: int, **fields: Any) -> None:
    mock.add(responses.GET, f"{BASE}/iserver/contract/{conid}/info",
             json={"conid": conid, **fields})


def _order(symbol: str) -> PlaceOrderInput:
    return PlaceOrderInput(symbol=symbol, side="BUY", quantity=1, order_type="MKT")


def _no_order_sent(mock: responses.RequestsMock) -> None:
    assert calls_to(mock, "/orders", "POST") == 0 and calls_to(mock, "/iserver/reply") == 0


def test_search_answering_another_class_share_is_refused_with_its_conid(
        desk: responses.RequestsMock) -> None:
    """BRK.B answered by "BRK B" only: refused naming conid=72063691, whose info then checks out."""
    desk.add(responses.GET, SEARCH, json=[BRK_B])
    with pytest.raises(ContractMismatch) as info:
        place_order(make_client(), _order("BRK.B"))
    assert info.value.field == "symbol" and "pass conid=72063691" in str(info.value)
    _no_order_sent(desk)


def test_search_item_without_a_symbol_is_not_taken_for_the_symbol(
        desk: responses.RequestsMock) -> None:
    """A listing IBKR answers without a symbol cannot be told apart: never picked silently."""
    desk.add(responses.GET, SEARCH, json=[{"conid": "1", "description": "NYSE"}])
    with pytest.raises(ContractMismatch):
        place_order(make_client(), _order("AAPL"))
    _no_order_sent(desk)


@pytest.mark.parametrize(
    ("info", "words"),
    [
        ({"symbol": "ES", "instrument_type": "IND", "currency": "USD"}, "is a IND contract"),
        ({"symbol": "ES", "currency": "USD"}, "has no security type"),
        ({"symbol": "ESX", "instrument_type": "STK", "currency": "USD"}, "is ESX, not ES"),
    ],
)
def test_search_listing_whose_info_differs_is_refused(
        desk: responses.RequestsMock, info: dict[str, Any], words: str) -> None:
    """A search listing for STK that contract info shows as an index, untyped or another symbol."""
    desk.add(responses.GET, SEARCH, json=[
        {"conid": "11004968", "symbol": "ES", "description": "CME",
         "sections": [{"secType": "STK"}, {"secType": "FUT", "months": "MAR27"}]}])
    _info(desk, 11004968, **info)
    with pytest.raises(ContractMismatch) as raised:
        place_order(make_client(), _order("ES"))
    assert words in str(raised.value)
    _no_order_sent(desk)


def test_search_with_no_listing_of_the_type_is_not_found(desk: responses.RequestsMock) -> None:
    """A listing whose sections do not name STK is no STK listing: ContractNotFound, no order."""
    desk.add(responses.GET, SEARCH, json=[
        {"conid": "11004968", "symbol": "ES", "description": "CME",
         "sections": [{"secType": "FUT", "months": "MAR27"}]}])
    with pytest.raises(ContractNotFound):
        place_order(make_client(), _order("ES"))
    _no_order_sent(desk)


def test_snapshot_of_a_symbol_answered_by_another_is_not_quoted(
        desk: responses.RequestsMock) -> None:
    """snapshot symbols=BRK.B when IBKR answers "BRK B": no quote asked, the error says why."""
    desk.add(responses.GET, SEARCH, json=[BRK_B])
    with pytest.raises(ContractMismatch) as info:
        snapshot(make_client(), SnapshotInput(symbols=["BRK.B"], fields=["last"]))
    assert "conids=72063691" in str(info.value)
    assert calls_to(desk, "/iserver/marketdata/snapshot") == 0
