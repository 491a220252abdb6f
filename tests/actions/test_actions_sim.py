"""Every action end to end over real HTTP against the simulator, with both credential types."""

from __future__ import annotations

from typing import Any

import pytest

from noetl_ib_plugin.errors import (
    AmbiguousContract,
    BrokerError,
    ContractNotFound,
    InputError,
    OrderRejected,
    OrderUnconfirmed,
)
from noetl_ib_plugin.simulator import Simulator
from tests.fixtures.simulators import ACCOUNTS, CREDS, act

AAPL = 265598


def _orders_with(sim_reset: Simulator, coid: str) -> list[dict[str, Any]]:
    return [o for o in sim_reset.orders() if o["cOID"] == coid]


@pytest.mark.parametrize("cred", CREDS)
def test_every_action_end_to_end(sim_reset: Simulator, cred: str) -> None:
    """summary, positions, snapshot, place, open orders and cancel all work for both schemes."""
    acct = ACCOUNTS[cred]
    summary = act(sim_reset, cred, "account_summary")
    assert summary["account_id"] == acct and summary["currency"] == "USD"
    assert isinstance(summary["net_liquidation"], float) and summary["buying_power"] > 0
    positions = act(sim_reset, cred, "get_positions")
    assert positions["account_id"] == acct
    assert {"symbol", "conid", "position", "avg_price", "market_price", "market_value",
            "unrealized_pnl", "currency"} <= set(positions["positions"][0])
    assert all(isinstance(p["position"], float) for p in positions["positions"])
    if cred == "sim_oauth1a":  # 3 starting positions + 120 bulk ones: two pages of 100
        assert positions["count"] == 123
    quote = act(sim_reset, cred, "snapshot", symbols=["AAPL"])["snapshots"][0]
    assert quote["conid"] == AAPL and isinstance(quote["last"], float)
    sim_reset.set_price(AAPL, 100.0)
    placed = act(sim_reset, cred, "place_order", symbol="AAPL", side="BUY", quantity=5,
                 order_type="LMT", limit_price=99.0)
    assert placed["status"] == "Submitted" and placed["order_id"].isdigit()
    assert placed["account_id"] == acct and placed["conid"] == AAPL
    open_orders = act(sim_reset, cred, "get_open_orders")["orders"]
    mine = [o for o in open_orders if o["order_id"] == placed["order_id"]]
    assert mine and mine[0]["client_order_id"] == placed["client_order_id"]
    assert mine[0]["price"] == 99.0 and mine[0]["order_type"] == "LMT"
    cancelled = act(sim_reset, cred, "cancel_order", order_id=placed["order_id"])
    assert cancelled["status"] == "cancel_requested"
    assert _orders_with(sim_reset, placed["client_order_id"])[0]["status"] == "Cancelled"


@pytest.mark.parametrize(
    ("order_type", "extra", "sim_type", "price", "aux"),
    [
        ("MKT", {}, "MKT", None, None),
        ("limit", {"limit_price": 99.5}, "LMT", 99.5, None),
        ("STP", {"stop_price": 102.0}, "STP", 102.0, None),
        ("STP LMT", {"stop_price": 102.0, "limit_price": 102.5}, "STOP_LIMIT", 102.5, 102.0),
    ],
)
def test_each_order_type(sim_reset: Simulator, order_type: str, extra: dict[str, float],
                         sim_type: str, price: float | None, aux: float | None) -> None:
    """MKT/LMT/STP/STOP_LIMIT map to IBKR's ticket: price = limit (or STP stop), auxPrice = stop."""
    sim_reset.set_price(AAPL, 100.0)
    out = act(sim_reset, "sim_oauth2", "place_order", symbol="aapl", side="buy", quantity=2,
              order_type=order_type, **extra)
    (order,) = _orders_with(sim_reset, out["client_order_id"])
    assert order["orderType"] == sim_type and order["order_id"] == int(out["order_id"])
    assert order["price"] == price and order["auxPrice"] == aux
    assert out["order_type"] == sim_type
    if sim_type == "MKT":
        assert order["status"] == "Filled"


