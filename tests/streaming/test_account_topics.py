"""Account topics on the stream: `ssd` summary, `sld` ledger, `act`, `blt`/`ntf`, and IBKR's
unsubscribe confirmations, typed on the client and in IBKR's shapes on the simulator."""

from __future__ import annotations

import json

import pytest

from noetl_ib_plugin.cli import main as cli_main
from noetl_ib_plugin.errors import ConfigurationError
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.streaming import ErrorEvent
from noetl_ib_plugin.streaming.account_events import (
    AccountEvent,
    AccountSummaryEvent,
    BulletinEvent,
    LedgerEvent,
    NotificationEvent,
    UnsubscribedEvent,
    account_subscription,
    decode_other,
)
from tests.fixtures.simulators import ACCOUNTS, CREDS, act
from tests.streaming.test_stream_client import AAPL, _next, _stream, stream_sim  # noqa: F401


@pytest.mark.parametrize("cred", CREDS)
def test_summary_and_ledger_stream_typed_values(stream_sim: Simulator, cred: str) -> None:  # noqa: F811
    """`ssd` gives NetLiquidation etc. with the account code; `sld` gives the BASE ledger row."""
    account = ACCOUNTS[cred]
    with _stream(stream_sim, cred) as stream:
        stream.subscribe_account("summary", account)
        stream.subscribe_account("ledger", account, ["LedgerListBASE"])
        assert stream.wait_ready(5)
        summary = _next(stream, lambda e: isinstance(e, AccountSummaryEvent))
        ledger = _next(stream, lambda e: isinstance(e, LedgerEvent))
    assert isinstance(summary, AccountSummaryEvent) and summary.account_id == account
    net = summary.amount("NetLiquidation")
    assert net is not None and net > 0 and summary.values["AccountCode"]["value"] == account
    assert isinstance(ledger, LedgerEvent) and list(ledger.rows) == ["BASE"]
    assert ledger.rows["BASE"]["acctCode"] == account
    assert isinstance(ledger.rows["BASE"]["cashbalance"], float)


def test_summary_sends_only_changed_keys_after_the_first(stream_sim: Simulator) -> None:  # noqa: F811
    """After a fill moves cash, the next `ssd` carries the changed keys (and AccountCode) only."""
    stream_sim.set_price(AAPL, 190.0)
    with _stream(stream_sim, "sim_oauth2") as stream:
        stream.subscribe_account("summary", ACCOUNTS["sim_oauth2"])
        assert stream.wait_ready(5)
        first = _next(stream, lambda e: isinstance(e, AccountSummaryEvent))
        act(stream_sim, "sim_oauth2", "place_order", symbol="AAPL", side="BUY", quantity=1,
            order_type="MKT")
        later = _next(stream, lambda e: isinstance(e, AccountSummaryEvent))
    assert isinstance(first, AccountSummaryEvent) and isinstance(later, AccountSummaryEvent)
    assert "AccountCode" in later.values and "TotalCashValue" in later.values
    assert later.amount("TotalCashValue") != first.amount("TotalCashValue")
    # A buy can move every figure, so the count of keys proves nothing; each key sent again
    # (AccountCode aside) must carry a value other than the one already sent.
    resent = {k: v for k, v in later.values.items() if k != "AccountCode"}
    assert resent and all(v != first.values.get(k) for k, v in resent.items()), resent


def test_unsubscribe_is_confirmed_as_ibkr_confirms(stream_sim: Simulator) -> None:  # noqa: F811
    """`usd`/`uld` are answered with IBKR's plain confirmations, typed as UnsubscribedEvent."""
    account = ACCOUNTS["sim_oauth2"]
    with _stream(stream_sim, "sim_oauth2") as stream:
        stream.subscribe_account("summary", account)
        stream.subscribe_account("ledger", account)
        assert stream.wait_ready(5)
        _next(stream, lambda e: isinstance(e, LedgerEvent))
        stream.unsubscribe_account("summary", account)
        stream.unsubscribe_account("ledger", account)
        seen = {_next(stream, lambda e: isinstance(e, UnsubscribedEvent)).what  # type: ignore[attr-defined]
                for _ in range(2)}
    assert seen == {"summary", "ledger"}


