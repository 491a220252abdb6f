"""Derivative answers the simulator does not give: IBKR answering another contract than the one
queried (a put for a call, another strike, month, symbol or type), answers in other spellings,
crossed sources, minis with another multiplier, expired futures in a stale list. Each wrong one
is refused before any order request (`responses`); oracles are literal conids."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import responses

from noetl_ib_plugin import testing
from noetl_ib_plugin.actions.derivative_parts import Parts
from noetl_ib_plugin.actions.instruments import resolve_instrument
from noetl_ib_plugin.actions.models import PlaceOrderInput
from noetl_ib_plugin.actions.orders import place_order
from noetl_ib_plugin.client.lookups import LookupCache
from noetl_ib_plugin.errors import AmbiguousContract, ContractMismatch, InputError
from tests.client.fakes import BASE, add_bootstrap, calls_to, make_client

AAPL = 265598
CALL = 700000200
SEARCH = [{"conid": str(AAPL), "symbol": "AAPL", "description": "NASDAQ",
           "sections": [{"secType": "STK"},
                        {"secType": "OPT", "months": "JAN30;FEB30", "exchange": "SMART"}]}]
OPTION = {"conid": CALL, "symbol": "AAPL", "secType": "OPT", "exchange": "SMART", "right": "C",
          "strike": 200.0, "currency": "USD", "maturityDate": "20300118", "multiplier": "100",
          "tradingClass": "AAPL"}
ES = [{"symbol": "ES", "conid": 750000001, "underlyingConid": 11004968,
       "expirationDate": 20300315, "ltd": 20300315},
      {"symbol": "ES", "conid": 750000002, "underlyingConid": 11004968,
       "expirationDate": 20300621, "ltd": 20300621}]
PARTS_200C = {"sec_type": "OPT", "month": "JAN30", "strike": 200, "right": "C"}


@pytest.fixture
def desk() -> Iterator[responses.RequestsMock]:
    """A mock IBKR with the bootstrap, AAPL's search and strikes; tests add secdef/info."""
    testing.reset()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        add_bootstrap(mock)
        mock.add(responses.GET, f"{BASE}/iserver/secdef/search", json=SEARCH)
        mock.add(responses.GET, f"{BASE}/iserver/secdef/strikes",
                 json={"call": [190, 200, 210], "put": [190, 200, 210]})
        mock.add(responses.POST, f"{BASE}/iserver/account/DU1110001/orders",
                 json=[{"order_id": "1", "order_status": "Submitted"}])
        yield mock
    testing.reset()


def _info(mock: responses.RequestsMock, items: list[dict[str, Any]],
          contract: dict[str, Any] | None = None) -> None:
    """secdef/info answers `items`; contract info of each conid agrees unless `contract` is given."""
    mock.add(responses.GET, f"{BASE}/iserver/secdef/info", json=items)
    for item in items:
        body = contract if contract is not None else {
            "conid": item["conid"], "symbol": item["symbol"], "instrument_type": item["secType"],
            "currency": "USD", "maturity_date": item["maturityDate"],
            "multiplier": item["multiplier"]}
        mock.add(responses.GET, f"{BASE}/iserver/contract/{item['conid']}/info", json=body)


def _order(**parts: Any) -> PlaceOrderInput:
    return PlaceOrderInput(symbol="AAPL", side="BUY", quantity=1, order_type="MKT",
                           **{**PARTS_200C, **parts})


def _refused(mock: responses.RequestsMock, error: type[Exception], **parts: Any) -> Any:
    """place_order refused with `error` and no order request."""
    with pytest.raises(error) as info:
        place_order(make_client(), _order(**parts))
    assert calls_to(mock, "/orders", "POST") == 0
    return info.value


def test_the_asked_call_is_placed(desk: responses.RequestsMock) -> None:
    """The control: secdef/info answering exactly the call asked places its conid."""
    _info(desk, [OPTION])
    placed = place_order(make_client(), _order())
    assert placed.conid == CALL and placed.right == "C" and placed.multiplier == 100.0


