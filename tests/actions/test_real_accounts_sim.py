"""What real accounts do (issue 23), met through the actions on the real simulator: several
accounts per login, cached positions, incomplete live-order answers, PendingCancel, delayed
quotes, 403 and rejections that say what to do."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from noetl_ib_plugin.cli import main
from noetl_ib_plugin.errors import OrderRejected
from noetl_ib_plugin.runner import run_action
from noetl_ib_plugin.simulator import Simulator
from tests.fixtures.simulators import act

AAPL = 265598


def _resting(coid: str, **extra: Any) -> dict[str, Any]:
    """BUY 3 AAPL LMT 99 DAY (AAPL pinned at 100: it rests as Submitted, no question)."""
    return {"symbol": "AAPL", "side": "BUY", "quantity": 3, "order_type": "LMT",
            "limit_price": 99.0, "tif": "DAY", "client_order_id": coid, **extra}


@pytest.fixture
def priced(sim_reset: Simulator) -> Simulator:
    """AAPL pinned at 100."""
    sim_reset.set_price(AAPL, 100.0)
    return sim_reset


@pytest.fixture
def linked(priced: Simulator, tmp_path: Path) -> Iterator[Path]:
    """Failing input 1's login: it holds DU1234567 (IBKR's selected account) and DU7654321, and
    the credential `sim_linked` (sim_oauth2's keys) names data.account_id=DU7654321."""
    priced.link_accounts("DU1234567", "DU7654321")
    data = json.loads(priced.credentials_file.read_text())
    record = copy.deepcopy(next(r for r in data["credentials"] if r["name"] == "sim_oauth2"))
    record["name"] = "sim_linked"
    record["data"]["account_id"] = "DU7654321"
    data["credentials"].append(record)
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    yield path
    priced.engine.broker.links.pop("DU1234567", None)


@pytest.fixture
def options(sim_reset: Simulator) -> Iterator[Any]:
    """Set simulator options for one test; the module's simulator gets its defaults back."""
    before = sim_reset.engine.broker.order_options()
    yield sim_reset.set_order_options
    sim_reset.set_order_options(**before)


def _book(sim: Simulator, coid: str) -> list[dict[str, Any]]:
    """The simulator's records of orders with this cOID."""
    return [o for o in sim.orders() if o["cOID"] == coid]


def _cli(sim: Simulator, capsys: pytest.CaptureFixture[str], action: str,
         args: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
    """`noetl-ib run ACTION` in-process: (exit code, result or error, everything printed)."""
    code = main(["run", action, "--credential", "sim_oauth2", "--credentials-file",
                 str(sim.credentials_file), "--args-json", json.dumps(args)])
    out, err = capsys.readouterr()
    if code == 0:
        return code, json.loads(out), out + err
    return code, json.loads(err.strip().splitlines()[-1])["error"], out + err


# -- 1. several accounts per login ---------------------------------------------------------------


def test_another_accounts_orders_never_appear_under_this_one(priced: Simulator,
                                                            linked: Path) -> None:
    """Input 1: the selected account's order never appears under the credential's DU7654321."""
    theirs = act(priced, "sim_oauth2", "place_order", **_resting("sel-1"))
    assert theirs["account_id"] == "DU1234567"
    mine = run_action("get_open_orders", "sim_linked", credentials_file=linked)
    assert mine["account_id"] == "DU7654321"
    assert mine["orders"] == [] and mine["complete"] is True
    placed = run_action("place_order", "sim_linked", credentials_file=linked,
                        **_resting("lnk-1"))
    assert placed["account_id"] == "DU7654321"
    assert [o["acct"] for o in _book(priced, "lnk-1")] == ["DU7654321"]
    mine = run_action("get_open_orders", "sim_linked", credentials_file=linked)
    assert [(o["client_order_id"], o["account_id"]) for o in mine["orders"]] == \
        [("lnk-1", "DU7654321")]
    theirs = act(priced, "sim_oauth2", "get_open_orders")
    assert [(o["client_order_id"], o["account_id"]) for o in theirs["orders"]] == \
        [("sel-1", "DU1234567")]


def test_every_account_scoped_read_is_for_the_account_asked_for(priced: Simulator,
                                                               linked: Path) -> None:
    """Positions, summary and ledger of a credential naming the non-selected account are its own."""
    act(priced, "sim_oauth2", "place_order", symbol="TSLA", side="BUY", quantity=7,
        order_type="MKT", tif="DAY")
    positions = run_action("get_positions", "sim_linked", credentials_file=linked)
    assert positions["account_id"] == "DU7654321"
    assert "TSLA" not in {p["symbol"] for p in positions["positions"]}
    summary = run_action("account_summary", "sim_linked", credentials_file=linked)
    assert summary["account_id"] == "DU7654321"
    assert summary["values"]["accountcode"] == "DU7654321"


def test_trades_are_the_account_asked_for(priced: Simulator, linked: Path) -> None:
    """Trades of a credential naming the non-selected account: its own fill, never the selected's."""
    act(priced, "sim_oauth2", "place_order", symbol="TSLA", side="BUY", quantity=7,
        order_type="MKT", tif="DAY", client_order_id="sel-fill")
    run_action("place_order", "sim_linked", credentials_file=linked, symbol="AAPL", side="BUY",
               quantity=2, order_type="MKT", tif="DAY", client_order_id="lnk-fill")
    mine = run_action("trades", "sim_linked", credentials_file=linked)
    assert [(t["client_order_id"], t["account_id"]) for t in mine["trades"]] == \
        [("lnk-fill", "DU7654321")]


# -- 2. cached positions -------------------------------------------------------------------------


def test_positions_show_a_fill_at_once(priced: Simulator) -> None:
    """Input 2: AAPL 100, MKT BUY 3 filled, then get_positions says 103 (not IBKR's cached 100)."""
    def aapl() -> float:
        out = act(priced, "sim_oauth2", "get_positions")
        return float(next(p["position"] for p in out["positions"] if p["symbol"] == "AAPL"))

    assert aapl() == 100.0
    filled = act(priced, "sim_oauth2", "place_order", symbol="AAPL", side="BUY", quantity=3,
                 order_type="MKT", tif="DAY")
    assert filled["status"] == "Filled"
    assert aapl() == 103.0


# -- 3 and 4. falsely empty and incomplete live orders ----------------------------------------------


def test_resting_order_is_listed_when_account_less_answers_are_empty(priced: Simulator,
                                                                     options: Any) -> None:
    """Input 3: account-less live orders answer empty; get_open_orders still lists the order."""
    options(incomplete_live_orders=True)
    act(priced, "sim_oauth2", "place_order", **_resting("rest-1"))
    out = act(priced, "sim_oauth2", "get_open_orders")
    assert [o["client_order_id"] for o in out["orders"]] == ["rest-1"]
    assert out["complete"] is True


def test_order_whose_answer_was_lost_is_found_when_ibkr_holds_it(priced: Simulator,
                                                                 options: Any) -> None:
    """Input 3: a placement answered with HTML is found in live orders (reconciled), not unknown."""
    options(incomplete_live_orders=True)
    priced.set_faults({"garbage_html": 1.0})
    out = act(priced, "sim_oauth2", "place_order", **_resting("lost-1"))
    (book,) = _book(priced, "lost-1")
    assert out["reconciled"] is True and out["source"] == "live_orders"
    assert out["order_id"] == str(book["order_id"]) and out["status"] == "Submitted"


def test_filtered_answer_that_is_incomplete_does_not_hide_orders(priced: Simulator,
                                                                options: Any) -> None:
    """Input 4: two working orders; filters=Submitted lists both (IBKR's filtered answer: one)."""
    options(incomplete_live_orders=True)
    act(priced, "sim_oauth2", "place_order", **_resting("two-1"))
    act(priced, "sim_oauth2", "place_order", **_resting("two-2", limit_price=98.0))
    out = act(priced, "sim_oauth2", "get_open_orders", filters=["Submitted"])
    assert sorted(o["client_order_id"] for o in out["orders"]) == ["two-1", "two-2"]
    assert out["complete"] is True
    filled = act(priced, "sim_oauth2", "get_open_orders", filters=["Filled"])
    assert filled["orders"] == []


# -- 6. PendingCancel can still fill --------------------------------------------------------------


def test_pending_cancel_with_nothing_filled_is_still_live(priced: Simulator) -> None:
    """Input 6: PendingCancel with 0 filled shows with include_inactive=false, and can still fill."""
    broker = priced.engine.broker
    broker.cancel_delay = 600.0
    try:
        placed = act(priced, "sim_oauth2", "place_order", **_resting("pc-1"))
        act(priced, "sim_oauth2", "cancel_order", order_id=placed["order_id"])
        live = act(priced, "sim_oauth2", "get_open_orders", include_inactive=False)
        assert [(o["client_order_id"], o["status"], o["filled_quantity"])
                for o in live["orders"]] == [("pc-1", "PendingCancel", 0.0)]
        priced.set_price(AAPL, 98.0)
        assert [o["status"] for o in _book(priced, "pc-1")] == ["Filled"]
        live = act(priced, "sim_oauth2", "get_open_orders", include_inactive=False)
        assert live["orders"] == []
    finally:
        broker.cancel_delay = 0.0


# -- 7. delayed data ----------------------------------------------------------------------------------


def test_delayed_quote_says_it_is_delayed(sim_reset: Simulator, options: Any) -> None:
    """Input 7: 6509 "DPB" (asked by default) makes the quote say delayed; "RpB" says real time."""
    options(delayed_accounts=["DU1234567"])
    delayed = act(sim_reset, "sim_oauth2", "snapshot", symbols=["AAPL"])["snapshots"][0]
    live = act(sim_reset, "sim_oauth1a", "snapshot", symbols=["AAPL"])["snapshots"][0]
    assert delayed["delayed"] is True and delayed["availability"] == "DPB"
    assert live["delayed"] is False and live["availability"] == "RpB"
    only_last = act(sim_reset, "sim_oauth2", "snapshot", symbols=["AAPL"], fields=["last"])
    assert only_last["snapshots"][0]["delayed"] is True


# -- 8. 403 --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["http_403", "http_403_html"])
def test_forbidden_is_an_auth_error_naming_auth_status(
        sim_reset: Simulator, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Input 8: 403 (JSON or HTML) exits 3, the fix names /iserver/auth/status; HTML never echoed."""
    sim_reset.set_faults({kind: 1.0})
    code, err, printed = _cli(sim_reset, capsys, "get_positions", {})
    assert code == 3 and err["category"] == "auth" and err["status"] == 403
    fix = err["message"].split("Fix:", 1)[1]  # the CLI prints the fix after the message
    assert "/iserver/auth/status" in fix and "permissions" in fix
    assert "<" not in printed and "Access Denied" not in printed
    assert "Reference #" not in printed


def test_forbidden_fix_names_the_credential_so_it_works_when_copied(
        sim_reset: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI's 403 fix names the credential used (`--credential sim_oauth2`), not a placeholder."""
    sim_reset.set_faults({"http_403": 1.0})
    code, err, _ = _cli(sim_reset, capsys, "get_positions", {})
    fix = err["message"].split("Fix:", 1)[1]
    assert code == 3 and "noetl-ib run auth_status --credential sim_oauth2`" in fix
    assert "NAME" not in fix


# -- 9. rejections carry a fix -----------------------------------------------------------------------


def test_rejected_order_says_what_to_do(priced: Simulator,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Input 9: IBKR's HTTP 200 rejection is OrderRejected with a fix, also on the CLI (exit 4)."""
    ticket = {"conid": 4036818, "side": "BUY", "quantity": 1.5, "order_type": "MKT",
              "tif": "DAY", "client_order_id": "frac-1"}
    with pytest.raises(OrderRejected) as info:
        act(priced, "sim_oauth2", "place_order", **ticket)
    assert "whole shares" in info.value.message
    assert info.value.fix and "not placed" in info.value.fix
    code, err, _ = _cli(priced, capsys, "place_order", {**ticket, "client_order_id": "frac-2"})
    assert code == 4 and err["type"] == "OrderRejected"
    assert "not placed" in err["message"].split("Fix:", 1)[1]
    assert _book(priced, "frac-1") == [] and _book(priced, "frac-2") == []


# -- the simulator's reply fault, met by the client ------------------------------------------------


def test_confirmed_order_answered_500_is_found_not_resent(priced: Simulator) -> None:
    """reply_500: the confirmed order answered 500 is found by cOID (reconciled), never resent."""
    priced.set_faults({"reply_500": 1.0})
    out = act(priced, "sim_oauth2", "place_order", **_resting("r500", limit_price=90.0),
              confirm=["o163"])
    (book,) = _book(priced, "r500")
    assert out["reconciled"] is True and out["order_id"] == str(book["order_id"])
    assert priced.stats()["faults_injected"] == {"reply_500": 1}
