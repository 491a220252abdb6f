"""The simulator's `/v1/api/ws`: IBKR's handshake for both schemes, first messages, topics, faults."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from noetl_ib_plugin.simulator import Simulator

from .clients import OAuth1aClient, Trader

AAPL = 265598
MSFT = 272093


def _ws_url(sim: Simulator, token: str = "") -> str:
    """The simulator's WebSocket URL, with `oauth_token` for OAuth 1.0a."""
    return f"ws://127.0.0.1:{sim.port}/v1/api/ws" + (f"?oauth_token={token}" if token else "")


def _session(trader: Trader) -> str:
    """The `session` of a /tickle made with the trader's own authentication."""
    return str(trader.post("/tickle").json()["session"])


def _open(sim: Simulator, session: str, token: str = "") -> ClientConnection:
    """Open the socket the way IBKR's clients do (api cookie, User-Agent)."""
    return connect(_ws_url(sim, token), open_timeout=5, close_timeout=1,
                   additional_headers={"Cookie": f"api={session}",
                                       "User-Agent": "ClientPortalGW/1"})


def _until(ws: ClientConnection, pred: Any, timeout: float = 10.0) -> dict[str, Any]:
    """The first JSON message meeting `pred` within `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no matching message in time")
        try:
            msg = json.loads(ws.recv(timeout=left))
        except TimeoutError:
            raise AssertionError("no matching message in time") from None
        if pred(msg):
            return dict(msg)


def _until_each(ws: ClientConnection, preds: dict[str, Any], timeout: float = 10.0
                ) -> dict[str, dict[str, Any]]:
    """The first JSON message meeting each named predicate, whichever order they arrive in."""
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(preds):
        left = deadline - time.monotonic()
        try:
            msg = json.loads(ws.recv(timeout=max(left, 0.0)))
        except TimeoutError:
            raise AssertionError(f"no message in time for {sorted(set(preds) - set(found))}") from None
        for name, pred in preds.items():
            if name not in found and pred(msg):
                found[name] = dict(msg)
    return found


@pytest.fixture
def fast(sim_shared: Simulator) -> Iterator[Simulator]:
    """The shared simulator with short stream periods (tests must not wait 10 s)."""
    sim_shared.stream.heartbeat_s, sim_shared.stream.quote_interval_s = 0.2, 0.05
    yield sim_shared
    sim_shared.stream.heartbeat_s, sim_shared.stream.quote_interval_s = 10.0, 0.5


def _greeted(ws: ClientConnection) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first two messages: system, then sts."""
    return json.loads(ws.recv(timeout=5)), json.loads(ws.recv(timeout=5))


def test_oauth2_cookie_opens_the_socket_with_system_then_sts(fast: Simulator, trader: Trader) -> None:
    """A bearer's /tickle session as the api cookie is accepted: system(username), then sts authenticated."""
    with _open(fast, _session(trader)) as ws:
        system, sts = _greeted(ws)
    assert system["topic"] == "system" and system["success"]
    assert sts == {**sts, "topic": "sts"} and sts["args"]["authenticated"] is True


def test_oauth1a_needs_the_oauth_token_parameter(fast: Simulator, trader1a: Trader,
                                                 o1: OAuth1aClient) -> None:
    """An LST session is accepted with ?oauth_token=<access token> and refused (401) without it."""
    session = _session(trader1a)
    with _open(fast, session, o1.access_token) as ws:
        assert _greeted(ws)[1]["args"]["authenticated"] is True
    with pytest.raises(InvalidStatus) as err:
        _open(fast, session)
    assert err.value.response.status_code == 401
    with pytest.raises(InvalidStatus):
        _open(fast, session, "not-the-token")


def test_unknown_or_missing_session_is_refused(fast: Simulator, trader: Trader) -> None:
    """No cookie, a made-up session, or a bearer session with an oauth_token: 401, no socket."""
    for session, token in (("", ""), ("0" * 32, ""), (_session(trader), "x")):
        with pytest.raises(InvalidStatus) as err:
            _open(fast, session, token)
        assert err.value.response.status_code == 401


