"""Fault plans with `at_least_once`: every named kind fires, whatever the draws and the timing."""

from __future__ import annotations

import pytest
import requests

from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.simulator.faults import FaultPlan

from .clients import Trader

AAPL = 265598
#: Probabilities no draw of a short test reaches: whatever fires here was forced.
NEVER = 1e-12


def test_each_kind_fires_once_then_only_as_drawn(sim_shared: Simulator, t: Trader) -> None:
    """A wire kind takes the next request, order kinds the next order POSTs, then none is forced."""
    sim_shared.set_faults({"http_500": NEVER, "inactive": NEVER, "garbage_html": NEVER,
                           "at_least_once": True})
    assert t.get("/iserver/accounts").status_code == 500
    assert t.get("/iserver/accounts").status_code == 200
    inactive = t.order(conid=AAPL, orderType="LMT", price=99.0, quantity=1, cOID="first")
    assert inactive[0]["order_status"] == "Inactive"
    html = t.post(f"/iserver/account/{t.account}/orders",
                  json={"orders": [{"acctId": t.account, "conid": AAPL, "orderType": "LMT",
                                    "price": 99.0, "quantity": 2, "side": "BUY", "tif": "DAY",
                                    "cOID": "second"}]})
    assert html.status_code == 200 and html.headers["Content-Type"].startswith("text/html")
    third = t.order(conid=AAPL, orderType="LMT", price=99.0, quantity=3, cOID="third")
    assert third[0]["order_status"] != "Inactive"
    assert sim_shared.stats()["faults_injected"] == {"http_500": 1, "inactive": 1, "garbage_html": 1}


def test_without_the_key_nothing_is_forced(sim_shared: Simulator, t: Trader) -> None:
    """The same near-zero plan without at_least_once injects nothing."""
    sim_shared.set_faults({"http_500": NEVER, "inactive": NEVER, "garbage_html": NEVER})
    assert t.get("/iserver/accounts").status_code == 200
    placed = t.order(conid=AAPL, orderType="LMT", price=99.0, quantity=1, cOID="plain")
    assert placed[0]["order_status"] != "Inactive"
    assert sim_shared.stats()["faults_injected"] == {}


def test_a_kind_stays_owed_until_it_takes_effect(sim_shared: Simulator, t: Trader) -> None:
    """inactive forced onto a placement that asks a question fires on the confirming reply instead."""
    sim_shared.set_faults({"inactive": NEVER, "at_least_once": True})
    question = t.order(conid=AAPL, orderType="LMT", price=90.0, quantity=1, cOID="far")
    assert question[0]["messageIds"] == ["o163"]
    assert sim_shared.stats()["faults_injected"] == {}
    placed = t.confirm_all(question)
    assert placed[0]["order_status"] == "Inactive"
    assert sim_shared.stats()["faults_injected"] == {"inactive": 1}


def test_a_new_plan_owes_its_kinds_again(sim_shared: Simulator, t: Trader) -> None:
    """Setting the plan again counts from then: a kind fired under the old plan is forced again."""
    plan = {"http_429": NEVER, "at_least_once": True}
    sim_shared.set_faults(plan)
    assert t.get("/iserver/accounts").status_code == 429
    sim_shared.set_faults(plan)
    assert t.get("/iserver/accounts").status_code == 429
    assert t.get("/iserver/accounts").status_code == 200


def test_the_key_is_shown_and_checked(sim_shared: Simulator) -> None:
    """GET /__sim/faults shows the key; a value that is not a JSON boolean is refused."""
    url = f"{sim_shared.url}/__sim/faults"
    shown = requests.post(url, json={"http_500": 0.1, "at_least_once": True}, timeout=5).json()
    assert shown["at_least_once"] is True
    assert "at_least_once" not in requests.post(url, json={"http_500": 0.1}, timeout=5).json()
    with pytest.raises(ValueError, match="at_least_once"):
        FaultPlan.parse({"http_500": 0.1, "at_least_once": "yes"})


def test_modify_lost_is_forced_onto_a_modify_and_not_pre_empted(sim_shared: Simulator,
                                                                t: Trader) -> None:
    """modify_lost waits for a modify POST and fires there, even beside a drawn http_500."""
    placed = t.order(conid=AAPL, orderType="LMT", price=99.0, quantity=1, cOID="to-modify")
    order_id = placed[0]["order_id"]
    sim_shared.set_faults({"modify_lost": NEVER, "http_500": 1.0, "at_least_once": True,
                           "paths": ["/v1/api/iserver/account/"]})
    with pytest.raises(requests.ConnectionError):
        t.post(f"/iserver/account/{t.account}/order/{order_id}",
               json={"acctId": t.account, "conid": AAPL, "orderType": "LMT", "price": 98.5,
                     "quantity": 1, "side": "BUY", "tif": "DAY"})
    sim_shared.set_faults({})
    assert sim_shared.stats()["faults_injected"].get("modify_lost") == 1
