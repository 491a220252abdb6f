"""get_pnl against the simulator: figures from positions and prices, one account's row only.

Oracles: the positions action (quantity, average cost) and the snapshot's prior-close field
(7741), combined here; never the simulator's P&L code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from noetl_ib_plugin import TradingClient
from noetl_ib_plugin.actions.outputs import PnlOutput
from noetl_ib_plugin.entry import main
from noetl_ib_plugin.errors import BrokerError, InputError
from noetl_ib_plugin.runner import default_host, output_schema
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.simulator import api as sim_api
from noetl_ib_plugin.simulator import pnl as sim_pnl
from noetl_ib_plugin.simulator.broker import Account, Position
from noetl_ib_plugin.simulator.logins import AccountRules
from noetl_ib_plugin.simulator.market import CONTRACTS, Contract, Market
from noetl_ib_plugin.simulator.pnl import pnl_row
from tests.cli.helpers import cli, one_json, process_env
from tests.fixtures.simulators import act

CRED = "sim_oauth2"
ACCOUNT = "DU1234567"
LINKED = "DU2345678"
PRICES = {265598: 100.0, 272093: 400.0, 8314: 180.0}
sim_pnl_partitioned = sim_pnl.partitioned


@dataclasses.dataclass(frozen=True)
class Option(Contract):
    """A contract with a multiplier (what an option or future carries)."""

    multiplier: float = 100.0


@pytest.fixture
def pinned(sim_reset: Simulator) -> Iterator[Simulator]:
    """The starting positions' prices pinned, so figures hold still between two reads."""
    for conid, price in PRICES.items():
        sim_reset.set_price(conid, price)
    yield sim_reset


def _expected(sim: Simulator, account: str = ACCOUNT) -> tuple[float, float]:
    """(daily, unrealized) from positions and each contract's prior close."""
    positions = act(sim, CRED, "get_positions", account_id=account)["positions"]
    conids = [p["conid"] for p in positions]
    quotes = act(sim, CRED, "snapshot", conids=conids, fields=["last", "prior_close"],
                 max_wait=5)["snapshots"]
    prior = {q["conid"]: q["prior_close"] for q in quotes}
    daily = sum(p["position"] * (PRICES[p["conid"]] - prior[p["conid"]]) for p in positions)
    unrealized = sum(p["position"] * (PRICES[p["conid"]] - p["avg_cost"]) for p in positions)
    return daily, unrealized


def test_pnl_is_computed_from_positions_and_prices(pinned: Simulator) -> None:
    """daily = sum position x (last - prior close); unrealized = sum position x (last - cost)."""
    daily, unrealized = _expected(pinned)
    out = act(pinned, CRED, "get_pnl")
    assert out["account_id"] == ACCOUNT
    assert out["daily_pnl"] == pytest.approx(daily, abs=0.02)
    assert out["unrealized_pnl"] == pytest.approx(unrealized, abs=0.02)
    summary = act(pinned, CRED, "account_summary")
    assert out["net_liquidation"] == pytest.approx(summary["net_liquidation"], abs=0.01)
    assert out["excess_liquidity"] == pytest.approx(summary["excess_liquidity"], abs=0.01)
    assert set(out["values"]) >= {"dpl", "upl", "nl", "el", "uel", "mv"}


def test_a_fill_moves_the_pnl(pinned: Simulator) -> None:
    """After buying 10 AAPL at 100 and the price going to 104, unrealized grows by 40."""
    before = act(pinned, CRED, "get_pnl")["unrealized_pnl"]
    act(pinned, CRED, "place_order", symbol="AAPL", side="BUY", quantity=10, order_type="MKT")
    pinned.set_price(265598, 104.0)
    # 100 shares held at cost 150 plus 10 bought at 100, all now at 104.
    after = act(pinned, CRED, "get_pnl")["unrealized_pnl"]
    assert after - before == pytest.approx(110 * 4.0 + 0.0, abs=0.02)


