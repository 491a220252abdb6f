"""Reconciliation paths that need exact server answers (`responses`, fake clock).

Each test here is the one a deliberate one-line mutation of the reconciliation trips:
skipping the lookup, skipping the settle wait, skipping the trades, resending with a fresh id,
advising a new id after a duplicate refusal, reading junk as a refusal.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import requests
import responses

from noetl_ib_plugin.actions.models import GetOpenOrdersInput, PlaceOrderInput
from noetl_ib_plugin.actions.orders import OrderSettings, get_open_orders, place_order
from noetl_ib_plugin.actions.outputs import PlaceOrderOutput, output_json
from noetl_ib_plugin.cli._io import error_exit_code
from noetl_ib_plugin.errors import (
    IdempotencyKeyConflict,
    InputError,
    OrderInactive,
    OrderRejected,
    OrderUnconfirmed,
)
from tests.client.fakes import BASE, FakeClock, calls_to, make_client, order_desk

ORDERS = f"{BASE}/iserver/account/DU1110001/orders"
LIVE = f"{BASE}/iserver/account/orders"
TRADES = f"{BASE}/iserver/account/trades"
COID = "nib-fixed"
DUPLICATE = {"error": f"Order couldn't be submitted: Local order ID={COID} is already registered."}

LMT = PlaceOrderInput(symbol="AAPL", side="BUY", quantity=3, order_type="LMT", limit_price=99.0)
#: The broker's record of exactly that order (IBKR's live-order field names and formats).
LIVE_ORDER = {"orderId": 8, "order_ref": COID, "status": "Submitted", "conid": 265598,
              "side": "BUY", "totalSize": 3.0, "origOrderType": "LIMIT", "orderType": "Limit",
              "price": "99.00", "timeInForce": "DAY", "ticker": "AAPL", "acct": "DU1110001"}
EMPTY_REAL = {"orders": [], "snapshot": True}


@pytest.fixture(autouse=True)
def rsps() -> Any:
    """Bootstrap and contract search answers shared by every test here."""
    with order_desk() as mock:
        yield mock


def _settings() -> OrderSettings:
    """4 polls 0.25 s apart, absent after 0.5 s of real answers; fixed cOID."""
    return OrderSettings(reconcile_polls=4, settle_seconds=0.5, poll_interval=0.25,
                         coid_factory=lambda: COID)


def _posted(rsps: Any) -> list[str]:
    """cOIDs of every order POST, in order."""
    return [json.loads(c.request.body)["orders"][0]["cOID"] for c in rsps.calls
            if c.request.method == "POST" and c.request.url.endswith("/DU1110001/orders")]


@pytest.mark.parametrize("answer", [
    {"body": "<html><body>Service unavailable</body></html>", "status": 200},
    {"body": "", "status": 200},
    {"json": {"foo": 1}, "status": 200},
    {"json": {"error": "Request Timeout"}, "status": 408},
    {"json": {"error": "Not Implemented"}, "status": 501},
    {"body": "<html>524: A timeout occurred</html>", "status": 524},
    {"json": [{"order_id": "", "order_status": "Submitted"}], "status": 200},
    {"json": {"id": "abc"}, "status": 200},
])
def test_unreadable_answer_is_looked_up_before_anything_is_reported(
        rsps: Any, answer: dict[str, Any]) -> None:
    """Any answer but a definite accept/refusal triggers the cOID lookup; found = the broker's."""
    rsps.add(responses.POST, ORDERS, **answer)
    rsps.add(responses.GET, LIVE, json={"orders": [LIVE_ORDER], "snapshot": True})
    out = place_order(make_client(), LMT, _settings())
    assert out.order_id == "8" and out.reconciled is True and out.status == "Submitted"
    assert out.limit_price == 99.0 and output_json(out)["source"] == "live_orders"
    assert _posted(rsps) == [COID]