def test_question_chain_is_confirmed_when_allowed(sim_reset: Simulator) -> None:
    """Two chained questions (o163 then o383) are both confirmed when the caller allows them."""
    sim_reset.set_price(AAPL, 100.0)
    out = act(sim_reset, "sim_oauth1a", "place_order", symbol="AAPL", side="BUY", quantity=6000,
              order_type="LMT", limit_price=90.0, confirm=["o163", "O383"])
    assert out["confirmed_message_ids"] == ["o163", "o383"]
    assert sim_reset.stats()["questions_asked"] == 2
    assert len(_orders_with(sim_reset, out["client_order_id"])) == 1


def test_generic_warning_is_auto_confirmed(sim_reset: Simulator) -> None:
    """o354 (no market data) is in the default auto-confirm set; the order goes through."""
    out = act(sim_reset, "sim_oauth2", "place_order", order_type="MKT", symbol="VOD", side="BUY", quantity=1)
    assert out["confirmed_message_ids"] == ["o354"]
    assert _orders_with(sim_reset, out["client_order_id"])


def test_declined_question_raises_and_leaves_nothing_hanging(sim_reset: Simulator) -> None:
    """o163 is declined by default: OrderRejected names it and how to allow it; no order exists."""
    sim_reset.set_price(AAPL, 100.0)
    with pytest.raises(OrderRejected) as info:
        act(sim_reset, "sim_oauth2", "place_order", symbol="AAPL", side="BUY", quantity=1,
            order_type="LMT", limit_price=80.0, client_order_id="decline-1")
    text = str(info.value)
    assert "o163" in text and 'confirm=["o163"]' in text
    assert not _orders_with(sim_reset, "decline-1")
    assert not sim_reset.engine.broker.replies  # the question was answered (confirmed: false)


def test_decline_overrides_default_auto_confirm(sim_reset: Simulator) -> None:
    """`decline=["o354"]` refuses even a generic warning the default policy would confirm."""
    with pytest.raises(OrderRejected, match="o354"):
        act(sim_reset, "sim_oauth2", "place_order", order_type="MKT", symbol="VOD", side="BUY", quantity=1,
            decline="o354")
    assert not sim_reset.orders()


def test_snapshot_polls_through_preflight_and_parses(sim_reset: Simulator) -> None:
    """Pre-flight, then the price fields, then the book: the action polls until all arrived."""
    out = act(sim_reset, "sim_oauth2", "snapshot", symbols=["AAPL", "SIVB"], conids=[4036818],
              fields=["last", "bid", "volume", "bid_size", "symbol", "7741"])
    assert out["complete"] and out["attempts"] == 3
    assert out["partial"] is False and out["errors"] == []
    by_conid = {q["conid"]: q for q in out["snapshots"]}
    aapl = by_conid[AAPL]
    assert isinstance(aapl["bid_size"], int) and isinstance(aapl["volume"], int)
    assert aapl["symbol"] == "AAPL" and not aapl["halted"] and not aapl["last_is_prior_close"]
    assert isinstance(aapl["prior_close"], float)  # known raw ids come back by name
    assert by_conid[459530]["halted"] is True
    asx = by_conid[4036818]
    assert asx["last_is_prior_close"] is True and isinstance(asx["last"], float)


def test_snapshot_reports_missing_fields_at_the_bound(sim_reset: Simulator) -> None:
    """A conid without market data (VOD) is reported in `missing` after max_wait, not hung on."""
    out = act(sim_reset, "sim_oauth2", "snapshot", conids=[13109], fields=["last", "bid"],
              max_wait=0.3, poll_interval=0.05)
    (quote,) = out["snapshots"]
    assert out["complete"] is False
    assert quote["missing"] == ["last", "bid"] and quote["last"] is None


def test_ambiguous_symbol_lists_candidates_and_filters_resolve_it(sim_reset: Simulator) -> None:
    """BHP has NYSE and ASX listings: no filter -> AmbiguousContract; exchange/currency pick one."""
    with pytest.raises(AmbiguousContract) as info:
        act(sim_reset, "sim_oauth2", "snapshot", symbols=["BHP"], fields=["last"])
    exchanges = {c["exchange"] for c in info.value.candidates}
    assert exchanges == {"NYSE", "ASX"}
    assert {c["currency"] for c in info.value.candidates} == {"USD", "AUD"}
    asx = act(sim_reset, "sim_oauth2", "snapshot", symbols=["BHP"], exchange="ASX", fields=["last"])
    assert asx["snapshots"][0]["conid"] == 4036818
    usd = act(sim_reset, "sim_oauth2", "place_order", order_type="MKT", symbol="BHP", currency="USD",
              side="BUY", quantity=1)
    assert usd["conid"] == 4036812
    with pytest.raises(ContractNotFound):
        act(sim_reset, "sim_oauth2", "snapshot", symbols=["NOPE"], fields=["last"])


