"""Narrow server answers for the read actions (`responses`): IBKR shapes the simulator lacks."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import responses

from noetl_ib_plugin.actions import auth_status as auth_status_module
from noetl_ib_plugin.actions import history as history_mod
from noetl_ib_plugin.actions.accounts import AccountsInput, accounts
from noetl_ib_plugin.actions.auth_status import AuthStatusInput, auth_status
from noetl_ib_plugin.actions.executions import OrderStatusInput, TradesInput, order_status, trades
from noetl_ib_plugin.actions.history import HistoryInput, history
from noetl_ib_plugin.actions.ledger import LedgerInput, ledger
from noetl_ib_plugin.actions.outputs import OrderStatusOutput, output_json
from noetl_ib_plugin.client.lookups import new_history_gate
from noetl_ib_plugin.errors import BrokerError
from tests.client.fakes import BASE, FakeProvider, add_bootstrap, calls_to, make_client

#: IBKR's documented answer of GET /iserver/account/order/status/{orderId} for a filled order.
FILLED_STATUS = {
    "sub_type": None, "request_id": "209", "server_id": "0", "order_id": 1799796559,
    "conidex": "265598", "conid": 265598, "symbol": "AAPL", "side": "S",
    "contract_description_1": "AAPL", "listing_exchange": "NASDAQ.NMS", "option_acct": "c",
    "company_name": "APPLE INC", "size": "0.0", "total_size": "5.0", "currency": "USD",
    "account": "DU1234567", "order_type": "MARKET", "cum_fill": "5.0", "order_status": "Filled",
    "order_ccp_status": "2", "order_status_description": "Order Filled", "tif": "DAY",
    "fgColor": "#FFFFFF", "bgColor": "#000000", "order_not_editable": True,
    "editable_fields": "", "cannot_cancel_order": True, "deactivate_order": False,
    "sec_type": "STK", "available_chart_periods": "#R|1",
    "order_description": "Sold 5 Market, Day",
    "order_description_with_contract": "Sold 5 AAPL Market, Day", "alert_active": 1,
    "child_order_type": "0", "order_clearing_account": "DU1234567", "size_and_fills": "5",
    "exit_strategy_display_price": "193.12", "average_price": "193.12",
    "allowed_duplicate_opposite": True, "order_time": "231211180049",
}


@pytest.fixture
def rsps() -> Any:
    """A responses mock with the brokerage bootstrap registered."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        add_bootstrap(mock)
        yield mock


def test_order_status_of_a_filled_order(rsps: Any) -> None:
    """order_status: IBKR's strings become numbers, S becomes SELL, MARKET becomes MKT."""
    rsps.add(responses.GET, f"{BASE}/iserver/account/order/status/1799796559", json=FILLED_STATUS)
    out = OrderStatusOutput.model_validate(
        order_status(make_client(), OrderStatusInput(order_id=1799796559)))
    assert out.order_id == "1799796559" and out.status == "Filled"
    assert out.side == "SELL" and out.order_type == "MKT"
    assert out.quantity == 5.0 and out.filled_quantity == 5.0 and out.remaining_quantity == 0.0
    assert out.avg_price == 193.12 and out.can_cancel is False and out.account_id == "DU1234567"
    assert out.time is not None and out.time.isoformat() == "2023-12-11T18:00:49+00:00"


def test_order_status_of_an_unknown_order(rsps: Any) -> None:
    """An unknown id is a BrokerError naming order_id, with a fix."""
    rsps.add(responses.GET, f"{BASE}/iserver/account/order/status/42", status=200,
             json={"error": "OrderID 42 doesn't exist"})
    with pytest.raises(BrokerError) as info:
        order_status(make_client(), OrderStatusInput(order_id="42"))
    assert info.value.field == "order_id" and "doesn't exist" in info.value.message
    assert info.value.fix and "get_open_orders" in info.value.fix