def test_a_found_order_whose_record_does_not_fit_the_model_is_still_reported(
        rsps: Any, caplog: pytest.LogCaptureFixture) -> None:
    """A found order whose record does not fit PlaceOrderOutput comes back (logged), never raised."""
    rsps.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    rsps.add(responses.GET, LIVE, json={"orders": [{**LIVE_ORDER, "ticker": 7}], "snapshot": True})
    with caplog.at_level(logging.ERROR, logger="noetl_ib_plugin.actions.outputs"):
        out = place_order(make_client(), LMT, _settings())
    assert isinstance(out, PlaceOrderOutput) and out.order_id == "8" and out.reconciled is True
    assert out.symbol == 7 and _posted(rsps) == [COID]  # type: ignore[comparison-overlap]
    assert "place_order: result does not match PlaceOrderOutput" in caplog.text


def test_definite_refusal_is_not_looked_up(rsps: Any) -> None:
    """A 400 with IBKR's error is a refusal: no lookup, no resend, exit 4."""
    rsps.add(responses.POST, ORDERS, status=400, json={"error": "Invalid order: tif not allowed"})
    with pytest.raises(OrderRejected) as info:
        place_order(make_client(), LMT, _settings())
    assert error_exit_code(info.value) == 4 and info.value.status == 400
    assert calls_to(rsps, "/iserver/account/orders") == 0 and _posted(rsps) == [COID]


def test_bad_account_refusal_is_an_input_error_without_lookup(rsps: Any) -> None:
    """400 "accountId is not valid" refuses the input: exit 2 naming account_id, no lookup."""
    rsps.add(responses.POST, ORDERS, status=400, json={"error": "accountId is not valid"})
    with pytest.raises(InputError) as info:
        place_order(make_client(), LMT, _settings())
    assert error_exit_code(info.value) == 2 and info.value.field == "account_id"
    assert calls_to(rsps, "/iserver/account/orders") == 0 and _posted(rsps) == [COID]


def test_settle_wait_keeps_a_lagging_order_single(rsps: Any) -> None:
    """Live orders answer a real empty list first and the order 0.25 s later: no resend."""
    rsps.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    rsps.add(responses.GET, LIVE, json=EMPTY_REAL)
    rsps.add(responses.GET, LIVE, json={"orders": [LIVE_ORDER], "snapshot": True})
    rsps.add(responses.GET, TRADES, json=[])
    rsps.add(responses.POST, ORDERS, json=[{"order_id": "9", "order_status": "Submitted"}])
    out = place_order(make_client(), LMT, _settings())
    assert out.order_id == "8" and _posted(rsps) == [COID]


def test_confirmed_absent_is_resent_once_with_the_same_coid(rsps: Any) -> None:
    """Absent from live orders for the settle time and from trades: one resend, same cOID."""
    rsps.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    rsps.add(responses.GET, LIVE, json=EMPTY_REAL)
    rsps.add(responses.GET, TRADES, json=[])
    rsps.add(responses.POST, ORDERS, json=[{"order_id": "9", "order_status": "Submitted"}])
    clock = FakeClock()
    out = place_order(make_client(clock=clock), LMT, _settings())
    assert out.order_id == "9" and _posted(rsps) == [COID, COID]
    assert sum(clock.sleeps) >= 0.5  # the settle wait happened before the resend
    assert calls_to(rsps, "/iserver/account/trades") == 1


def test_order_only_in_trades_is_found_without_a_resend(rsps: Any) -> None:
    """After a session change live orders miss a filled order; the trades hold it: no resend."""
    rsps.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    rsps.add(responses.GET, LIVE, json=EMPTY_REAL)
    rsps.add(responses.GET, TRADES, json=[
        {"execution_id": "a.0", "order_ref": "someone-else", "conid": 1, "side": "S", "size": 9},
        {"execution_id": "b.0", "order_ref": COID, "order_id": 8, "conid": 265598, "side": "B",
         "size": 1, "price": "98.50"},
        {"execution_id": "b.1", "order_ref": COID, "order_id": 8, "conid": 265598, "side": "B",
         "size": 2, "price": "99.00"}])
    out = place_order(make_client(), LMT, _settings())
    assert _posted(rsps) == [COID]
    assert output_json(out)["source"] == "trades" and out.order_id == "8" and out.status == "Filled"
    assert out.filled_quantity == 3.0 and out.avg_price == pytest.approx(98.8333, abs=1e-3)