@pytest.mark.parametrize("cred", CREDS)
def test_reset_after_on_order_placement_gives_one_order(sim_reset: Simulator, cred: str) -> None:
    """The order POST is processed, then the connection drops: reconciliation returns the real id."""
    sim_reset.set_faults({"reset_after": 1.0, "methods": ["POST"],
                    "paths": [f"/v1/api/iserver/account/{ACCOUNTS[cred]}/orders"]})
    out = act(sim_reset, cred, "place_order", order_type="MKT", symbol="AAPL", side="BUY", quantity=3)
    orders = _orders_with(sim_reset, out["client_order_id"])
    assert len(orders) == 1 and str(orders[0]["order_id"]) == out["order_id"]
    assert out["reconciled"] is True
    stats = sim_reset.stats()
    assert stats["orders_accepted"] == 1
    assert stats["orders_rejected_duplicate_coid"] == 0
    assert stats["faults_injected"]["reset_after"] == 1


def test_reset_before_resends_once_with_same_coid(sim_reset: Simulator) -> None:
    """The POST is dropped before IBKR sees it: confirmed absent, resent once, one order."""
    sim_reset.set_faults({"reset_before": 0.5, "seed": 3, "methods": ["POST"],
                    "paths": ["/v1/api/iserver/account/DU1234567/orders"]})
    out = act(sim_reset, "sim_oauth2", "place_order", order_type="MKT", symbol="AAPL", side="BUY", quantity=1,
              client_order_id="rb-1")
    assert len(_orders_with(sim_reset, "rb-1")) == 1
    assert str(_orders_with(sim_reset, "rb-1")[0]["order_id"]) == out["order_id"]
    assert sim_reset.stats()["orders_accepted"] == 1


def test_reset_after_on_reply_is_reconciled(sim_reset: Simulator) -> None:
    """The confirming reply is processed but its answer lost: the placed order is found by cOID."""
    sim_reset.set_price(AAPL, 100.0)
    sim_reset.set_faults({"reset_after": 1.0, "methods": ["POST"], "paths": ["/v1/api/iserver/reply/"]})
    out = act(sim_reset, "sim_oauth2", "place_order", symbol="AAPL", side="SELL", quantity=1,
              order_type="LMT", limit_price=120.0, confirm=["o163"])
    assert out["reconciled"] and len(_orders_with(sim_reset, out["client_order_id"])) == 1


def test_persistent_500_on_placement_raises_order_unconfirmed(sim_reset: Simulator) -> None:
    """Every placement answered 500: after one resend the caller gets OrderUnconfirmed + cOID."""
    sim_reset.set_faults({"http_500": 1.0, "methods": ["POST"],
                    "paths": ["/v1/api/iserver/account/DU1234567/orders"]})
    with pytest.raises(OrderUnconfirmed) as info:
        act(sim_reset, "sim_oauth2", "place_order", order_type="MKT", symbol="AAPL", side="BUY", quantity=1,
            client_order_id="u-1")
    assert "u-1" in str(info.value) and not sim_reset.orders()


def test_reused_client_order_id_resolves_to_the_existing_order(sim_reset: Simulator) -> None:
    """Sending the same client_order_id twice returns the first order instead of a duplicate."""
    first = act(sim_reset, "sim_oauth2", "place_order", order_type="MKT", symbol="IBM", side="BUY",
                quantity=1, client_order_id="same-1")
    second = act(sim_reset, "sim_oauth2", "place_order", order_type="MKT", symbol="IBM", side="BUY",
                 quantity=1, client_order_id="same-1")
    assert second["order_id"] == first["order_id"] and second["reconciled"]
    assert len(_orders_with(sim_reset, "same-1")) == 1
    assert sim_reset.stats()["orders_rejected_duplicate_coid"] == 1


