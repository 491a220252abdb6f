"""The paper guard end to end: a live (U...) account trades only with both opt-ins, over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from noetl_ib_plugin import LiveTradingRefused, run_action
from noetl_ib_plugin.simulator import Simulator

LIVE_ACCOUNT = "U7777777"


def _live_record(sim_reset: Simulator, rsa_pem: str, environment: str) -> dict[str, Any]:
    return {
        "name": f"live_{environment}",
        "type": "interactive_brokers_oauth",
        "data": {
            "client_id": "LIVECLIENT",
            "key_id": "live-key",
            "private_key": rsa_pem,
            "credential": "liveuser",
            "environment": environment,
            "api_base_url": sim_reset.url,
        },
    }


@pytest.fixture
def live_sim(sim_reset: Simulator, rsa_key: Any) -> Simulator:
    """The simulator with a client whose only account is a live one."""
    public = (
        rsa_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    sim_reset.register_oauth2_client("LIVECLIENT", "live-key", public, "liveuser", LIVE_ACCOUNT)
    return sim_reset


ORDER: dict[str, Any] = {
    "symbol": "AAPL",
    "side": "BUY",
    "quantity": 1,
    "order_type": "LMT",
    "limit_price": 99.0,
}


@pytest.mark.parametrize(("environment", "allow_live"), [("paper", False), ("paper", True), ("live", False)])
def test_live_account_refused_without_both_opt_ins(
    live_sim: Simulator, rsa_pem: str, environment: str, allow_live: bool
) -> None:
    """Without environment=live AND allow_live, nothing reaches the order endpoint."""
    record = _live_record(live_sim, rsa_pem, environment)
    with pytest.raises(LiveTradingRefused) as info:
        run_action("place_order", record, allow_live=allow_live, **ORDER)
    missing = "environment" if environment == "paper" else "allow_live"
    assert missing in str(info.value)  # the refusal names the opt-in that is missing
    assert live_sim.stats()["orders_accepted"] == 0
    assert not live_sim.orders()


def test_live_account_trades_with_both_opt_ins(live_sim: Simulator, rsa_pem: str) -> None:
    """environment=live plus allow_live places the order on the live account."""
    live_sim.set_price(265598, 100.0)
    record = _live_record(live_sim, rsa_pem, "live")
    out = run_action("place_order", record, allow_live=True, **ORDER)
    assert out["account_id"] == LIVE_ACCOUNT
    assert [o["cOID"] for o in live_sim.orders()] == [out["client_order_id"]]


def test_reads_on_a_live_account_need_no_opt_in(live_sim: Simulator, rsa_pem: str) -> None:
    """The guard is for trading: positions of a live account can be read."""
    out = run_action("get_positions", _live_record(live_sim, rsa_pem, "paper"))
    assert out["account_id"] == LIVE_ACCOUNT


@pytest.mark.parametrize("flag", ["false", "no", "0", 1, [True]])
def test_allow_live_that_is_not_a_bool_never_opens_the_guard(
    live_sim: Simulator, rsa_pem: str, flag: Any
) -> None:
    """allow_live="false" (a bot passing an env var) is an InputError, not a truthy opt-in."""
    from noetl_ib_plugin import InputError, TradingClient

    record = _live_record(live_sim, rsa_pem, "live")
    with pytest.raises(InputError) as info:
        run_action("place_order", record, allow_live=flag, **ORDER)
    assert info.value.field == "allow_live" and info.value.fix == "pass allow_live=True or False."
    with pytest.raises(InputError):
        TradingClient(record, allow_live=flag)
    assert live_sim.stats()["orders_accepted"] == 0
    assert not live_sim.orders()