def test_duplicate_refusal_resolves_to_the_existing_order(rsps: Any) -> None:
    """Lost answer, lagging list, resend refused as duplicate, then the order shows: resolved."""
    rsps.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    rsps.add(responses.GET, LIVE, json=EMPTY_REAL)
    rsps.add(responses.GET, LIVE, json=EMPTY_REAL)
    rsps.add(responses.GET, LIVE, json=EMPTY_REAL)
    rsps.add(responses.GET, TRADES, json=[])
    rsps.add(responses.POST, ORDERS, json=DUPLICATE)
    rsps.add(responses.GET, LIVE, json={"orders": [LIVE_ORDER], "snapshot": True})
    out = place_order(make_client(), LMT, _settings())
    assert out.order_id == "8" and out.reconciled is True
    assert _posted(rsps) == [COID, COID]


def test_duplicate_refusal_never_advises_a_new_id(rsps: Any) -> None:
    """A duplicate refusal the lookup cannot resolve is outcome unknown naming the cOID (exit 6)."""
    rsps.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    rsps.add(responses.GET, LIVE, json=EMPTY_REAL)
    rsps.add(responses.GET, TRADES, json=[])
    rsps.add(responses.POST, ORDERS, json=DUPLICATE)
    with pytest.raises(OrderUnconfirmed) as info:
        place_order(make_client(), LMT, _settings())
    exc = info.value
    assert error_exit_code(exc) == 6 and exc.category == "unknown"
    assert exc.client_order_id == COID and exc.to_dict()["client_order_id"] == COID
    assert COID in str(exc) and "do not retry blindly" in str(exc)
    assert "use a new client_order_id" not in str(exc) and _posted(rsps) == [COID, COID]
    # Both lookups used the caller's settings: 3 polls each (t = 0, 0.25, 0.5 s).
    assert calls_to(rsps, "/iserver/account/orders") == 6


def test_duplicate_on_first_send_with_a_different_order_is_a_conflict(rsps: Any) -> None:
    """The cOID names a SELL 5 @195 at IBKR; this BUY 3 @99 is refused as a key conflict."""
    rsps.add(responses.POST, ORDERS, json=DUPLICATE)
    other = {**LIVE_ORDER, "side": "SELL", "totalSize": 5.0, "price": "195.00"}
    rsps.add(responses.GET, LIVE, json={"orders": [other], "snapshot": True})
    with pytest.raises(IdempotencyKeyConflict) as info:
        place_order(make_client(), LMT, _settings())
    text = str(info.value)
    assert "side: request BUY, broker SELL" in text and "quantity: request 3.0, broker 5.0" in text
    assert "limit_price: request 99.0, broker 195.0" in text and info.value.order_id == "8"
    assert error_exit_code(info.value) == 2 and info.value.client_order_id == COID


@pytest.mark.parametrize(("field", "value"), [
    ("conid", 8314), ("side", "SELL"), ("totalSize", 4.0), ("origOrderType", "MARKET"),
    ("price", "99.01"), ("timeInForce", "GTC"),
])
def test_each_field_of_the_order_is_compared(rsps: Any, field: str, value: Any) -> None:
    """conid, side, quantity, type, price and tif each alone make a conflict."""
    rsps.add(responses.POST, ORDERS, json=DUPLICATE)
    rsps.add(responses.GET, LIVE, json={"orders": [{**LIVE_ORDER, field: value}],
                                        "snapshot": True})
    with pytest.raises(IdempotencyKeyConflict):
        place_order(make_client(), LMT, _settings())


def test_undecidable_lookup_is_outcome_unknown(rsps: Any) -> None:
    """Live orders and trades never answer usefully: outcome unknown, never resent."""
    rsps.add(responses.POST, ORDERS, status=502, json={"error": "bad gateway"})
    rsps.add(responses.GET, LIVE, status=200, body="maintenance")
    rsps.add(responses.GET, TRADES, status=200, json={"error": "not now"})
    with pytest.raises(OrderUnconfirmed) as info:
        place_order(make_client(), LMT, _settings())
    assert info.value.client_order_id == COID and _posted(rsps) == [COID]


def test_inactive_placement_answer_carries_order_id_and_reason(rsps: Any) -> None:
    """`order_status: Inactive` is OrderInactive with the id and IBKR's text (exit 4)."""
    rsps.add(responses.POST, ORDERS, json=[{"order_id": "77", "order_status": "Inactive",
                                            "text": "Order rejected - insufficient margin"}])
    with pytest.raises(OrderInactive) as info:
        place_order(make_client(), LMT, _settings())
    assert info.value.order_id == "77" and "insufficient margin" in str(info.value.reason)
    assert info.value.to_dict()["client_order_id"] == COID and error_exit_code(info.value) == 4