def test_accounts_of_a_multi_account_user(rsps: Any) -> None:
    """Two accounts, isPaper false: neither is paper (the guard's rule, not the DU prefix)."""
    rsps.replace(responses.GET, f"{BASE}/iserver/accounts",
                 json={"accounts": ["DU1234567", "U7654321"], "selectedAccount": "U7654321",
                       "isPaper": False, "aliases": {"U7654321": "main"}})
    rsps.replace(responses.GET, f"{BASE}/portfolio/accounts",
                 json=[{"id": "DU1234567", "accountId": "DU1234567", "currency": "USD", "type": "DEMO"},
                       {"id": "U7654321", "accountId": "U7654321", "currency": "AUD",
                        "type": "INDIVIDUAL", "accountTitle": "Jane"}])
    out = accounts(make_client(account_id="DU1234567"), AccountsInput())
    by_id = {a["account_id"]: a for a in output_json(out)["accounts"]}
    assert by_id["DU1234567"]["paper"] is False and by_id["U7654321"]["paper"] is False
    assert by_id["U7654321"]["currency"] == "AUD" and by_id["U7654321"]["type"] == "INDIVIDUAL"
    assert by_id["U7654321"]["selected"] and not by_id["DU1234567"]["selected"]
    assert by_id["DU1234567"]["default"] and not by_id["U7654321"]["default"]
    assert out.selected_account == "U7654321" and out.default_account == "DU1234567"
    assert by_id["U7654321"]["alias"] == "main" and by_id["U7654321"]["title"] == "Jane"


def test_accounts_never_name_an_unlisted_selected_account_the_default(rsps: Any) -> None:
    """selectedAccount outside IBKR's list: reported as IBKR said it, but never the default."""
    rsps.replace(responses.GET, f"{BASE}/iserver/accounts",
                 json={"accounts": ["DU1234567", "DU2345678"], "selectedAccount": "DU9999999",
                       "isPaper": True})
    rsps.replace(responses.GET, f"{BASE}/portfolio/accounts", json=[])
    out = accounts(make_client(), AccountsInput())
    assert out.selected_account == "DU9999999" and out.default_account is None
    assert not any(a.default or a.selected for a in out.accounts)


def test_ledger_base_currency_from_ibkr_shape(rsps: Any) -> None:
    """An AUD-based account: BASE first, the base currency is the one at exchange rate 1."""
    entry = {"cashbalance": 1000.5, "settledcash": 900, "exchangerate": 1, "currency": "AUD",
             "netliquidationvalue": 5000, "timestamp": 1702285200, "key": "LedgerList"}
    client = make_client()
    rsps.add(responses.GET, f"{BASE}/portfolio/{client.account_id}/ledger", json={
        "USD": {**entry, "currency": "USD", "exchangerate": 1.52, "cashbalance": -20},
        "AUD": entry, "BASE": {**entry, "currency": "BASE"}})
    out = output_json(ledger(client, LedgerInput()))
    assert [c["currency"] for c in out["currencies"]] == ["BASE", "AUD", "USD"]
    assert out["base_currency"] == "AUD"
    usd = out["currencies"][2]
    assert usd["cash"] == -20.0 and usd["exchange_rate"] == 1.52
    assert out["currencies"][1]["timestamp"] == "2023-12-11T09:00:00Z"


def test_history_parses_ibkr_bars(rsps: Any) -> None:
    """history: bars sorted by time, epoch ms to ISO-8601 UTC, startTime read as UTC."""
    rsps.add(responses.GET, f"{BASE}/iserver/marketdata/history", json={
        "symbol": "AAPL", "startTime": "20231211-04:00:00", "barLength": 300,
        "data": [{"o": 193.5, "c": 193.7, "h": 193.9, "l": 193.4, "v": 5160.0, "t": 1702285500000},
                 {"o": 193.18, "c": 193.49, "h": 193.68, "l": 193.18, "v": 10.0,
                  "t": 1702285200000}]})
    out = output_json(history(make_client(), HistoryInput(conid=265598, period="1d", bar="5min")))
    assert out["start"] == "2023-12-11T04:00:00Z"
    assert [b["time"] for b in out["bars"]] == ["2023-12-11T09:00:00Z", "2023-12-11T09:05:00Z"]
    assert out["bars"][0]["open"] == 193.18 and out["bars"][0]["volume"] == 10.0
    (call,) = [c for c in rsps.calls if "marketdata/history" in (c.request.url or "")]
    assert "conid=265598" in (call.request.url or "") and "outsideRth=false" in (call.request.url or "")