#: Contract info of the asked call: it agrees with the request, so only secdef/info is wrong.
ASKED_INFO = {"conid": CALL, "symbol": "AAPL", "instrument_type": "OPT", "currency": "USD",
              "maturity_date": "20300118", "multiplier": "100"}


@pytest.mark.parametrize(
    ("answer", "asked", "field"),
    [
        ({"right": "P"}, {}, "right"),
        ({"strike": 210.0}, {}, "strike"),
        ({"maturityDate": "20300215"}, {}, "month"),
        ({"symbol": "AAPL7"}, {}, "symbol"),
        ({"secType": "WAR"}, {}, "sec_type"),
        ({"currency": "EUR"}, {"currency": "USD"}, "currency"),
        ({"exchange": "SMART"}, {"exchange": "CBOE"}, "exchange"),
    ],
)
def test_secdef_info_answering_another_contract_is_refused(
        desk: responses.RequestsMock, answer: dict[str, Any], asked: dict[str, Any],
        field: str) -> None:
    """IBKR answers another right/strike/month/symbol/type/currency/exchange: refused."""
    _info(desk, [{**OPTION, **answer}], contract=ASKED_INFO)
    with pytest.raises(ContractMismatch) as info:
        place_order(make_client(), _order().model_copy(update=asked))
    assert calls_to(desk, "/orders", "POST") == 0
    assert info.value.field == field and "nothing was sent" in str(info.value)


def test_answers_in_other_spellings_are_the_same_contract(desk: responses.RequestsMock) -> None:
    """IBKR's "CALL", strike "200.0" and the user's "call"/"200.00" name the same option."""
    _info(desk, [{**OPTION, "right": "CALL", "strike": "200.0"}])
    placed = place_order(make_client(), _order(right="call", strike="200.00"))
    assert placed.conid == CALL


def test_expiry_not_answered_is_refused(desk: responses.RequestsMock) -> None:
    """expiry=20300118 when IBKR lists only the weekly 20300111: InputError on expiry."""
    _info(desk, [{**OPTION, "maturityDate": "20300111"}])
    error = _refused(desk, InputError, expiry="20300118")
    assert error.field == "expiry" and "20300111" in str(error)


def test_contract_info_of_another_type_is_refused(desk: responses.RequestsMock) -> None:
    """secdef/info says OPT but the conid's contract info says STK (crossed answers): refused."""
    _info(desk, [OPTION], contract={"conid": CALL, "symbol": "AAPL", "instrument_type": "STK"})
    error = _refused(desk, ContractMismatch)
    assert error.field == "sec_type"


def test_contract_info_with_another_expiry_is_refused(desk: responses.RequestsMock) -> None:
    """Contract info's maturity date differs from secdef/info's: the sources disagree, refused."""
    _info(desk, [OPTION], contract={"conid": CALL, "symbol": "AAPL", "instrument_type": "OPT",
                                    "maturity_date": "20300215", "multiplier": "100"})
    error = _refused(desk, ContractMismatch)
    assert error.field == "expiry"


def test_a_mini_with_another_multiplier_asks_for_the_multiplier(
        desk: responses.RequestsMock) -> None:
    """Standard (100) and mini (10) options of one strike: ambiguous on multiplier; 100 picks."""
    mini = {**OPTION, "conid": CALL + 1, "multiplier": "10", "tradingClass": "AAPL7"}
    _info(desk, [OPTION, mini])
    error = _refused(desk, AmbiguousContract)
    assert error.field == "multiplier" and "multiplier=100" in error.fix
    assert place_order(make_client(), _order(multiplier=100)).conid == CALL
    assert place_order(make_client(), _order(multiplier=10)).conid == CALL + 1