def test_unknown_status_filter_is_refused_before_any_request(rsps: Any) -> None:
    """filters=Working is no IBKR status: InputError naming filters, nothing sent."""
    with pytest.raises(InputError) as info:
        get_open_orders(make_client(), GetOpenOrdersInput(filters=["Submitted", "Working"]))
    assert info.value.field == "filters" and "PreSubmitted" in str(info.value)
    assert calls_to(rsps, "/iserver/account/orders") == 0


def test_status_filters_are_applied_to_an_unfiltered_answer_of_the_account(rsps: Any) -> None:
    """Status filters apply here to an unfiltered answer asked with accountId; other accounts dropped."""
    other = {**LIVE_ORDER, "orderId": 9, "order_ref": "theirs", "acct": "DU9990009"}
    filled = {**LIVE_ORDER, "orderId": 10, "order_ref": "done", "status": "Filled"}
    pending = {**LIVE_ORDER, "orderId": 11, "order_ref": "pc", "status": "PendingCancel"}
    rsps.add(responses.GET, LIVE, json={"orders": [LIVE_ORDER, other, filled, pending],
                                        "snapshot": True})
    out = get_open_orders(make_client(), GetOpenOrdersInput(
        filters=["Submitted", "PreSubmitted", "pending_cancel", "submitted"]))
    sent = [c.request.url for c in rsps.calls if c.request.url.split("?")[0] == LIVE]
    assert sent and sent[0].endswith("?accountId=DU1110001")
    assert [o.client_order_id for o in out.orders] == [COID, "pc"]


def test_two_unusable_answers_end_after_exactly_two_sends(rsps: Any) -> None:
    """Every send lost and the order absent: outcome unknown after the one resend, never a third."""
    rsps.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    rsps.add(responses.GET, LIVE, json=EMPTY_REAL)
    rsps.add(responses.GET, TRADES, json=[])
    with pytest.raises(OrderUnconfirmed) as info:
        place_order(make_client(), LMT, _settings())
    assert _posted(rsps) == [COID, COID] and info.value.client_order_id == COID


def test_only_preflight_answers_never_count_as_absent(rsps: Any) -> None:
    """Live orders never answer for real (pre-flight only): unknown, no resend, even if trades are empty."""
    rsps.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    rsps.add(responses.GET, LIVE, json={"orders": [], "snapshot": False})
    rsps.add(responses.GET, TRADES, json=[])
    with pytest.raises(OrderUnconfirmed):
        place_order(make_client(), LMT, _settings())
    assert _posted(rsps) == [COID] and calls_to(rsps, "/iserver/account/orders") == 4


def test_a_failed_poll_is_followed_by_the_next_poll(rsps: Any) -> None:
    """A maintenance answer on one live-orders poll does not end the lookup: the next poll finds it."""
    rsps.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    rsps.add(responses.GET, LIVE, body="maintenance")
    rsps.add(responses.GET, LIVE, json={"orders": [LIVE_ORDER], "snapshot": True})
    out = place_order(make_client(), LMT, _settings())
    assert out.order_id == "8" and _posted(rsps) == [COID]


def test_question_with_message_ids_only_is_judged_by_id(rsps: Any) -> None:
    """A question carrying messageIds but no text is still a question, declined by id (o163)."""
    rsps.add(responses.POST, ORDERS, json=[{"id": "q3", "messageIds": ["o163"]}])
    rsps.add(responses.POST, f"{BASE}/iserver/reply/q3", json={"error": "dropped"})
    with pytest.raises(OrderRejected, match="o163"):
        place_order(make_client(), LMT, _settings())
    assert calls_to(rsps, "/iserver/account/orders") == 0


def test_rate_limit_without_retry_after_waits_one_second(rsps: Any) -> None:
    """A 429 without Retry-After is resent after 1 s with the same cOID."""
    rsps.add(responses.POST, ORDERS, status=429, json={"error": "too many"})
    rsps.add(responses.POST, ORDERS, json=[{"order_id": "5", "order_status": "Submitted"}])
    clock = FakeClock()
    out = place_order(make_client(clock=clock), LMT, _settings())
    assert out.order_id == "5" and clock.sleeps == [1.0] and _posted(rsps) == [COID, COID]