def test_each_account_gets_its_own_row(pinned: Simulator) -> None:
    """A login with a linked account: get_pnl(account_id=...) reads that account's row only."""
    pinned.link_accounts(ACCOUNT, LINKED)
    try:
        act(pinned, CRED, "place_order", symbol="AAPL", side="BUY", quantity=10,
            order_type="MKT", account_id=LINKED)
        pinned.set_price(265598, 110.0)
        own = act(pinned, CRED, "get_pnl")
        linked = act(pinned, CRED, "get_pnl", account_id=LINKED)
        assert (own["account_id"], linked["account_id"]) == (ACCOUNT, LINKED)
        prices_now = {**PRICES, 265598: 110.0}
        positions = act(pinned, CRED, "get_positions", account_id=LINKED)["positions"]
        expected = sum(p["position"] * (prices_now[p["conid"]] - p["avg_cost"])
                       for p in positions)
        assert linked["unrealized_pnl"] == pytest.approx(expected, abs=0.02)
        assert own["unrealized_pnl"] != pytest.approx(linked["unrealized_pnl"], abs=1.0)
    finally:
        pinned.engine.broker.links.pop(ACCOUNT, None)


def test_an_account_the_login_does_not_hold_is_an_input_error(pinned: Simulator) -> None:
    """An account the credential does not hold: InputError listing its accounts, no P&L shown."""
    with pytest.raises(InputError) as info:
        act(pinned, CRED, "get_pnl", account_id="DU9999999")
    assert info.value.field == "account_id" and ACCOUNT in str(info.value)
    assert "pnl/partitioned" not in str(pinned.stats()["requests_by_endpoint"])


def test_an_answer_without_our_row_is_refused_not_shown(pinned: Simulator,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """IBKR answering only another account's row: BrokerError, that row's figures never shown."""
    def others_only(engine: Any, call: Any) -> Any:
        return {"upnl": {"DU7654321.Core": {"rowType": 1, "dpl": 4242.42, "upl": 1.0}}}

    monkeypatch.setattr(sim_api, "ROUTES", [
        route if route.handler is not sim_pnl_partitioned else
        dataclasses.replace(route, handler=others_only) for route in sim_api.ROUTES])
    with pytest.raises(BrokerError) as info:
        act(pinned, CRED, "get_pnl")
    assert "another account" in str(info.value) and "4242" not in str(info.value)


def test_simulator_pnl_counts_the_multiplier() -> None:
    """A 2-lot position of a x100 contract moves 200 per point of price."""

    option = Option(730000009, "AAPL", "APPLE INC", "CBOE", "USD", 12.5, search=False,
                    sec_type="OPT", fractions=False)
    market = Market(1, lambda: 1_800_000_000.0, {**CONTRACTS, option.conid: option})
    market.set_price(option.conid, 13.0)
    account = Account(ACCOUNT, "u", 1000.0, positions={option.conid: Position(option, 2.0, 12.0)})
    row = pnl_row(account, market, AccountRules())
    assert row["upl"] == pytest.approx(2 * 100 * (13.0 - 12.0))
    assert row["dpl"] == pytest.approx(2 * 100 * (13.0 - market.prior_close(option.conid)), abs=0.01)
    assert row["mv"] == pytest.approx(2 * 100 * 13.0)


def test_get_pnl_through_cli_main_and_trading_client(pinned: Simulator,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI, entry.main and TradingClient.get_pnl give the same published shape."""
    monkeypatch.setenv("NOETL_IB_CREDENTIALS", str(pinned.credentials_file))
    schema = output_schema(default_host().registry.actions["get_pnl"])
    assert schema is not None
    run = cli("run", "get_pnl", "--credential", CRED, env=process_env())
    assert run.returncode == 0, run.stderr
    printed = one_json(run.stdout)
    jsonschema.validate(printed, schema)
    result = main("get_pnl", credential=CRED)
    assert result["ok"] is True and result["account_id"] == ACCOUNT
    with TradingClient(CRED, credentials_file=pinned.credentials_file) as ib:
        typed = ib.get_pnl()
    assert isinstance(typed, PnlOutput) and isinstance(typed.unrealized_pnl, float)
    assert typed.unrealized_pnl == pytest.approx(printed["unrealized_pnl"], abs=0.01)