@pytest.mark.parametrize("stamp", [10**20, -(10**20), 2**63, 253402300800000, "1e300"])
def test_times_no_calendar_holds_are_dropped_not_a_crash(rsps: Any, stamp: Any) -> None:
    """A broker time past year 9999 (or before year 1) is an unreadable time, never an OSError."""
    client = make_client()
    rsps.add(responses.GET, f"{BASE}/iserver/marketdata/history", json={
        "symbol": "AAPL", "data": [{"o": 1, "c": 1, "h": 1, "l": 1, "v": 1, "t": stamp},
                                   {"o": 2, "c": 2, "h": 2, "l": 2, "v": 2, "t": 1702285200000}]})
    rsps.add(responses.GET, f"{BASE}/portfolio/{client.account_id}/ledger", json={
        "BASE": {"currency": "BASE", "cashbalance": 1, "exchangerate": 1, "timestamp": stamp}})
    rsps.add(responses.GET, f"{BASE}/iserver/account/trades", json=[
        {"execution_id": "e1", "order_id": 7, "symbol": "AAPL", "side": "B", "size": "1",
         "price": "1", "trade_time_r": stamp}])
    bars = output_json(history(client, HistoryInput(conid=265598, period="1d", bar="5min")))["bars"]
    assert [b["time"] for b in bars] == ["2023-12-11T09:00:00Z"]
    assert ledger(client, LedgerInput()).currencies[0].timestamp is None
    (trade,) = output_json(trades(client, TradesInput()))["trades"]
    assert trade["time"] is None and trade["execution_id"] == "e1"