def test_a_slow_answer_asked_early_never_settles_absence(rsps: Any) -> None:
    """A live-orders answer asked at 0 s but received after the settle time proves nothing: no resend."""
    clock = FakeClock()

    def slow_empty(_request: Any) -> tuple[int, dict[str, str], str]:
        clock.now += 1.0  # the answer (computed when asked) arrives a second later
        return 200, {}, json.dumps(EMPTY_REAL)

    rsps.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    rsps.add_callback(responses.GET, LIVE, callback=slow_empty)
    rsps.add(responses.GET, LIVE, json={"orders": [LIVE_ORDER], "snapshot": True})
    rsps.add(responses.GET, TRADES, json=[])
    rsps.add(responses.POST, ORDERS, json=[{"order_id": "9", "order_status": "Submitted"}])
    out = place_order(make_client(clock=clock), LMT, _settings())
    assert out.order_id == "8" and _posted(rsps) == [COID]


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_while_looking_up_a_lost_order_is_outcome_unknown(rsps: Any,
                                                                       status: int) -> None:
    """POST reset, then live orders and trades refuse the token: exit 6 naming the cOID, no resend."""
    rsps.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    rsps.add(responses.GET, LIVE, status=status, json={"error": "not authenticated"})
    rsps.add(responses.GET, TRADES, status=status, json={"error": "not authenticated"})
    with pytest.raises(OrderUnconfirmed) as info:
        place_order(make_client(), LMT, _settings())
    exc = info.value
    assert error_exit_code(exc) == 6 and exc.client_order_id == COID and COID in str(exc)
    posts = [c for c in rsps.calls if c.request.method == "POST" and c.request.url == ORDERS]
    assert len(posts) == 1


@pytest.mark.parametrize("resend_answer", [
    {"status": 429, "json": {"error": "Too many requests"}, "headers": {"Retry-After": "1"}},
    {"status": 401, "json": {"error": "not authenticated"}},
])
def test_failed_resend_after_an_unknown_first_send_is_outcome_unknown(
        rsps: Any, resend_answer: dict[str, Any]) -> None:
    """POST reset, lookup misses it (lag), resend 429/401: exit 6 naming the cOID, not exit 5/3."""
    rsps.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    rsps.add(responses.GET, LIVE, json={"orders": [], "snapshot": True})
    rsps.add(responses.GET, TRADES, json=[])
    rsps.add(responses.POST, ORDERS, **resend_answer)
    with pytest.raises(OrderUnconfirmed) as info:
        place_order(make_client(), LMT, _settings())
    exc = info.value
    assert error_exit_code(exc) == 6 and exc.client_order_id == COID and COID in str(exc)
    assert "new client_order_id" not in (exc.fix or "").replace("never with a new", "")


def test_order_of_another_account_under_the_same_coid_is_neither_ours_nor_absence(
        rsps: Any) -> None:
    """Lost answer; the cOID only on another account: not ours, not proof of absence; unknown."""
    other = {"orderId": 7, "order_ref": COID, "status": "Submitted", "conid": 265598,
             "side": "BUY", "totalSize": 3.0, "origOrderType": "LIMIT", "price": "99.00",
             "timeInForce": "DAY", "acct": "DU9999999"}
    rsps.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    rsps.add(responses.GET, LIVE, json={"orders": [other], "snapshot": True})
    rsps.add(responses.GET, TRADES, json=[{"order_ref": COID, "order_id": 7, "conid": 265598,
                                           "side": "B", "size": 3, "price": "99",
                                           "account": "DU9999999"}])
    rsps.add(responses.POST, ORDERS, json=[{"order_id": "9", "order_status": "Submitted"}])
    with pytest.raises(OrderUnconfirmed) as info:
        place_order(make_client(), LMT, _settings())
    assert _posted(rsps) == [COID] and error_exit_code(info.value) == 6


