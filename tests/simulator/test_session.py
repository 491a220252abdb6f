"""Brokerage session lifecycle: no bridge before ssodh/init, status, tickle, validate, idle-out,
one session per username (compete/kick), warm-up and the accounts-first rule."""

from __future__ import annotations

import time

import requests

from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.simulator.keys import new_rsa_key, public_pem

from .clients import OAuth1aClient, OAuth2Client, Trader
from .conftest import Clocked, records


def test_no_bridge_before_ssodh_init(sim_shared: Simulator, o2: OAuth2Client) -> None:
    """/iserver/* answers 400 "no bridge" until ssodh/init; then it works."""
    t = Trader(sim_shared.url, "DU1234567", bearer=o2.bearer())
    resp = t.get("/iserver/accounts")
    assert resp.status_code == 400
    assert resp.json() == {"error": "Bad Request: no bridge", "statusCode": 400}
    status = t.post("/iserver/auth/status").json()
    assert status["authenticated"] is False and status["connected"] is True
    t.init()
    assert t.get("/iserver/accounts").status_code == 200
    assert t.get("/iserver/auth/status").json()["authenticated"] is True


def test_new_bearer_has_no_session(sim_shared: Simulator, o2: OAuth2Client, trader: Trader) -> None:
    """A second bearer needs its own ssodh/init."""
    other = Trader(sim_shared.url, "DU1234567", bearer=o2.bearer())
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


def test_session_idles_out(sim_shared: Simulator, trader: Trader) -> None:
    """Without requests for session_idle_timeout seconds the bridge closes."""
    sim_shared.session_idle_timeout = 0.2
    assert trader.get("/iserver/accounts").status_code == 200
    time.sleep(0.3)
    assert trader.get("/iserver/accounts").status_code == 400
    assert trader.post("/iserver/auth/status").json()["authenticated"] is False


def _strict(sim_shared: Simulator, **rules: object) -> None:
    """Turn the IBKR-like session rules back on for one test (the fixture relaxes two)."""
    for name, value in rules.items():
        setattr(sim_shared.engine.broker.rules, name, value)


def test_compete_true_kicks_the_previous_session(sim_shared: Simulator, o2: OAuth2Client) -> None:
    """compete=true kicks the user's previous session: no bridge there, and status/tickle say competing."""
    first = Trader(sim_shared.url, "DU1234567", bearer=o2.bearer()).init()
    assert first.get("/iserver/accounts").status_code == 200
    second = Trader(sim_shared.url, "DU1234567", bearer=o2.bearer()).init()
    assert sim_shared.stats()["sessions_kicked"] == 1
    resp = first.get("/iserver/accounts")
    assert resp.status_code == 400 and resp.json()["error"] == "Bad Request: no bridge"
    status = first.post("/iserver/auth/status").json()
    assert status["authenticated"] is False and status["competing"] is True
    tickle = first.post("/tickle").json()["iserver"]["authStatus"]
    assert tickle["authenticated"] is False and tickle["competing"] is True
    mine = second.post("/iserver/auth/status").json()
    assert mine["authenticated"] is True and mine["competing"] is False


def test_compete_false_reports_competing_and_leaves_the_holder(sim_shared: Simulator,
                                                              o2: OAuth2Client) -> None:
    """compete=false against a live session answers competing=true and opens nothing."""
    holder = Trader(sim_shared.url, "DU1234567", bearer=o2.bearer()).init()
    other = Trader(sim_shared.url, "DU1234567", bearer=o2.bearer())
    body = other.post("/iserver/auth/ssodh/init", json={"publish": True, "compete": False}).json()
    assert body["authenticated"] is False and body["competing"] is True
    assert other.get("/iserver/accounts").status_code == 400
    assert holder.get("/iserver/accounts").status_code == 200
    assert sim_shared.stats()["sessions_kicked"] == 0


