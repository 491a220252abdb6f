"""Order outcomes under broker faults, each through run_action and the CLI, against the faulty simulator.

Every order result is compared with the simulator's book (the broker's truth), never with the
request: an oracle independent of the client's own parsing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from noetl_ib_plugin.cli import main
from noetl_ib_plugin.errors import (
    BrokerError,
    IdempotencyKeyConflict,
    OrderInactive,
    OrderUnconfirmed,
    TransientError,
)
from noetl_ib_plugin.simulator import Simulator
from tests.fixtures.simulators import act

AAPL = 265598
GARBAGE = ("garbage_html", "garbage_empty", "garbage_shape", "garbage_408", "garbage_501",
           "garbage_524")


def _book(sim_reset: Simulator, coid: str) -> list[dict[str, Any]]:
    """The broker's orders under one cOID."""
    return [o for o in sim_reset.orders() if o["cOID"] == coid]


def _resting(coid: str, **extra: Any) -> dict[str, Any]:
    """A BUY 3 AAPL LMT 99 DAY order (AAPL pinned at 100: it rests, no question)."""
    return {"symbol": "AAPL", "side": "BUY", "quantity": 3, "order_type": "LMT",
            "limit_price": 99.0, "tif": "DAY", "client_order_id": coid, **extra}


def _cli(sim_reset: Simulator, capsys: pytest.CaptureFixture[str], action: str,
         args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Run `noetl-ib run ACTION` in-process; (exit code, stdout result or stderr error)."""
    argv = ["run", action, "--credential", "sim_oauth2", "--credentials-file",
            str(sim_reset.credentials_file), "--args-json", json.dumps(args)]
    code = main(argv)
    out, err = capsys.readouterr()
    if code == 0:
        return code, json.loads(out)
    return code, json.loads(err.strip().splitlines()[-1])["error"]


def _same_as_book(result: dict[str, Any], book: dict[str, Any]) -> None:
    """Every field the result reports matches the broker's record of that order."""
    assert result["order_id"] == str(book["order_id"])
    assert result["client_order_id"] == book["cOID"]
    assert result["conid"] == book["conid"] and result["side"] == book["side"]
    assert result["quantity"] == book["quantity"] and result["tif"] == book["tif"]
    assert result["order_type"] == book["orderType"]
    assert result["limit_price"] == book["price"]


# -- 1. accepted, answer unreadable ---------------------------------------------------------------


@pytest.mark.parametrize("kind", GARBAGE)
def test_unreadable_accept_is_reconciled_to_the_brokers_order(priced: Simulator, kind: str) -> None:
    """HTML/empty/{"foo":1}/408/501/524 after IBKR accepted: the result is the order IBKR holds."""
    priced.set_faults({kind: 1.0})
    out = act(priced, "sim_oauth2", "place_order", **_resting(f"g-{kind}"))
    book = _book(priced, f"g-{kind}")
    assert len(book) == 1 and priced.stats()["faults_injected"].get(kind)
    assert out["reconciled"] is True and out["source"] == "live_orders"
    _same_as_book(out, book[0])


def test_unreadable_accept_exits_0_on_the_cli(priced: Simulator,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Through the CLI the same case exits 0 with the broker's order id."""
    priced.set_faults({"garbage_html": 1.0})
    code, out = _cli(priced, capsys, "place_order", _resting("g-cli"))
    assert code == 0 and out["order_id"] == str(_book(priced, "g-cli")[0]["order_id"])


# -- 2. duplicate-cOID refusal after a lost answer and a lagging live-orders list ----------------


def test_duplicate_coid_refusal_is_outcome_unknown_naming_the_coid(
        priced: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    """Reset after accept, live orders lag forever, resend refused as duplicate: exit 6 + cOID."""
    priced.set_faults({"reset_after": 1.0, "methods": ["POST"], "live_orders_lag_s": 3600,
                       "paths": ["/v1/api/iserver/account/"]})
    with pytest.raises(OrderUnconfirmed) as info:
        act(priced, "sim_oauth2", "place_order", **_resting("dup-1"))
    exc = info.value
    assert exc.category == "unknown" and exc.client_order_id == "dup-1"
    assert "dup-1" in str(exc) and "new client_order_id" not in str(exc).replace("never with a new", "")
    assert len(_book(priced, "dup-1")) == 1
    code, err = _cli(priced, capsys, "place_order", _resting("dup-2"))
    assert code == 6 and err["client_order_id"] == "dup-2" and err["category"] == "unknown"
    assert "dup-2" in err["message"] and len(_book(priced, "dup-2")) == 1


def test_lagging_live_orders_still_resolve_to_one_order(priced: Simulator) -> None:
    """Order listed only after 1.5 s, uniqueness off: the settle wait alone keeps it single."""
    priced.set_order_options(enforce_coid_unique=False)
    priced.set_faults({"garbage_empty": 1.0, "live_orders_lag_s": 1.5})
    out = act(priced, "sim_oauth2", "place_order", **_resting("lag-1"))
    book = _book(priced, "lag-1")
    assert len(book) == 1 and out["reconciled"] is True
    assert priced.logical_requests()["logical_duplicates"] == 0
    _same_as_book(out, book[0])


# -- 3. cOID reused for a different order ------------------------------------------------------------


def test_reused_coid_for_a_different_order_is_a_conflict(
        priced: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    """BUY 1 LMT 187 then SELL 5 LMT 195 under one cOID: typed conflict, the SELL is not placed."""
    priced.set_price(AAPL, 190.0)
    first = act(priced, "sim_oauth2", "place_order", symbol="AAPL", side="BUY", quantity=1,
                order_type="LMT", limit_price=187.0, client_order_id="k-1")
    second = {"symbol": "AAPL", "side": "SELL", "quantity": 5, "order_type": "LMT",
              "limit_price": 195.0, "client_order_id": "k-1"}
    with pytest.raises(IdempotencyKeyConflict) as info:
        act(priced, "sim_oauth2", "place_order", **second)
    assert info.value.order_id == first["order_id"] and info.value.field == "client_order_id"
    assert "side" in str(info.value) and "quantity" in str(info.value)
    code, err = _cli(priced, capsys, "place_order", second)
    assert code == 2 and err["client_order_id"] == "k-1"
    assert [o["side"] for o in _book(priced, "k-1")] == ["BUY"]


def test_resent_same_order_returns_the_brokers_record(priced: Simulator) -> None:
    """The same order sent again under its cOID resolves to the broker's order, exit 0."""
    first = act(priced, "sim_oauth2", "place_order", **_resting("same-1"))
    again = act(priced, "sim_oauth2", "place_order", **_resting("same-1"))
    book = _book(priced, "same-1")
    assert len(book) == 1 and again["reconciled"] is True
    assert again["order_id"] == first["order_id"]
    _same_as_book(again, book[0])


def test_reused_coid_conflict_holds_when_ibkr_does_not_enforce_uniqueness(
        priced: Simulator) -> None:
    """With the simulator's uniqueness off, a lost answer still never leaves two orders."""
    priced.set_order_options(enforce_coid_unique=False)
    priced.set_faults({"garbage_501": 1.0})
    act(priced, "sim_oauth2", "place_order", **_resting("nu-1"))
    assert len(_book(priced, "nu-1")) == 1
    assert priced.logical_requests()["logical_duplicates"] == 0


# -- 5. Inactive at placement -----------------------------------------------------------------------


def test_inactive_at_placement_is_a_typed_refusal(
        priced: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    """IBKR answers Inactive: OrderInactive with the order id and IBKR's reason, exit 4."""
    priced.set_faults({"inactive": 1.0, "inactive_reason": "Insufficient margin"})
    with pytest.raises(OrderInactive) as info:
        act(priced, "sim_oauth2", "place_order", **_resting("in-1"))
    book = _book(priced, "in-1")
    assert len(book) == 1 and book[0]["status"] == "Inactive"
    assert info.value.order_id == str(book[0]["order_id"]) and info.value.client_order_id == "in-1"
    assert info.value.reason and "Insufficient margin" in info.value.reason
    code, err = _cli(priced, capsys, "place_order", _resting("in-2"))
    assert code == 4 and err["type"] == "OrderInactive" and err["order_id"]


def test_inactive_is_not_working_for_open_orders_and_cancel(priced: Simulator) -> None:
    """get_open_orders(include_inactive=False) hides it; cancel_order succeeds as already dead."""
    priced.set_faults({"inactive": 1.0})
    with pytest.raises(OrderInactive) as info:
        act(priced, "sim_oauth2", "place_order", **_resting("in-3"))
    priced.set_faults({})
    order_id = info.value.order_id
    working = act(priced, "sim_oauth2", "get_open_orders", include_inactive=False)["orders"]
    assert order_id not in [o["order_id"] for o in working]
    listed = act(priced, "sim_oauth2", "get_open_orders")["orders"]
    assert [o["status"] for o in listed if o["order_id"] == order_id] == ["Inactive"]
    out = act(priced, "sim_oauth2", "cancel_order", order_id=order_id)
    assert out["already_cancelled"] is True and out["status"] == "Inactive"


# -- 6. cancel twice / cancel a filled order ----------------------------------------------------------


def test_cancel_of_a_cancelled_order_is_idempotent(
        priced: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    """A retried cancel reports success with already_cancelled: true (exit 0)."""
    placed = act(priced, "sim_oauth2", "place_order", **_resting("c-1"))
    first = act(priced, "sim_oauth2", "cancel_order", order_id=placed["order_id"])
    assert first["already_cancelled"] is False and first["status"] == "cancel_requested"
    again = act(priced, "sim_oauth2", "cancel_order", order_id=placed["order_id"])
    assert again["already_cancelled"] is True and again["status"] == "Cancelled"
    code, out = _cli(priced, capsys, "cancel_order", {"order_id": placed["order_id"]})
    assert code == 0 and out["already_cancelled"] is True


def test_cancel_of_a_filled_order_is_a_clear_refusal(
        priced: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    """A filled order cannot be cancelled: BrokerError on order_id saying so, exit 4."""
    placed = act(priced, "sim_oauth2", "place_order", symbol="AAPL", side="BUY", quantity=1,
                 order_type="LMT", limit_price=101.0, client_order_id="f-1")
    assert _book(priced, "f-1")[0]["status"] == "Filled"
    with pytest.raises(BrokerError) as info:
        act(priced, "sim_oauth2", "cancel_order", order_id=placed["order_id"])
    assert info.value.field == "order_id" and "filled" in str(info.value)
    code, err = _cli(priced, capsys, "cancel_order", {"order_id": placed["order_id"]})
    assert code == 4 and "filled" in err["message"]


# -- 7. session change between placement and reconciliation -------------------------------------------


def test_filled_order_is_found_in_trades_after_a_session_change(priced: Simulator) -> None:
    """Accepted, filled, session replaced, answer lost: found via trades (order_ref), exit 0."""
    priced.set_faults({"session_change": 1.0, "garbage_empty": 1.0})
    out = act(priced, "sim_oauth2", "place_order", symbol="AAPL", side="BUY", quantity=2,
              order_type="LMT", limit_price=101.0, client_order_id="s-1")
    book = _book(priced, "s-1")
    assert len(book) == 1 and book[0]["status"] == "Filled"
    assert priced.stats()["faults_injected"].get("session_change")
    assert out["source"] == "trades" and out["order_id"] == str(book[0]["order_id"])
    assert out["status"] == "Filled" and out["filled_quantity"] == 2.0
    assert out["side"] == "BUY" and out["conid"] == AAPL


def test_session_change_never_reads_as_absent(sim_reset: Simulator) -> None:
    """Inactive, session replaced, answer lost, no cOID check at IBKR: outcome unknown, one order."""
    # Live orders are scoped to the brokerage session, so after a session change they cannot
    # show a non-working order of the earlier session, and trades hold only executions: absence
    # is unprovable and a resend would double the order (the merged soak found it under load).
    sim_reset.set_price(AAPL, 100.0)
    sim_reset.set_order_options(enforce_coid_unique=False)
    sim_reset.set_faults({"inactive": 1.0, "session_change": 1.0, "garbage_empty": 1.0})
    with pytest.raises(OrderUnconfirmed) as info:
        act(sim_reset, "sim_oauth2", "place_order", **_resting("s-2"))
    assert len(_book(sim_reset, "s-2")) == 1
    assert info.value.client_order_id == "s-2" and "s-2" in str(info.value)


# -- 8. reads of the wrong shape --------------------------------------------------------------------


@pytest.mark.parametrize("body", [{"message": "Service unavailable"},
                                  {"positions": [{"conid": 1}]}, "maintenance"])
def test_positions_of_the_wrong_shape_are_an_error_naming_the_endpoint(
        priced: Simulator, body: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """{"message"}, {"positions": [...]} or "maintenance" is never `positions: []` (exit 5)."""
    priced.set_faults({"garbage_shape": 1.0, "wrong_shape_body": body,
                       "garbage_paths": ["/v1/api/portfolio/"], "garbage_methods": ["GET"]})
    with pytest.raises(TransientError) as info:
        act(priced, "sim_oauth2", "get_positions")
    assert "/positions/0" in str(info.value)
    code, err = _cli(priced, capsys, "get_positions", {})
    assert code == 5 and "/positions/0" in err["message"]


def test_html_read_is_a_transient_error_naming_the_endpoint(priced: Simulator) -> None:
    """A 200 HTML page from the summary endpoint is a TransientError naming it."""
    priced.set_faults({"garbage_html": 1.0, "garbage_paths": ["/v1/api/portfolio/"],
                       "garbage_methods": ["GET"]})
    with pytest.raises(TransientError) as info:
        act(priced, "sim_oauth2", "account_summary")
    assert "/summary" in str(info.value)


@pytest.mark.parametrize(("path", "action", "args"), [
    ("/v1/api/portfolio/", "account_summary", {}),
    ("/v1/api/iserver/secdef/", "snapshot", {"symbols": ["IBM"]}),
    ("/v1/api/iserver/account/orders", "get_open_orders", {}),
])
def test_wrong_shape_reads_are_errors_not_empty(priced: Simulator, path: str, action: str,
                                                args: dict[str, Any]) -> None:
    """Summary, search and live orders answering "maintenance" raise, never return empty."""
    priced.set_faults({"garbage_shape": 1.0, "wrong_shape_body": "maintenance",
                       "garbage_paths": [path], "garbage_methods": ["GET"]})
    with pytest.raises(TransientError) as info:
        act(priced, "sim_oauth2", action, **args)
    assert "GET /" in str(info.value)


def test_open_orders_filters_take_status_names_and_refuse_others(
        priced: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    """filters=Submitted lists working orders; filters=Working exits 2 naming filters."""
    placed = act(priced, "sim_oauth2", "place_order", **_resting("flt-1"))
    out = act(priced, "sim_oauth2", "get_open_orders", filters=["Submitted"])
    assert [o["order_id"] for o in out["orders"]] == [placed["order_id"]]
    code, err = _cli(priced, capsys, "get_open_orders", {"filters": ["Working"]})
    assert code == 2 and err["field"] == "filters"


def test_summary_object_without_entries_is_an_error(priced: Simulator) -> None:
    """`{"message": ...}` from the summary endpoint is not an empty summary: TransientError."""
    priced.set_faults({"garbage_shape": 1.0, "wrong_shape_body": {"message": "maintenance"},
                       "garbage_paths": ["/v1/api/portfolio/"], "garbage_methods": ["GET"]})
    with pytest.raises(TransientError) as info:
        act(priced, "sim_oauth2", "account_summary")
    assert "/summary" in str(info.value) and "maintenance" in str(info.value)
