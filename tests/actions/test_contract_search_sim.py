"""search_contracts against the simulator through each front door, and derivatives on a login
with several accounts (ibkr-web-api.md s.13)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from noetl_ib_plugin.errors import InputError
from noetl_ib_plugin.runner import run_action
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.simulator.derivatives import AAPL_OPTION_CONID, ES_MAR30_CONID
from tests.cli.helpers import cli
from tests.fixtures.simulators import act

CRED = "sim_oauth2"


def test_search_shows_the_underlying_and_its_option_months(sim_reset: Simulator) -> None:
    """AAPL: the stock's conid with sections STK, OPT (JAN30, FEB30 on SMART...), no strikes."""
    out = act(sim_reset, CRED, "search_contracts", symbol="AAPL")
    (aapl,) = out["underlyings"]
    assert aapl["conid"] == 265598 and aapl["exchange"] == "NASDAQ"
    option = next(s for s in aapl["sections"] if s["sec_type"] == "OPT")
    assert option["months"] == ["JAN30", "FEB30"] and "CBOE" in option["exchanges"]
    assert out["strikes"] is None and out["futures"] == []


def test_search_with_a_month_lists_its_strikes(sim_reset: Simulator) -> None:
    """sec_type=OPT month=FEB30: the calls and puts IBKR lists for AAPL that month."""
    out = act(sim_reset, CRED, "search_contracts", symbol="aapl", sec_type="OPT", month="2030-02")
    assert out["strikes"] == {"underlying_conid": 265598, "month": "FEB30",
                              "call": [190.0, 200.0, 210.0], "put": [190.0, 200.0, 210.0]}


def test_search_of_an_unlisted_month_names_the_listed_ones(sim_reset: Simulator) -> None:
    """sec_type=OPT month=MAR30 for AAPL: InputError on month listing JAN30, FEB30."""
    with pytest.raises(InputError) as info:
        act(sim_reset, CRED, "search_contracts", symbol="AAPL", sec_type="OPT", month="MAR30")
    assert info.value.field == "month" and "JAN30, FEB30" in str(info.value)


def test_search_futures_lists_the_months_and_conids(sim_reset: Simulator) -> None:
    """sec_type=FUT for ES: the index with its FUT section and each listed future's conid."""
    out = act(sim_reset, CRED, "search_contracts", symbol="ES", sec_type="FUT")
    assert [(f["month"], f["conid"]) for f in out["futures"]] == [
        ("MAR30", ES_MAR30_CONID), ("JUN30", ES_MAR30_CONID + 1), ("SEP30", ES_MAR30_CONID + 2)]
    (index,) = out["underlyings"]
    assert {"sec_type": "FUT", "months": ["MAR30", "JUN30", "SEP30"], "exchanges": ["CME"]} in \
        index["sections"]


def test_search_month_for_a_stock_is_refused_by_the_model(sim_reset: Simulator) -> None:
    """month= without sec_type=OPT/FUT is an input error naming sec_type, before any request."""
    with pytest.raises(InputError) as info:
        act(sim_reset, CRED, "search_contracts", symbol="AAPL", month="JAN30")
    assert info.value.field == "sec_type"


def test_search_then_order_on_the_cli(sim_env: Simulator) -> None:
    """The README's commands: AAPL's months, a month's strikes, then the option by those parts."""
    sections = cli("run", "search_contracts", "--credential", CRED, "symbol=AAPL")
    assert sections.returncode == 0, sections.stderr
    assert "JAN30" in json.loads(sections.stdout)["underlyings"][0]["sections"][1]["months"]
    found = cli("run", "search_contracts", "--credential", CRED, "symbol=AAPL", "sec_type=OPT",
                "month=JAN30")
    assert found.returncode == 0, found.stderr
    strikes = json.loads(found.stdout)["strikes"]
    assert 200.0 in strikes["call"]
    placed = cli("run", "place_order", "--credential", CRED, "symbol=AAPL", "sec_type=OPT",
                 "expiry=20300118", "strike=200", "right=C", "side=BUY", "quantity=1",
                 "order_type=MKT")
    assert placed.returncode == 0, placed.stderr
    assert json.loads(placed.stdout)["conid"] == AAPL_OPTION_CONID


def test_option_order_for_the_linked_account_lands_there(sim_reset: Simulator,
                                                        tmp_path: Path) -> None:
    """A login with two accounts: an option bought for the non-selected one is its position only."""
    sim_reset.link_accounts("DU1234567", "DU7654321")
    try:
        data = json.loads(sim_reset.credentials_file.read_text())
        record = copy.deepcopy(next(r for r in data["credentials"] if r["name"] == CRED))
        record["name"], record["data"]["account_id"] = "sim_linked", "DU7654321"
        data["credentials"].append(record)
        path = tmp_path / "credentials.json"
        path.write_text(json.dumps(data))
        path.chmod(0o600)
        placed = run_action("place_order", "sim_linked", credentials_file=path, symbol="AAPL",
                            sec_type="OPT", expiry="20300118", strike=200, right="C",
                            side="BUY", quantity=1, order_type="MKT")
        assert placed["account_id"] == "DU7654321" and placed["conid"] == AAPL_OPTION_CONID
        theirs = run_action("get_positions", "sim_linked", credentials_file=path)["positions"]
        assert [p["sec_type"] for p in theirs if p["conid"] == AAPL_OPTION_CONID] == ["OPT"]
        mine = act(sim_reset, CRED, "get_positions")["positions"]
        assert AAPL_OPTION_CONID not in {p["conid"] for p in mine}
    finally:
        sim_reset.engine.broker.links.pop("DU1234567", None)