def test_live_orders_of_another_account_never_prove_ours_absent(rsps: Any) -> None:
    """Lost answer; IBKR ignores accountId and lists the selected account's orders: no resend."""
    theirs = {**LIVE_ORDER, "orderId": 7, "order_ref": "theirs", "acct": "DU9999999"}
    rsps.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    rsps.add(responses.GET, LIVE, json={"orders": [theirs], "snapshot": True})
    rsps.add(responses.GET, TRADES, json=[])
    rsps.add(responses.POST, ORDERS, json=[{"order_id": "9", "order_status": "Submitted"}])
    with pytest.raises(OrderUnconfirmed):
        place_order(make_client(), LMT, _settings())
    assert _posted(rsps) == [COID]


def test_trades_of_another_account_never_prove_ours_absent(rsps: Any) -> None:
    """Lost answer; live orders empty for real but trades answer for another account: unknown."""
    rsps.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    rsps.add(responses.GET, LIVE, json=EMPTY_REAL)
    rsps.add(responses.GET, TRADES, json=[{"order_ref": "theirs", "order_id": 7, "conid": 1,
                                           "side": "S", "size": 1, "price": "9",
                                           "account": "DU9999999"}])
    rsps.add(responses.POST, ORDERS, json=[{"order_id": "9", "order_status": "Submitted"}])
    with pytest.raises(OrderUnconfirmed):
        place_order(make_client(), LMT, _settings())
    assert _posted(rsps) == [COID]


@pytest.mark.parametrize("acct", [None, "", 0, {"id": "DU1110001"}])
def test_open_orders_answered_for_another_account_are_not_complete(rsps: Any, acct: Any) -> None:
    """An answer naming another account: no entry attributed to this account, complete false."""
    theirs = {**LIVE_ORDER, "orderId": 7, "order_ref": "theirs", "acct": "DU9999999"}
    unlabelled = {**LIVE_ORDER, "orderId": 8, "order_ref": "who", "acct": acct}
    rsps.add(responses.GET, LIVE, json={"orders": [theirs, unlabelled], "snapshot": True})
    out = get_open_orders(make_client(), GetOpenOrdersInput())
    assert out.orders == [] and out.complete is False and out.account_id == "DU1110001"


def test_open_orders_without_account_fields_are_this_accounts(rsps: Any) -> None:
    """Asked with accountId and no entry names another account: entries are ours, complete."""
    rsps.add(responses.GET, LIVE, json={"orders": [{**LIVE_ORDER, "acct": None}],
                                        "snapshot": True})
    out = get_open_orders(make_client(), GetOpenOrdersInput())
    assert [o.order_id for o in out.orders] == ["8"] and out.complete is True


def test_trades_find_with_an_odd_order_id_keeps_the_trades_record(rsps: Any) -> None:
    """A broker order id too long for the status endpoint: no crash, the trades record is used."""
    rsps.add(responses.POST, ORDERS, body=requests.ConnectionError("reset"))
    rsps.add(responses.GET, LIVE, json={"orders": [], "snapshot": True})
    rsps.add(responses.GET, TRADES, json=[{"order_ref": COID, "order_id": "1" * 25,
                                           "conid": 265598, "side": "B", "size": 3,
                                           "price": "99", "account": "DU1110001"}])
    out = place_order(make_client(), LMT, _settings())
    assert out.order_id == "1" * 25 and output_json(out)["source"] == "trades"
    assert out.status == "Filled" and out.filled_quantity == 3.0


def test_cancel_refused_while_pending_cancel_never_says_already_cancelled(rsps: Any) -> None:
    """IBKR refuses a second cancel of a PendingCancel order: it can still fill, so not 'cancelled'."""
    from noetl_ib_plugin.actions.models import CancelOrderInput
    from noetl_ib_plugin.actions.orders import cancel_order

    rsps.add(responses.DELETE, f"{BASE}/iserver/account/DU1110001/order/8",
             json={"error": "OrderID 8 is already pending cancel"})
    rsps.add(responses.GET, LIVE, json={"orders": [{**LIVE_ORDER, "status": "PendingCancel",
                                                    "remainingQuantity": 3.0}],
                                        "snapshot": True})
    out = cancel_order(make_client(), CancelOrderInput(order_id="8"))
    assert out.status == "PendingCancel" and output_json(out)["already_cancelled"] is False
    assert "can still fill" in (out.message or "")