def test_compete_query_parameter_and_other_usernames(sim_shared: Simulator, o2: OAuth2Client,
                                                    o1: OAuth1aClient) -> None:
    """compete=true in the query string counts; another username's session is never kicked."""
    oauth1a = Trader(sim_shared.url, "DU7654321", oauth1a=o1).init()
    first = Trader(sim_shared.url, "DU1234567", bearer=o2.bearer()).init()
    second = Trader(sim_shared.url, "DU1234567", bearer=o2.bearer())
    assert second.post("/iserver/auth/ssodh/init?compete=true").json()["authenticated"] is True
    assert first.get("/iserver/accounts").status_code == 400
    assert oauth1a.get("/iserver/accounts").status_code == 200
    assert sim_shared.stats()["sessions_kicked"] == 1


def test_single_session_off_keeps_both(sim_shared: Simulator, o2: OAuth2Client) -> None:
    """single_session=False (a relax option) lets two tokens of one user hold bridges."""
    _strict(sim_shared, single_session=False)
    try:
        first = Trader(sim_shared.url, "DU1234567", bearer=o2.bearer()).init()
        Trader(sim_shared.url, "DU1234567", bearer=o2.bearer()).init()
        assert first.get("/iserver/accounts").status_code == 200
        assert sim_shared.stats()["sessions_kicked"] == 0
    finally:
        _strict(sim_shared, single_session=True)


def test_bridge_warms_up_then_accounts_first(clocked: Clocked) -> None:
    """Warm-up answers accounts {}; other iserver calls answer 500 query /accounts first until then."""
    # The simulator's clock moves only when the test says so: a busy machine cannot end the
    # warm-up between two requests that must both fall inside it.
    trader = clocked.trader
    _strict(clocked.sim, bridge_warmup=0.3, accounts_first=True)
    trader.init()
    assert trader.get("/iserver/accounts").json() == {}
    early = trader.get("/iserver/secdef/search", params={"symbol": "AAPL"})
    assert early.status_code == 500
    assert early.json()["error"] == "Please query /accounts first"
    clocked.advance(0.35)
    accounts = trader.get("/iserver/accounts").json()
    assert accounts["accounts"] == ["DU1234567", "DU2345678"]
    assert trader.get("/iserver/secdef/search", params={"symbol": "AAPL"}).status_code == 200
    trader.init()  # another step re-initialising the same live session keeps it usable
    assert trader.get("/iserver/secdef/search", params={"symbol": "AAPL"}).status_code == 200
    trader.post("/logout")
    trader.init()
    assert trader.get("/iserver/accounts").json() == {}


def test_uninitialised_session_answers_init_session_first(sim_shared: Simulator,
                                                         o2: OAuth2Client) -> None:
    """A never-opened session answers 400 "Init session first" when configured; a closed one no bridge."""
    _strict(sim_shared, uninitialised="init session first")
    try:
        t = Trader(sim_shared.url, "DU1234567", bearer=o2.bearer())
        resp = t.get("/iserver/accounts")
        assert resp.status_code == 400
        assert resp.json() == {"error": "Init session first", "statusCode": 400}
        t.init()
        t.post("/logout")
        assert t.get("/iserver/accounts").json()["error"] == "Bad Request: no bridge"
    finally:
        _strict(sim_shared, uninitialised="no bridge")


def test_registered_user_client_works(sim_shared: Simulator) -> None:
    """A user's own OAuth 2.0 client registered through POST /__sim/clients gets tokens."""
    key = new_rsa_key()
    body = {"type": "oauth2", "client_id": "MYAPP", "key_id": "my-key", "username": "me1",
            "account_id": "DU5550001", "public_key": public_pem(key)}
    resp = requests.post(f"{sim_shared.url}/__sim/clients", json=body, timeout=10)
    assert resp.status_code == 200 and resp.json()["registered"] is True
    mine = OAuth2Client(sim_shared.url, "MYAPP", "my-key", key, "me1")
    t = Trader(sim_shared.url, "DU5550001", bearer=mine.bearer()).init()
    assert t.get("/iserver/accounts").json()["accounts"] == ["DU5550001", "DU6661112"]
    missing = requests.post(f"{sim_shared.url}/__sim/clients", json={"type": "oauth2"}, timeout=10)
    assert missing.status_code == 400 and "username" in missing.json()["error"]
    assert records(sim_shared)["sim_oauth2"]["account_id"] == "DU1234567"