def test_heartbeat_arrives_at_the_configured_period(fast: Simulator, trader: Trader) -> None:
    """`{"topic":"system","hb":ms}` arrives about every heartbeat_s."""
    with _open(fast, _session(trader)) as ws:
        _greeted(ws)
        first = _until(ws, lambda m: "hb" in m, 2)
        second = _until(ws, lambda m: "hb" in m, 2)
    assert 100 <= second["hb"] - first["hb"] <= 1000


def test_market_data_first_full_then_changed_fields_only(fast: Simulator, trader: Trader) -> None:
    """smd sends every requested field first, then only what changed; umd stops it."""
    fast.set_price(AAPL, 190.0)
    with _open(fast, _session(trader)) as ws:
        _greeted(ws)
        ws.send(f'smd+{AAPL}+{{"fields":["31","84","86"]}}')
        first = _until(ws, lambda m: m.get("topic") == f"smd+{AAPL}")
        assert first["31"] == "190.00" and first["84"] == "189.99" and first["6509"] == "RpB"
        assert first["conid"] == AAPL
        fast.set_price(AAPL, 191.5)
        update = _until(ws, lambda m: m.get("topic") == f"smd+{AAPL}")
        assert update["31"] == "191.50" and "6509" not in update
        ws.send(f"umd+{AAPL}+{{}}")
        # The server reads a socket's messages in order: MSFT's first quote proves umd was read.
        ws.send(f'smd+{MSFT}+{{"fields":["31"]}}')
        _until(ws, lambda m: m.get("topic") == f"smd+{MSFT}")
        fast.set_price(AAPL, 150.0)
        with pytest.raises(AssertionError):
            _until(ws, lambda m: m.get("topic") == f"smd+{AAPL}", 0.4)


def test_order_updates_follow_the_rest_book(fast: Simulator, trader: Trader) -> None:
    """sor: a REST placement arrives in full, a fill as changed fields; str reports the execution."""
    fast.set_price(AAPL, 190.0)
    with _open(fast, _session(trader)) as ws:
        _greeted(ws)
        # str before sor: the server reads a socket's messages in order, so the sor message
        # below also proves the str subscription is in place before the fill.
        ws.send('str+{"realtimeUpdatesOnly":true}')
        ws.send("sor+{}")
        placed = trader.confirm_all(trader.order(conid=AAPL, orderType="LMT", price=180.0,
                                                 side="BUY", quantity=3, tif="DAY"))
        order_id = int(placed[0]["order_id"])
        full = _until(ws, lambda m: m.get("topic") == "sor")["args"][0]
        assert full["orderId"] == order_id and full["status"] in ("Submitted", "PreSubmitted")
        assert full["totalSize"] == 3
        fast.set_price(AAPL, 179.0)
        # The fill's sor change and its str row are two pushes of the book: either comes first.
        got = _until_each(ws, {
            "update": lambda m: m.get("topic") == "sor" and m["args"][0].get("status") == "Filled",
            "trade": lambda m: m.get("topic") == "str"})
        update, trade = got["update"]["args"][0], got["trade"]["args"][0]
        assert update["orderId"] == order_id and "companyName" not in update
        assert trade["order_id"] == order_id and trade["size"] == 3


def test_pnl_row_per_account(fast: Simulator, trader: Trader) -> None:
    """spl sends `<acct>.Core` with dpl/upl/nl figures."""
    with _open(fast, _session(trader)) as ws:
        _greeted(ws)
        ws.send("spl+{}")
        msg = _until(ws, lambda m: m.get("topic") == "spl")
    row = msg["args"][f"{trader.account}.Core"]
    assert row["rowType"] == 1 and {"dpl", "upl", "nl"} <= set(row)


def test_tic_is_answered_and_keeps_the_session(fast: Simulator, trader: Trader) -> None:
    """`tic` gets a `tic` answer (the socket is the session's keep-alive)."""
    with _open(fast, _session(trader)) as ws:
        _greeted(ws)
        ws.send("tic")
        assert _until(ws, lambda m: m.get("topic") == "tic")["alive"] is True


def test_fault_refuse_handshake(fast: Simulator, trader: Trader) -> None:
    """`ws_refuse: 1` refuses the Upgrade with 401."""
    session = _session(trader)
    fast.set_faults({"ws_refuse": 1.0})
    with pytest.raises(InvalidStatus):
        _open(fast, session)


