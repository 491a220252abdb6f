"""Brokerage session lifecycle: no bridge before ssodh/init, status, tickle, validate, idle-out."""

from __future__ import annotations

import time

from noetl_ib_plugin.simulator import Simulator

from .clients import OAuth2Client, Trader


def test_no_bridge_before_ssodh_init(sim: Simulator, o2: OAuth2Client) -> None:
    """/iserver/* answers 400 "no bridge" until ssodh/init; then it works."""
    t = Trader(sim.url, "DU1234567", bearer=o2.bearer())
    resp = t.get("/iserver/accounts")
    assert resp.status_code == 400
    assert resp.json() == {"error": "Bad Request: no bridge", "statusCode": 400}
    status = t.post("/iserver/auth/status").json()
    assert status["authenticated"] is False and status["connected"] is True
    t.init()
    assert t.get("/iserver/accounts").status_code == 200
    assert t.get("/iserver/auth/status").json()["authenticated"] is True


def test_new_bearer_has_no_session(sim: Simulator, o2: OAuth2Client, trader: Trader) -> None:
    """A second bearer needs its own ssodh/init."""
    other = Trader(sim.url, "DU1234567", bearer=o2.bearer())
    assert other.get("/iserver/accounts").status_code == 400


def test_tickle_validate_logout(trader: Trader) -> None:
    """tickle and sso/validate answer IBKR's shapes; logout closes the bridge."""
    tickle = trader.post("/tickle").json()
    assert tickle["iserver"]["authStatus"]["authenticated"] is True
    assert tickle["ssoExpires"] > 0 and tickle["collission"] is False
    assert trader.get("/tickle").status_code == 200
    validate = trader.get("/sso/validate").json()
    assert validate["RESULT"] is True and validate["LOGIN_TYPE"] == 2
    assert trader.post("/logout").json() == {"status": True}
    assert trader.get("/iserver/accounts").status_code == 400


def test_session_idles_out(sim: Simulator, trader: Trader) -> None:
    """Without requests for session_idle_timeout seconds the bridge closes."""
    sim.session_idle_timeout = 0.2
    assert trader.get("/iserver/accounts").status_code == 200
    time.sleep(0.3)
    assert trader.get("/iserver/accounts").status_code == 400
    assert trader.post("/iserver/auth/status").json()["authenticated"] is False