class _BlockingClient:
    """Stands in for IBClient: every history GET blocks until released, counting concurrency."""

    def __init__(self) -> None:
        self.provider = FakeProvider()
        self.state_dir = None  # an in-memory token cache: the process's own gate of five
        self.history_gate = new_history_gate()  # what IBClient (and Host) give each credential
        self.lock = threading.Lock()
        self.inside = 0
        self.peak = 0
        self.entered = threading.Condition(self.lock)
        self.release = threading.Event()

    def get(self, path: str, *, params: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            self.inside += 1
            self.peak = max(self.peak, self.inside)
            self.entered.notify_all()
        self.release.wait(30)
        with self.lock:
            self.inside -= 1
        return {"symbol": "AAPL", "data": []}


def test_history_requests_never_exceed_five_at_once() -> None:
    """Seven threads asking at once: five reach IBKR, the rest wait for a slot (IBKR's limit)."""
    client = _BlockingClient()
    inp = HistoryInput(conid=265598)
    threads = [threading.Thread(target=history, args=(client, inp)) for _ in range(7)]
    for t in threads:
        t.start()
    with client.lock:
        assert client.entered.wait_for(lambda: client.inside >= 5, timeout=30)
        # A sixth would arrive now if the gate let it through; waiting can only hide a bug.
        assert not client.entered.wait_for(lambda: client.inside > 5, timeout=0.5)
    client.release.set()
    for t in threads:
        t.join(30)
    assert client.peak == history_mod.HISTORY_CONCURRENCY == 5
    assert client.inside == 0


def test_auth_status_does_not_refresh_on_401(rsps: Any) -> None:
    """A 401 is reported as not authenticated; the token is neither dropped nor replaced."""
    provider = FakeProvider()
    provider.current_token()
    rsps.add(responses.POST, f"{BASE}/iserver/auth/status", status=401, json={"error": "no"})
    out = auth_status(make_client(provider), AuthStatusInput())
    assert out.authenticated is False and out.token_valid is False
    assert provider.fetches == 1 and provider.is_token_valid()
    assert calls_to(rsps, "/iserver/auth/status") == 1


def test_auth_status_session_age_uses_the_wall_clock(rsps: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """session_age is now minus the brokerage session's opened_at (wall clock injected)."""
    provider = FakeProvider()
    client = make_client(provider)
    client.brokerage()
    opened = client.brokerage().opened_at
    monkeypatch.setattr(auth_status_module, "wall_clock", lambda: opened + 125.0)
    rsps.add(responses.POST, f"{BASE}/iserver/auth/status",
             json={"authenticated": True, "competing": True, "connected": True, "message": ""})
    out = auth_status(client, AuthStatusInput())
    assert out.session_age == 125.0 and out.competing is True
    assert out.token_expires_in == pytest.approx(3600.0, abs=5)


@pytest.mark.parametrize("days", [True, False, "1_0", "٣"])
def test_trades_days_must_be_a_plain_whole_number(days: Any) -> None:
    """`days=true` is not 1 day: booleans and odd number text are refused naming `days`."""
    from pydantic import ValidationError

    from noetl_ib_plugin.actions.executions import TradesInput

    with pytest.raises(ValidationError) as info:
        TradesInput.model_validate({"days": days})
    assert info.value.errors()[0]["loc"] == ("days",)
    assert TradesInput.model_validate({"days": "3"}).days == 3


def test_trades_are_asked_and_kept_for_the_clients_account(rsps: Any) -> None:
    """Trades are asked with accountId; an answer naming only this account is listed whole."""
    rsps.add(responses.GET, f"{BASE}/iserver/account/trades", json=[
        {"execution_id": "a.1", "order_id": 8, "size": 1, "price": "9", "account": "DU1110001"},
        {"execution_id": "a.2", "order_id": 9, "size": 1, "price": "9"}])
    out = trades(make_client(), TradesInput())
    asked = [c.request.url for c in rsps.calls if "/iserver/account/trades" in c.request.url]
    assert asked and "accountId=DU1110001" in asked[0]
    assert [t.execution_id for t in out.trades] == ["a.1", "a.2"]


def test_trades_answered_for_another_account_are_refused_not_listed(rsps: Any) -> None:
    """Trades naming another account (IBKR ignored accountId): a BrokerError, never their rows."""
    rsps.add(responses.GET, f"{BASE}/iserver/account/trades", json=[
        {"execution_id": "b.1", "order_id": 7, "size": 5, "price": "9", "account": "DU9999999"}])
    with pytest.raises(BrokerError) as info:
        trades(make_client(), TradesInput())
    assert "DU1110001" in info.value.message and "another account" in info.value.message
    assert info.value.fix and "noetl-ib run accounts" in info.value.fix


def test_positions_answered_for_another_account_are_refused_not_listed(rsps: Any) -> None:
    """A positions page naming another account: a BrokerError, not a short list of ours."""
    from noetl_ib_plugin.actions.models import GetPositionsInput
    from noetl_ib_plugin.actions.portfolio import get_positions

    rsps.add(responses.POST, f"{BASE}/portfolio/DU1110001/positions/invalidate",
             json={"message": "success"})
    rsps.add(responses.GET, f"{BASE}/portfolio/DU1110001/positions/0", json=[
        {"acctId": "DU9999999", "conid": 1, "ticker": "TSLA", "position": 7},
        {"conid": 2, "ticker": "AAPL", "position": 100}])
    with pytest.raises(BrokerError) as info:
        get_positions(make_client(), GetPositionsInput())
    assert "another account" in info.value.message and "TSLA" not in info.value.message


@pytest.mark.parametrize(("availability", "delayed"), [
    ("DPB", True), ("YpB", True), ("RpB", False), ("ZpB", False),
    ("NpB", None), (68, None), (["D"], None), ({"v": "D"}, None), ("", None), (None, None)])
def test_delayed_is_only_said_when_field_6509_says_it(rsps: Any, availability: Any,
                                                      delayed: bool | None) -> None:
    """6509 D/Y (delayed, frozen delayed) is delayed, R/Z is not; anything else is null, unknown."""
    from noetl_ib_plugin.actions.marketdata import snapshot
    from noetl_ib_plugin.actions.models import SnapshotInput
    from noetl_ib_plugin.actions.outputs import Quote

    item: dict[str, Any] = {"conid": 265598, "conidEx": "265598", "31": "100.50"}
    if availability is not None:
        item["6509"] = availability
    rsps.add(responses.GET, f"{BASE}/iserver/marketdata/snapshot", json=[item])
    out = snapshot(make_client(), SnapshotInput(conids=[265598], fields=["last"]))
    quote = output_json(out)["snapshots"][0]
    assert quote["last"] == 100.5 and quote["delayed"] is delayed
    assert Quote.model_validate(quote).delayed is delayed


def test_summary_of_another_account_is_refused_not_reported_as_ours(rsps: Any) -> None:
    """A summary whose accountcode names another account: a BrokerError, not our figures."""
    from noetl_ib_plugin.actions.models import AccountSummaryInput
    from noetl_ib_plugin.actions.portfolio import account_summary

    rsps.add(responses.GET, f"{BASE}/portfolio/DU1110001/summary", json={
        "accountcode": {"amount": 0.0, "value": "DU9999999", "isNull": False},
        "netliquidation": {"amount": 5e6, "currency": "USD", "isNull": False}})
    with pytest.raises(BrokerError) as info:
        account_summary(make_client(), AccountSummaryInput())
    assert "another account" in info.value.message and "DU1110001" in info.value.message


def test_ledger_of_another_account_is_refused_not_reported_as_ours(rsps: Any) -> None:
    """Ledger rows whose acctcode names another account: a BrokerError, not our balances."""
    rsps.add(responses.GET, f"{BASE}/portfolio/DU1110001/ledger", json={
        "BASE": {"cashbalance": 5e6, "currency": "BASE", "acctcode": "DU9999999"},
        "USD": {"cashbalance": 5e6, "currency": "USD", "acctcode": "DU9999999"}})
    with pytest.raises(BrokerError) as info:
        ledger(make_client(), LedgerInput())
    assert "another account" in info.value.message
