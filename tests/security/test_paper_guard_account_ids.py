"""One account-id rule wherever an id enters; paper decided by what IBKR says."""

from __future__ import annotations

import re
from typing import Any

import pytest
import responses
from cryptography.hazmat.primitives import serialization

from noetl_ib_plugin import run_action
from noetl_ib_plugin.credentials import parse_record
from noetl_ib_plugin.credentials.accounts import check_account_id
from noetl_ib_plugin.credentials.urls import path_segment
from noetl_ib_plugin.entry import main
from noetl_ib_plugin.errors import BrokerError, CredentialError, InputError, LiveTradingRefused
from noetl_ib_plugin.simulator import Simulator
from tests.client.fakes import BASE, add_bootstrap, make_client

TRAVERSAL = "DU1234567/../U9999999"
#: Written out by hand (not derived from the product's pattern): ids IBKR issues...
GOOD_IDS = ["DU1234567", "U1234567", "U12345678", "F1234567", "DF1234567", "I12345"]
#: ...and ids that must never reach a URL path.
BAD_IDS = [
    TRAVERSAL, "DU1234567/", "../U9999999", "DU1234567%2F..", "DU1234567?x=1", "DU1234567#",
    "du1234567", " DU1234567", "DU1234567\n", "DU\u0661\u0662\u0663\u0664\u0665", "DU12",
    "ABCD1234567", "DU12345678901", "", "DU1234567\u202e", "DU 1234567", "DU1234567\\U1",
]
ORDER: dict[str, Any] = {"symbol": "AAPL", "side": "BUY", "quantity": 1, "order_type": "LMT",
                         "limit_price": 99.0}


def _oauth2_data(sim_reset: Simulator | None, pem: str, **extra: Any) -> dict[str, Any]:
    data = {"client_id": "PAPERCLIENT", "key_id": "paper-key", "private_key": pem,
            "credential": "paperuser", "api_base_url": sim_reset.url if sim_reset else "https://api.ibkr.com"}
    data.update(extra)
    return data


@pytest.mark.parametrize("account", GOOD_IDS)
def test_ibkr_account_ids_are_accepted(account: str) -> None:
    """Ids of the shapes IBKR issues pass the rule unchanged."""
    assert check_account_id(account) == account


@pytest.mark.parametrize("account", BAD_IDS)
def test_malformed_account_ids_are_refused_as_credential_field(account: str, rsa_pem: str) -> None:
    """A credential's account_id outside the rule is a CredentialError naming data.account_id."""
    raw = {"name": "x", "type": "interactive_brokers_oauth",
           "data": _oauth2_data(None, rsa_pem, account_id=account)}
    with pytest.raises(CredentialError) as info:
        parse_record(raw)
    assert info.value.field == "data.account_id"
    assert "U9999999" not in str(info.value)  # the value is never echoed back


def test_traversal_account_via_main_args_is_refused(rsa_pem: str) -> None:
    """`main(**args)` with credential_type refuses the traversal id before any HTTP."""
    fields = _oauth2_data(None, rsa_pem, account_id=TRAVERSAL)
    username = fields.pop("credential")
    out = main("place_order", username, credential_type="interactive_brokers_oauth",
               on_error="return", **fields, **ORDER)
    assert out["ok"] is False
    assert out["error"]["field"] == "data.account_id"


@pytest.mark.parametrize("action", ["place_order", "get_positions", "account_summary"])
def test_traversal_account_as_action_argument_is_refused(
    sim_reset: Simulator, action: str
) -> None:
    """An action's account_id override obeys the same rule (typed InputError naming it)."""
    args = dict(ORDER) if action == "place_order" else {}
    with pytest.raises(InputError) as info:
        run_action(action, "sim_oauth2", credentials_file=sim_reset.credentials_file,
                   account_id=TRAVERSAL, **args)
    assert info.value.field == "account_id"
    assert sim_reset.stats()["orders_accepted"] == 0


def test_path_segments_are_percent_encoded() -> None:
    """A segment can never add path levels: `/`, `.`, `..`, `?`, `#` are encoded."""
    assert path_segment(TRAVERSAL) == "DU1234567%2F..%2FU9999999"
    assert path_segment("..") == "%2E%2E"
    assert path_segment(".") == "%2E"
    assert path_segment("a?b#c") == "a%3Fb%23c"
    assert path_segment("DU1234567") == "DU1234567"