def test_act_names_the_accounts_without_a_session_id(stream_sim: Simulator) -> None:  # noqa: F811
    """`act` after the greeting: the login's accounts and the selected one, typed."""
    with _stream(stream_sim, "sim_oauth1a") as stream:
        assert stream.wait_ready(5)
        event = _next(stream, lambda e: isinstance(e, AccountEvent))
    assert isinstance(event, AccountEvent)
    assert event.selected_account == ACCOUNTS["sim_oauth1a"] in event.accounts
    assert event.is_paper is True


def test_foreign_account_summary_is_an_error_event(stream_sim: Simulator) -> None:  # noqa: F811
    """`ssd` for an account the login does not hold: a typed error event, not silence."""
    with _stream(stream_sim, "sim_oauth2") as stream:
        stream.subscribe_account("summary", "DU9999999")
        assert stream.wait_ready(5)
        event = _next(stream, lambda e: isinstance(e, ErrorEvent))
    assert isinstance(event, ErrorEvent) and event.kind == "account"


def test_decoder_types_bulletins_notifications_and_drops_session_ids() -> None:
    """`blt` and `ntf` (dict or list) are typed; `act` never passes a sessionId on."""
    blt = decode_other("blt", {"topic": "blt", "args": {"id": "1", "message": "halt"}}, 1.0)
    ntf = decode_other("ntf", {"topic": "ntf", "args": [{"id": "2", "text": "hi"}, "x"]}, 1.0)
    act_ = decode_other("act", {"topic": "act", "args": {"accounts": ["DU1"],
                                                         "sessionId": "s3cr3t"}}, 1.0)
    assert isinstance(blt, BulletinEvent) and blt.bulletins == [{"id": "1", "message": "halt"}]
    assert isinstance(ntf, NotificationEvent) and ntf.notifications == [{"id": "2", "text": "hi"}]
    assert isinstance(act_, AccountEvent) and "s3cr3t" not in act_.model_dump_json()
    assert decode_other("xyz", {"topic": "xyz"}, 1.0) is None
    assert decode_other("", {"message": "Unsubscribed 7"}, 1.0) == UnsubscribedEvent(
        what="7", received_at=1.0)


def test_account_subscription_texts_and_bad_account() -> None:
    """IBKR's ssd/usd texts; an account id that is not one is a ConfigurationError."""
    assert account_subscription("summary", "DU1", ["NetLiquidation"]) == (
        'ssd+DU1+{"keys":["NetLiquidation"]}', "usd+DU1+{}")
    assert account_subscription("ledger", "DU1") == ("sld+DU1+{}", "uld+DU1+{}")
    with pytest.raises(ConfigurationError, match="account_id=DU1234567"):
        account_subscription("summary", "DU1+umd")
    with pytest.raises(ConfigurationError, match="summary, ledger"):
        account_subscription("positions", "DU1")


def test_cli_streams_the_credentials_account_summary(stream_sim: Simulator,  # noqa: F811
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """`noetl-ib stream summary --max-events 1`: one summary line for the credential's account."""
    code = cli_main(["stream", "summary", "keys=NetLiquidation", "--credential", "sim_oauth2",
                     "--credentials-file", str(stream_sim.credentials_file),
                     "--max-events", "1", "--duration", "20"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and len(lines) == 1
    event = json.loads(lines[0])
    assert event["topic"] == "summary" and event["account_id"] == ACCOUNTS["sim_oauth2"]
    assert set(event["values"]) == {"AccountCode", "NetLiquidation"}


def test_trading_client_streams_its_accounts_ledger(stream_sim: Simulator) -> None:  # noqa: F811
    """`ib.stream(topics=["ledger"])`: the ledger of the client's own account, typed."""
    from noetl_ib_plugin import TradingClient

    with TradingClient("sim_oauth1a", credentials_file=stream_sim.credentials_file) as ib, \
            ib.stream(topics=["ledger"]) as live:
        event = next(e for e in live if isinstance(e, LedgerEvent))
    assert event.account_id == ACCOUNTS["sim_oauth1a"] and "BASE" in event.rows
