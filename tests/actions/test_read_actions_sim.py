"""The read actions (history, ledger, accounts, auth_status, trades, order_status) end to end
against the simulator, and every action's output against its published schema."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest

from noetl_ib_plugin.actions.outputs import AccountsOutput, HistoryOutput
from noetl_ib_plugin.errors import BrokerError, InputError
from noetl_ib_plugin.runner import default_host, output_schema
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.simulator.api import ROUTES
from tests.fixtures.simulators import ACCOUNTS, CREDS, act

AAPL = 265598
BHP_ASX = 4036818
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _check_schema(name: str, result: dict[str, Any]) -> None:
    """Validate a result with jsonschema (an independent validator) against the published schema."""
    schema = output_schema(default_host().registry.actions[name])
    assert schema is not None
    jsonschema.validate(result, schema)
    json.dumps(result)  # the playbook gets plain JSON


@pytest.mark.parametrize("cred", CREDS)
def test_history_bars_are_numbers_with_utc_times(sim_reset: Simulator, cred: str) -> None:
    """history: OHLCV floats, ISO-8601 UTC bar times ascending, conid resolved from the symbol."""
    out = act(sim_reset, cred, "history", symbol="aapl", period="2d", bar="1h")
    _check_schema("history", out)
    assert out["conid"] == AAPL and out["symbol"] == "AAPL"
    assert out["period"] == "2d" and out["bar"] == "1h" and out["outside_rth"] is False
    bars = out["bars"]
    assert out["count"] == len(bars) > 0
    times = [b["time"] for b in bars]
    assert all(ISO_UTC.match(t) for t in times) and times == sorted(times)
    for bar in bars:
        assert all(isinstance(bar[k], float) for k in ("open", "high", "low", "close", "volume"))
        assert bar["low"] <= min(bar["open"], bar["close"]) <= max(bar["open"], bar["close"]) \
            <= bar["high"]
        hour = datetime.fromisoformat(bar["time"]).astimezone(UTC).hour
        assert 14 <= hour < 21  # regular hours only unless outside_rth


def test_history_outside_rth_and_by_conid(sim_reset: Simulator) -> None:
    """outside_rth=true adds bars outside regular hours; conid skips the contract search."""
    rth = act(sim_reset, "sim_oauth2", "history", conid=AAPL, period="1d", bar="1h")
    extended = act(sim_reset, "sim_oauth2", "history", conid=AAPL, period="1d", bar="1h",
                   outside_rth=True)
    assert extended["outside_rth"] is True and extended["count"] > rth["count"]
    searches = sim_reset.stats()["requests_by_endpoint"]
    assert searches.get("GET /v1/api/iserver/marketdata/history") == 2
    assert searches.get("GET /v1/api/iserver/secdef/search", 0) == 0
    act(sim_reset, "sim_oauth2", "history", symbol="AAPL")
    assert sim_reset.stats()["requests_by_endpoint"]["GET /v1/api/iserver/secdef/search"] == 1


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"symbol": "AAPL", "period": "31min"}, "period"),
        ({"symbol": "AAPL", "period": "2 days"}, "period"),
        ({"symbol": "AAPL", "bar": "7min"}, "bar"),
        ({"period": "1d"}, "symbol"),
        ({"conid": True}, "conid"),
    ],
)
def test_history_input_errors_name_the_field(sim_reset: Simulator, args: dict[str, Any], field: str) -> None:
    """Periods and bar sizes outside IBKR's grammar are refused before any request."""
    with pytest.raises(InputError) as info:
        act(sim_reset, "sim_oauth2", "history", **args)
    assert info.value.field == field
    assert sim_reset.stats()["requests_total"] == 0


def test_history_without_market_data_is_a_broker_error(sim_reset: Simulator) -> None:
    """A contract without market data permissions gives BrokerError naming conid."""
    with pytest.raises(BrokerError) as info:
        act(sim_reset, "sim_oauth2", "history", conid=13109)
    assert info.value.field == "conid" and "unavailable" in info.value.message