@responses.activate
def test_hostile_selected_account_from_the_broker_is_refused() -> None:
    """A selectedAccount that breaks the rule is a BrokerError, never a URL path."""
    add_bootstrap(responses, account=TRAVERSAL, is_paper=True)
    client = make_client()
    with pytest.raises(BrokerError) as info:
        _ = client.account_id
    assert info.value.field == "selectedAccount"
    with pytest.raises(BrokerError):
        client.ensure_trading_allowed()
    assert not any("/iserver/account/" in (c.request.url or "") for c in responses.calls)


@responses.activate
def test_selected_account_the_broker_does_not_list_is_never_read_or_traded() -> None:
    """A selectedAccount outside IBKR's own account list: a BrokerError naming the listed ones."""
    responses.add(responses.POST, f"{BASE}/iserver/auth/ssodh/init", json={"authenticated": True})
    responses.add(responses.GET, f"{BASE}/iserver/accounts", json={
        "accounts": ["DU1234567", "DU2345678"], "selectedAccount": "DU9999999", "isPaper": True})
    client = make_client()
    with pytest.raises(BrokerError) as info:
        _ = client.account_id
    assert info.value.field == "selectedAccount" and "DU1234567" in (info.value.fix or "")
    assert not any("DU9999999" in (c.request.url or "") for c in responses.calls)
    assert make_client(account_id="DU2345678").account_id == "DU2345678"


@responses.activate
def test_du_account_the_broker_does_not_list_is_refused() -> None:
    """A DU id that IBKR does not list for this credential is refused, prefix or not."""
    add_bootstrap(responses, account="U1234567", is_paper=True)
    client = make_client(account_id="DU7777777")
    with pytest.raises(LiveTradingRefused) as info:
        client.ensure_trading_allowed()
    assert "not one IBKR lists" in str(info.value)
    assert make_client().ensure_trading_allowed("U1234567") == "U1234567"


@responses.activate
def test_broker_silent_on_is_paper_counts_as_live() -> None:
    """An /iserver/accounts answer without isPaper never makes a DU id paper."""
    responses.add(responses.POST, f"{BASE}/iserver/auth/ssodh/init", json={"authenticated": True})
    responses.add(responses.GET, f"{BASE}/iserver/accounts",
                  json={"accounts": ["DU1234567"], "selectedAccount": "DU1234567"})
    with pytest.raises(LiveTradingRefused):
        make_client().ensure_trading_allowed()


def _register(sim_reset: Simulator, rsa_key: Any, account: str, is_paper: bool) -> None:
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    sim_reset.register_oauth2_client("PAPERCLIENT", "paper-key", public, "paperuser", account)
    sim_reset.set_paper_status(account, is_paper)


def test_du_account_the_broker_calls_live_is_refused_end_to_end(
    sim_reset: Simulator, rsa_key: Any, rsa_pem: str
) -> None:
    """Simulator: a DU account with isPaper=false needs both opt-ins; nothing reaches the book."""
    _register(sim_reset, rsa_key, "DU3330001", is_paper=False)
    record = {"name": "du_live", "type": "interactive_brokers_oauth",
              "data": _oauth2_data(sim_reset, rsa_pem)}
    with pytest.raises(LiveTradingRefused) as info:
        run_action("place_order", record, **ORDER)
    assert re.search(r"environment.*allow_live", str(info.value))
    assert sim_reset.stats()["orders_accepted"] == 0 and not sim_reset.orders()


def test_u_account_the_broker_calls_paper_trades_end_to_end(
    sim_reset: Simulator, rsa_key: Any, rsa_pem: str
) -> None:
    """Simulator: a U account with isPaper=true trades without opt-ins (the isPaper branch)."""
    _register(sim_reset, rsa_key, "U3330002", is_paper=True)
    sim_reset.set_price(265598, 100.0)
    record = {"name": "u_paper", "type": "interactive_brokers_oauth",
              "data": _oauth2_data(sim_reset, rsa_pem)}
    out = run_action("place_order", record, **ORDER)
    assert out["account_id"] == "U3330002"
    assert [o["cOID"] for o in sim_reset.orders()] == [out["client_order_id"]]