def test_unlisted_right_side_names_the_month(desk: responses.RequestsMock) -> None:
    """No strike listed for the right asked (an empty month): InputError on month."""
    desk.replace(responses.GET, f"{BASE}/iserver/secdef/strikes", json={"call": [], "put": []})
    error = _refused(desk, InputError)
    assert error.field == "month"


def _futures(mock: responses.RequestsMock, listed: Any) -> None:
    mock.add(responses.GET, f"{BASE}/trsrv/futures", json=listed)
    mock.replace(responses.GET, f"{BASE}/iserver/secdef/search", json=[
        {"conid": "11004968", "symbol": "ES", "description": "CME",
         "sections": [{"secType": "IND"}, {"secType": "FUT", "months": "MAR30;JUN30"}]}])
    for item in listed.get("ES", []):
        mock.add(responses.GET, f"{BASE}/iserver/contract/{item['conid']}/info",
                 json={"conid": item["conid"], "symbol": item["symbol"],
                       "instrument_type": "FUT", "multiplier": "50",
                       "maturity_date": str(item["expirationDate"])})


def _future(client: Any, month: str, today: date) -> Any:
    return resolve_instrument(client, symbol="ES", sec_type="FUT", parts=Parts(month=month),
                            today=lambda: today)


def test_future_month_is_exactly_the_month_asked(desk: responses.RequestsMock) -> None:
    """MAR30 and JUN30 listed: each month resolves to its own conid, never the front month."""
    _futures(desk, {"ES": ES})
    client = make_client()
    assert _future(client, "JUN30", date(2030, 1, 1)).conid == 750000002
    assert _future(client, "MAR30", date(2030, 1, 1)).conid == 750000001


def test_stale_cached_futures_list_never_trades_an_expired_month(
        desk: responses.RequestsMock) -> None:
    """The cached list still holds MAR30 after it expired: refused, JUN30 still resolves."""
    _futures(desk, {"ES": ES})
    client = make_client(lookups=LookupCache(clock=lambda: 0.0))
    assert _future(client, "MAR30", date(2030, 3, 15)).conid == 750000001
    with pytest.raises(ContractMismatch) as info:
        _future(client, "MAR30", date(2030, 3, 16))
    assert info.value.field == "month" and "expired on 20300315" in str(info.value)
    assert _future(client, "JUN30", date(2030, 3, 16)).conid == 750000002
    assert calls_to(desk, "/trsrv/futures") == 1


def test_futures_of_another_symbol_under_the_key_are_refused(
        desk: responses.RequestsMock) -> None:
    """/trsrv/futures answers MES contracts under "ES": another symbol is never taken."""
    _futures(desk, {"ES": [{**ES[0], "symbol": "MES"}]})
    with pytest.raises(ContractMismatch) as info:
        _future(make_client(), "MAR30", date(2030, 1, 1))
    assert info.value.field == "symbol"


def test_the_failing_input_by_symbol_alone_is_refused_naming_the_parts(
        desk: responses.RequestsMock) -> None:
    """Issue 22's input (OPT by symbol, no parts): refused, the fix names month/strike/right."""
    with pytest.raises(ContractMismatch) as info:
        place_order(make_client(), PlaceOrderInput(symbol="AAPL", sec_type="OPT", side="BUY",
                                                   quantity=1, order_type="MKT"))
    assert "month=JAN30 strike=200 right=C" in str(info.value.fix)
    assert calls_to(desk, "/orders", "POST") == 0 and calls_to(desk, "/secdef/search") == 0


def test_parts_for_a_stock_are_refused_before_any_request(desk: responses.RequestsMock) -> None:
    """resolve_instrument called directly with parts and sec_type=STK: InputError, no lookup."""
    with pytest.raises(InputError) as info:
        resolve_instrument(make_client(), symbol="AAPL", sec_type="STK",
                           parts=Parts(month="JAN30"))
    assert info.value.field == "sec_type" and calls_to(desk, "/secdef/search") == 0