@pytest.mark.parametrize("cred", CREDS)
def test_ledger_lists_cash_per_currency(sim_reset: Simulator, cred: str) -> None:
    """ledger: BASE first, then each currency held; an ASX buy adds an AUD entry."""
    act(sim_reset, cred, "place_order", conid=BHP_ASX, side="BUY", quantity=10, order_type="MKT")
    out = act(sim_reset, cred, "ledger")
    _check_schema("ledger", out)
    assert out["account_id"] == ACCOUNTS[cred] and out["base_currency"] == "USD"
    names = [c["currency"] for c in out["currencies"]]
    assert names[0] == "BASE" and {"USD", "AUD"} <= set(names)
    aud = next(c for c in out["currencies"] if c["currency"] == "AUD")
    assert aud["exchange_rate"] == 0.66 and aud["stock_market_value"] > 0
    assert all(isinstance(c["cash"], float) for c in out["currencies"])
    assert all(ISO_UTC.match(c["timestamp"]) for c in out["currencies"])


@pytest.mark.parametrize("cred", CREDS)
def test_accounts_say_paper_currency_and_default(sim_reset: Simulator, cred: str) -> None:
    """accounts: the credential's account first (paper, USD, default), the login's linked one after."""
    out = act(sim_reset, cred, "accounts")
    _check_schema("accounts", out)
    account, linked = out["accounts"]
    assert account["account_id"] == ACCOUNTS[cred]
    assert linked["account_id"] != ACCOUNTS[cred] and linked["paper"] is True
    assert not linked["selected"] and not linked["default"]
    assert account["paper"] is True and account["currency"] == "USD"
    assert account["type"] == "DEMO" and account["selected"] and account["default"]
    assert out["default_account"] == ACCOUNTS[cred]


def test_auth_status_fetches_no_token(sim_reset: Simulator) -> None:
    """auth_status with nothing cached answers token_valid=false and sends no request at all."""
    out = act(sim_reset, "sim_oauth1a", "auth_status")
    _check_schema("auth_status", out)
    assert out == {"authenticated": False, "connected": False, "competing": False,
                   "token_valid": False, "token_expires_in": None, "session_age": None,
                   "message": out["message"]}
    assert sim_reset.stats()["requests_total"] == 0


@pytest.mark.parametrize("cred", CREDS)
def test_auth_status_after_an_action(sim_reset: Simulator, cred: str) -> None:
    """After an action: authenticated, connected, not competing, a session age and token lifetime."""
    act(sim_reset, cred, "get_positions")
    before = sim_reset.stats()
    out = act(sim_reset, cred, "auth_status")
    _check_schema("auth_status", out)
    assert out["authenticated"] and out["connected"] and not out["competing"]
    assert out["token_valid"] and out["token_expires_in"] > 3600
    assert out["session_age"] is not None and 0 <= out["session_age"] < 3600
    after = sim_reset.stats()
    for counter in ("oauth2_token_requests", "lst_requests", "ssodh_init_requests"):
        assert after[counter] == before[counter]
    assert after["requests_total"] == before["requests_total"] + 1


@pytest.mark.parametrize("cred", CREDS)
def test_trades_confirm_a_fill(sim_reset: Simulator, cred: str) -> None:
    """trades: a filled market order shows up by order_id and client_order_id, newest first."""
    sim_reset.set_price(AAPL, 100.0)
    placed = act(sim_reset, cred, "place_order", symbol="AAPL", side="SELL", quantity=3,
                 order_type="MKT", client_order_id=f"fill-{cred}")
    out = act(sim_reset, cred, "trades", client_order_id=f"fill-{cred}")
    _check_schema("trades", out)
    (fill,) = out["trades"]
    assert fill["order_id"] == placed["order_id"] and fill["side"] == "SELL"
    assert fill["quantity"] == 3.0 and fill["price"] == 100.0 and fill["conid"] == AAPL
    assert ISO_UTC.match(fill["time"]) and fill["account_id"] == ACCOUNTS[cred]
    by_id = act(sim_reset, cred, "trades", order_id=int(placed["order_id"]))
    assert by_id["trades"] == out["trades"]
    assert act(sim_reset, cred, "trades", order_id="1")["count"] == 0