def test_fault_drop_closes_without_close_frame(fast: Simulator, trader: Trader) -> None:
    """`ws_drop` ends the TCP connection abruptly (no close frame: an error, not a clean close)."""
    session = _session(trader)
    fast.set_faults({"ws_drop": 1.0})
    with _open(fast, session) as ws, pytest.raises(ConnectionClosed) as err:
        ws.recv(timeout=5)
    assert err.value.rcvd is None


def test_fault_silent_sends_nothing(fast: Simulator, trader: Trader) -> None:
    """`ws_silent` keeps the socket open but sends nothing, heartbeats included."""
    session = _session(trader)
    fast.set_faults({"ws_silent": 1.0})
    with _open(fast, session) as ws, pytest.raises(TimeoutError):
        ws.recv(timeout=0.6)


def test_fault_kick_sends_sts_competing(fast: Simulator, trader: Trader) -> None:
    """`ws_kick` sends sts authenticated:false competing:true and the REST bridge is gone."""
    session = _session(trader)
    fast.set_faults({"ws_kick": 1.0})
    with _open(fast, session) as ws:
        sts = json.loads(ws.recv(timeout=5))
    assert sts["topic"] == "sts" and sts["args"]["authenticated"] is False
    assert sts["args"]["competing"] is True
    fast.set_faults({})
    assert trader.get("/iserver/account/orders").status_code == 400


def test_fault_malformed_frame_is_not_json(fast: Simulator, trader: Trader) -> None:
    """`ws_malformed` sends a text frame that is not JSON."""
    session = _session(trader)
    fast.set_faults({"ws_malformed": 1.0})
    with _open(fast, session) as ws:
        text = ws.recv(timeout=5)
    with pytest.raises(ValueError):
        json.loads(text)


def test_revoked_token_ends_the_stream_with_sts(fast: Simulator, trader: Trader) -> None:
    """A token revoked during the stream: sts authenticated:false, then the socket closes."""
    with _open(fast, _session(trader)) as ws:
        _greeted(ws)
        fast.revoke_all()
        sts = _until(ws, lambda m: m.get("topic") == "sts")
        assert sts["args"]["authenticated"] is False
        with pytest.raises(ConnectionClosed):
            _until(ws, lambda m: False, 3)


def test_no_secret_in_simulator_logs(fast: Simulator, trader1a: Trader, o1: OAuth1aClient,
                                     caplog: pytest.LogCaptureFixture) -> None:
    """Neither the oauth_token of the URL nor the api cookie reaches any log line."""
    caplog.set_level("DEBUG")
    session = _session(trader1a)
    with _open(fast, session, o1.access_token) as ws:
        _greeted(ws)
    text = "\n".join(r.getMessage() for r in caplog.records  # the test's own client logs its
                      if r.name.startswith("noetl_ib_plugin"))  # headers at DEBUG: not ours
    assert "/v1/api/ws" in text
    assert session not in text and o1.access_token not in text


def test_simulator_cli_sets_the_stream_periods() -> None:
    """`--ws-heartbeat` / `--ws-quote-interval` parse as positive seconds; 0 is refused."""
    from noetl_ib_plugin.simulator.cli import build_parser

    args = build_parser().parse_args(["--ws-heartbeat", "0.2", "--ws-quote-interval", "0.001"])
    assert (args.ws_heartbeat, args.ws_quote_interval) == (0.2, 0.001)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--ws-quote-interval", "0"])


def test_walk_moves_the_price_on_every_message(fast: Simulator, trader: Trader) -> None:
    """`stream.walk` (benchmarks): consecutive market data messages each carry a new last."""
    fast.stream.walk = True
    try:
        with _open(fast, _session(trader)) as ws:
            _greeted(ws)
            ws.send(f'smd+{AAPL}+{{"fields":["31"]}}')
            lasts = [_until(ws, lambda m: m.get("topic") == f"smd+{AAPL}")["31"]
                     for _ in range(3)]
    finally:
        fast.stream.walk = False
    assert len(set(lasts)) == 3