def test_revoked_token_mid_run_refreshes_once(sim_reset: Simulator) -> None:
    """An action after the simulator revoked the token succeeds with exactly one new LST."""
    act(sim_reset, "sim_oauth1a", "get_positions")
    sim_reset.revoke_all()
    act(sim_reset, "sim_oauth1a", "account_summary")
    assert sim_reset.stats()["lst_requests"] == 2


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"symbol": "AAPL", "side": "BUY", "quantity": -1}, "quantity"),
        ({"symbol": "AAPL", "side": "BUY", "quantity": 1, "order_type": "LMT"}, "limit_price"),
        ({"symbol": "AAPL", "side": "BUY", "quantity": 1, "order_type": "MIDPRICE"}, "order_type"),
        ({"symbol": "AAPL", "conid": 8314, "side": "BUY", "quantity": 1, "order_type": "MKT"},
         "conid"),
        ({"symbol": "AAPL", "side": "HOLD", "quantity": 1, "order_type": "MKT"}, "side"),
        ({"symbol": "AAPL", "side": "BUY", "quantity": 1, "order_type": "MKT", "stop_price": 3},
         "stop_price"),
        ({"symbol": "AAPL", "side": "BUY", "quantity": 1}, "order_type"),
    ],
)
def test_invalid_order_inputs_name_the_field(sim_reset: Simulator, args: dict[str, Any],
                                             field: str) -> None:
    """Bad order inputs fail with an InputError naming the offending field; nothing is placed."""
    with pytest.raises(InputError) as info:
        act(sim_reset, "sim_oauth2", "place_order", **args)
    assert info.value.field == field and field in str(info.value)
    assert not sim_reset.orders()


def test_cancel_unknown_order_names_order_id(sim_reset: Simulator) -> None:
    """Cancelling an id IBKR does not know is a BrokerError naming order_id."""
    with pytest.raises(BrokerError) as info:
        act(sim_reset, "sim_oauth2", "cancel_order", order_id="1")
    assert info.value.field == "order_id" and "doesn't exist" in str(info.value)


def test_open_orders_handles_preflight(sim_reset: Simulator) -> None:
    """The first live-orders answer of a session is empty; the action asks again and sees orders."""
    sim_reset.set_price(AAPL, 100.0)
    placed = act(sim_reset, "sim_oauth2", "place_order", order_type="LMT", limit_price=99.0,
                 symbol="AAPL", side="BUY", quantity=1)  # working: listed in every session
    from noetl_ib_plugin.runner import reset_default_host

    reset_default_host()
    sim_reset.engine.broker.sessions.clear()  # a new brokerage session: pre-flight again
    out = act(sim_reset, "sim_oauth2", "get_open_orders")
    assert out["complete"] and [o["order_id"] for o in out["orders"]] == [placed["order_id"]]


def test_cancel_with_lost_answer_is_reconciled_from_live_orders(sim_reset: Simulator) -> None:
    """The DELETE is processed but its answer lost: the cancel is confirmed from live orders."""
    sim_reset.set_price(AAPL, 100.0)
    placed = act(sim_reset, "sim_oauth2", "place_order", symbol="AAPL", side="BUY", quantity=1,
                 order_type="LMT", limit_price=99.0)
    sim_reset.set_faults({"reset_after": 1.0, "methods": ["DELETE"]})
    out = act(sim_reset, "sim_oauth2", "cancel_order", order_id=placed["order_id"])
    assert out["status"] == "cancel_requested" and out["reconciled"] is True
    book = _orders_with(sim_reset, placed["client_order_id"])
    assert [o["status"] for o in book] in (["Cancelled"], ["PendingCancel"])


def test_cancel_rate_limited_once_is_resent(sim_reset: Simulator) -> None:
    """A 429 on the cancel (not processed by IBKR) is resent once after Retry-After."""
    sim_reset.set_price(AAPL, 100.0)
    placed = act(sim_reset, "sim_oauth2", "place_order", symbol="AAPL", side="BUY", quantity=1,
                 order_type="LMT", limit_price=99.0)
    sim_reset.set_faults({"http_429": 0.5, "seed": 11, "methods": ["DELETE"]})
    out = act(sim_reset, "sim_oauth2", "cancel_order", order_id=placed["order_id"])
    assert out["status"] == "cancel_requested"
    assert sim_reset.stats()["faults_injected"].get("http_429", 0) >= 1