def test_every_action_output_matches_its_published_schema(sim_reset: Simulator) -> None:
    """All registered actions publish an output schema, and real results validate against it."""
    sim_reset.set_price(AAPL, 100.0)
    placed = act(sim_reset, "sim_oauth2", "place_order", symbol="AAPL", side="BUY", quantity=1,
                 order_type="LMT", limit_price=99.0)
    results = {
        "place_order": placed,
        "place_bracket": act(sim_reset, "sim_oauth2", "place_bracket", symbol="AAPL", side="BUY",
                             quantity=2, order_type="LMT", limit_price=99.0,
                             take_profit_price=101.0, stop_loss_price=97.0),
        "place_oca": act(sim_reset, "sim_oauth2", "place_oca", orders=[
            {"symbol": "AAPL", "side": "BUY", "quantity": 3, "order_type": "LMT",
             "limit_price": 99.0},
            {"symbol": "AAPL", "side": "BUY", "quantity": 3, "order_type": "LMT",
             "limit_price": 98.5}]),
        "get_open_orders": act(sim_reset, "sim_oauth2", "get_open_orders"),
        "modify_order": act(sim_reset, "sim_oauth2", "modify_order", order_id=placed["order_id"],
                            limit_price=98.5),
        "cancel_order": act(sim_reset, "sim_oauth2", "cancel_order", order_id=placed["order_id"]),
        "get_positions": act(sim_reset, "sim_oauth2", "get_positions"),
        "account_summary": act(sim_reset, "sim_oauth2", "account_summary"),
        "snapshot": act(sim_reset, "sim_oauth2", "snapshot", symbols=["AAPL", "SIVB"]),
        "history": act(sim_reset, "sim_oauth2", "history", symbol="MSFT", bar="1d", period="1w"),
        "ledger": act(sim_reset, "sim_oauth2", "ledger"),
        "accounts": act(sim_reset, "sim_oauth2", "accounts"),
        "auth_status": act(sim_reset, "sim_oauth2", "auth_status"),
        "trades": act(sim_reset, "sim_oauth2", "trades"),
        "wait_order": act(sim_reset, "sim_oauth2", "wait_order", order_id=placed["order_id"],
                          until="done", timeout=5),
        "wait_price": act(sim_reset, "sim_oauth2", "wait_price", symbol="AAPL",
                          condition="last >= 1", timeout=5),
        "preview_order": act(sim_reset, "sim_oauth2", "preview_order", symbol="AAPL",
                             side="BUY", quantity=1, order_type="LMT", limit_price=99.0),
        "get_pnl": act(sim_reset, "sim_oauth2", "get_pnl"),
        "search_contracts": act(sim_reset, "sim_oauth2", "search_contracts", symbol="AAPL",
                                sec_type="OPT", month="JAN30"),
    }
    names = set(default_host().registry.actions)
    assert names - set(results) == {"order_status"}  # order_status: tests/actions/test_read_actions_unit.py
    for name, result in results.items():
        _check_schema(name, result)
    assert results["snapshot"]["snapshots"][1]["halted"] is True
    assert HistoryOutput.model_validate(results["history"]).bars[0].time.tzinfo is not None
    assert AccountsOutput.model_validate(results["accounts"]).accounts[0].paper is True


def test_schema_rejects_what_the_model_forbids() -> None:
    """The published schema is strict where it matters: a bar time must be a date-time string."""
    schema = output_schema(default_host().registry.actions["history"])
    assert schema is not None
    assert schema["$defs"]["Bar"]["properties"]["time"]["format"] == "date-time"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"conid": "x", "period": "1d", "bar": "1h"}, schema)


_HAS_ORDER_STATUS = any(r.name == "/v1/api/iserver/account/order/status/{id}" for r in ROUTES)


@pytest.mark.skipif(not _HAS_ORDER_STATUS,
                    reason="the simulator's order status route comes with issue 10's branch")
@pytest.mark.parametrize("cred", CREDS)
def test_order_status_follows_an_order(sim_reset: Simulator, cred: str) -> None:
    """order_status: a resting LMT is Submitted with nothing filled, then Cancelled after cancel."""
    sim_reset.set_price(AAPL, 100.0)
    placed = act(sim_reset, cred, "place_order", symbol="AAPL", side="BUY", quantity=4,
                 order_type="LMT", limit_price=99.0)
    working = act(sim_reset, cred, "order_status", order_id=placed["order_id"])
    _check_schema("order_status", working)
    assert working["status"] == "Submitted" and working["side"] == "BUY"
    assert working["quantity"] == 4.0 and working["filled_quantity"] == 0.0
    assert working["limit_price"] == 99.0 and working["order_type"] == "LMT"
    assert working["client_order_id"] == placed["client_order_id"]
    act(sim_reset, cred, "cancel_order", order_id=placed["order_id"])
    assert act(sim_reset, cred, "order_status", order_id=placed["order_id"])["status"] == "Cancelled"
    with pytest.raises(BrokerError) as info:
        act(sim_reset, cred, "order_status", order_id="1")
    assert info.value.field == "order_id"
