"""`/v1/api/ws`: IBKR's WebSocket on the REST port (ibkr-web-api.md s.12).

The HTTP server parses the Upgrade request; this module replays it into a `websockets` sans-I/O
server protocol (the handshake and all framing are the library's), authenticates the caller as
IBKR does and then runs one stream session on the handler's thread: first messages (`system`,
`sts`), heartbeats, market data (`smd`/`umd`), live orders (`sor`/`uor`), trades (`str`/`utr`)
and P&L (`spl`/`upl`), account summary and ledger (ws_account.py), market data lines and
lifetimes (ws_limits.py), with the WebSocket faults of the fault plan (faults.WS_KINDS).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request as WsRequest
from websockets.server import ServerProtocol
from websockets.sync.connection import Connection

from .auth import AuthError, Principal
from .engine import Engine
from .orders import WORKING, render_live
from .ws_account import AccountStreams, act_message
from .ws_limits import LINES_REFUSED, MarketDataLines

__all__ = ["StreamSettings", "is_upgrade", "serve_websocket"]

log = logging.getLogger("noetl_ib_plugin.simulator")
#: The library's own logger, WARNING and up only: its INFO is per-socket noise and its DEBUG
#: would print the handshake's headers (the `api` cookie) and the request line's `oauth_token`.
_wire_log = logging.getLogger("noetl_ib_plugin.simulator.wswire")
_wire_log.setLevel(logging.WARNING)

WS_PATH = "/v1/api/ws"
#: Market data fields sent when a subscription names none.
DEFAULT_FIELDS = ("31", "84", "86", "85", "88", "87", "7059", "55", "6509")
SERVER_INFO = {"serverName": "ibsim", "serverVersion": "Build 10.30.0, Dec 1, 2026"}


@dataclass
class StreamSettings:
    """Timings of every stream session: heartbeat and quote periods, book polling (seconds)."""

    #: `{"topic":"system","hb":ms}` period (IBKR: about 10 s).
    heartbeat_s: float = 10.0
    #: Market data period per subscription (IBKR: about 500 ms); small values for benchmarks.
    quote_interval_s: float = 0.5
    #: How often the order book and trades are compared with what the socket was told.
    book_poll_s: float = 0.05
    #: Benchmarks: last/bid/ask step by a cent on every market data message (so every message
    #: carries changes at any rate), instead of the seeded per-second path.
    walk: bool = False
    #: Market data lines per account, across its sockets (IBKR's default allotment: 100).
    market_data_lines: int = 100
    #: A market data subscription stops this long after its `smd` unless renewed by another
    #: `smd` (IBKR: about 10-15 minutes).
    market_data_lifetime_s: float = 600.0
    #: Who holds the lines now (one table per simulator).
    lines: MarketDataLines = field(default_factory=MarketDataLines)


def is_upgrade(headers: Mapping[str, str]) -> bool:
    """Whether a request asks for a WebSocket (Upgrade: websocket)."""
    return headers.get("upgrade", "").lower() == "websocket"


def _wire(raw_requestline: bytes, headers: list[tuple[str, str]]) -> bytes:
    """The request as it was on the wire, for the library's parser."""
    lines = b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in headers)
    return raw_requestline + lines + b"\r\n"


def _principal(engine: Engine, request: WsRequest) -> Principal:
    """The caller, from the `api` cookie and (OAuth 1.0a) the `oauth_token` parameter."""
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(request.headers.get("Cookie", ""))
    except CookieError:
        raise AuthError(401, {"error": "not authenticated", "statusCode": 401}) from None
    session = cookie["api"].value if "api" in cookie else ""
    if session.startswith("{"):  # the gateway style: api={"session":"..."}
        with contextlib.suppress(ValueError, AttributeError):
            session = str(json.loads(session).get("session", ""))
    token = parse_qs(urlsplit(request.path).query).get("oauth_token", [""])[0]
    return engine.auth.websocket_principal(session, token)


def serve_websocket(sock: socket.socket, raw_requestline: bytes,
                    headers: list[tuple[str, str]], engine: Engine,
                    settings: StreamSettings) -> None:
    """Answer one Upgrade request on `sock` and, when accepted, run its stream to the end."""
    protocol = ServerProtocol(max_size=2**20, logger=_wire_log)
    protocol.receive_data(_wire(raw_requestline, headers))
    events = protocol.events_received()
    request = events[0] if events and isinstance(events[0], WsRequest) else None
    principal: Principal | None = None
    if request is None:
        return
    if engine.faults.draw_ws("ws_refuse"):
        engine.stats.fault("ws_refuse")
        response = protocol.reject(401, "not authenticated\n")
    else:
        try:
            principal = _principal(engine, request)
            response = protocol.accept(request)
        except AuthError:
            engine.stats.incr("auth_failures")
            response = protocol.reject(401, "not authenticated\n")
    protocol.send_response(response)
    sock.sendall(b"".join(protocol.data_to_send()))
    log.info("GET %s -> %s", WS_PATH, response.status_code)
    if response.status_code != 101 or principal is None:
        return
    sock.settimeout(None)
    conn = Connection(sock, protocol, ping_interval=None, close_timeout=1, max_queue=64)
    engine.stats.incr("ws_sessions")
    try:
        StreamSession(engine, conn, sock, principal, settings).run()
    finally:
        conn.close()


class _Dropped(Exception):
    """The ws_drop fault ended the session."""


class StreamSession:
    """One authenticated socket: its subscriptions and what each one was last told."""

    def __init__(self, engine: Engine, conn: Connection, sock: socket.socket,
                 principal: Principal, settings: StreamSettings) -> None:
        self.engine, self.conn, self.sock = engine, conn, sock
        self.principal, self.settings = principal, settings
        self.quotes: dict[int, tuple[str, ...]] = {}
        #: When each market data subscription was made or renewed (monotonic s).
        self.quote_since: dict[int, float] = {}
        self.account = AccountStreams(self)
        self.sent_quotes: dict[int, dict[str, Any]] = {}
        self.orders: dict[int, dict[str, Any]] | None = None
        self.trades: set[str] | None = None
        self.pnl: dict[str, Any] | None = None
        self.silent = False
        self.ended = False
        self.steps = 0
        #: Orders that ended before this socket opened are not news.
        self.opened = engine.clock()

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> None:
        """Greet, then alternate between commands and timed pushes until the socket closes."""
        s = self.settings
        try:
            self.send({"topic": "system", "success": self.principal.username,
                       "isFT": False, "isPaper": self.principal.account_id.startswith("DU")})
            self.send(self._sts())
            self.send(act_message(self))
            now = time.monotonic()
            next_hb, next_quote, next_book = now + s.heartbeat_s, now, now
            while not self.ended:
                wait = max(0.0, min(next_hb, next_quote, next_book) - time.monotonic())
                try:
                    message = self.conn.recv(timeout=wait)
                except TimeoutError:
                    message = None
                except ConnectionClosed:
                    return
                if isinstance(message, str):
                    self._slow_read()
                    self.command(message)
                now = time.monotonic()
                if self.silent:
                    continue
                if not self._still_authenticated():
                    return
                if now >= next_hb:
                    next_hb = now + s.heartbeat_s
                    self.send({"topic": "system", "hb": int(time.time() * 1000)})
                if now >= next_book:
                    next_book = now + s.book_poll_s
                    self.push_book()
                if now >= next_quote:
                    # On a fixed schedule (not `now + interval`: the time a push takes would
                    # lower the rate); after a stall of over 0.1 s the schedule restarts.
                    next_quote = max(next_quote + s.quote_interval_s, now - 0.1)
                    self._expire_quotes(now)
                    self.push_quotes()
                    self.push_pnl()
                    self.account.push()
        except _Dropped:
            return
        finally:
            s.lines.release(self.principal.account_id, self)

    def _expire_quotes(self, now: float) -> None:
        """End market data subscriptions older than their lifetime (IBKR's stream end)."""
        lifetime = self.settings.market_data_lifetime_s
        for conid, since in list(self.quote_since.items()):
            if now - since >= lifetime:
                self.quotes.pop(conid, None)
                self.sent_quotes.pop(conid, None)
                self.quote_since.pop(conid, None)
                self.settings.lines.release(self.principal.account_id, self, conid)

    def _slow_read(self) -> None:
        """The ws_slow_reader fault: a congested reader stalls before it handles a frame."""
        faults = self.engine.faults
        if faults.draw_ws("ws_slow_reader"):
            self.engine.stats.fault("ws_slow_reader")
            time.sleep(faults.plan.ws_slow_ms / 1000.0)

    def send(self, message: Mapping[str, Any]) -> None:
        """Send one message, unless a WebSocket fault says otherwise."""
        if self.silent:
            return
        faults, stats = self.engine.faults, self.engine.stats
        if faults.draw_ws("ws_drop"):
            stats.fault("ws_drop")
            self._abort()
            raise _Dropped
        if faults.draw_ws("ws_silent"):
            stats.fault("ws_silent")
            self.silent = True
            return
        if faults.draw_ws("ws_kick"):
            stats.fault("ws_kick")
            self._kick()
            return
        if faults.draw_ws("ws_malformed"):
            stats.fault("ws_malformed")
            self.conn.send('{"topic":"smd+' + "\x00garbage")
            return
        self.conn.send(json.dumps(message, separators=(",", ":")))
        stats.incr("ws_messages")

    def _abort(self) -> None:
        """Drop the TCP connection with an RST and no close frame."""
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.ended = True

    def _kick(self) -> None:
        """What another session's `compete` does: the bridge closes, `sts` says so."""
        broker = self.engine.broker
        with broker.lock:
            session = broker.sessions.get(self.principal.token_id)
            if session is not None:
                session.close()
                session.kicked = True
        self.conn.send(json.dumps(self._sts(), separators=(",", ":")))
        self.ended = True

    def _sts(self) -> dict[str, Any]:
        """The `sts` message for this socket's brokerage session now."""
        broker = self.engine.broker
        with broker.lock:
            session = broker.sessions.get(self.principal.token_id)
            bridge = bool(session and session.bridge)
            competing = bool(session and (session.kicked or session.competing))
        return {"topic": "sts", "args": {"authenticated": bridge, "competing": competing,
                                         "connected": True, "message": "", "fail": "",
                                         "username": self.principal.username, **SERVER_INFO}}

    def _still_authenticated(self) -> bool:
        """False (after telling the client with `sts`) once the token or the bridge is gone."""
        if not self.engine.auth.is_live(self.principal.token_id):
            self.send({"topic": "sts", "args": {"authenticated": False, "competing": False,
                                                "connected": True,
                                                "message": "token expired or revoked"}})
            return False
        broker = self.engine.broker
        with broker.lock:
            session = broker.sessions.get(self.principal.token_id)
            kicked = session is None or session.kicked or not session.bridge
        if kicked:
            self.send(self._sts())
            return False
        return True

    # -- commands ----------------------------------------------------------------------------
    def command(self, text: str) -> None:
        """One client message: `tic`, `ech+hb`, or a subscribe/unsubscribe `xyz+args`."""
        topic, _, rest = text.partition("+")
        if topic == "tic":
            self._touch()
            self.send({"topic": "tic", "alive": True, "lastAccessed": int(time.time() * 1000)})
            return
        if topic == "ech":
            self.send({"topic": "ech+hb", "alive": True})
            return
        if topic in ("smd", "umd"):
            conid_text, _, args = rest.partition("+")
            conid_text = conid_text.partition("@")[0]
            if not conid_text.isdigit():
                self.send({"topic": "error", "error": f"invalid conid: {conid_text[:32]!r}"})
                return
            conid = int(conid_text)
            if topic == "umd":
                self.quotes.pop(conid, None)
                self.sent_quotes.pop(conid, None)
                self.quote_since.pop(conid, None)
                self.settings.lines.release(self.principal.account_id, self, conid)
                return
            if conid not in self.engine.market.contracts:
                self.send({"topic": f"smd+{conid}", "error": f"Invalid conid {conid}"})
                return
            try:
                fields = json.loads(args or "{}").get("fields") or DEFAULT_FIELDS
            except (ValueError, AttributeError):
                self.send({"topic": "error", "error": "bad smd arguments"})
                return
            limit = self.settings.market_data_lines
            if not self.settings.lines.take(self.principal.account_id, self, conid, limit):
                self.send({"topic": f"smd+{conid}", "conid": conid,
                           "error": LINES_REFUSED.format(limit=limit)})
                return
            self.quotes[conid] = tuple(str(f) for f in fields)
            self.quote_since[conid] = time.monotonic()
            self.sent_quotes.pop(conid, None)
            self.push_quotes(only=conid)
            return
        if self.account.command(topic, rest):
            return
        if topic == "sor":
            self.orders = {}
            self.push_book()
        elif topic == "uor":
            self.orders = None
        elif topic == "str":
            try:
                realtime = bool(json.loads(rest or "{}").get("realtimeUpdatesOnly", False))
            except (ValueError, AttributeError):
                realtime = False
            self.trades = {t["execution_id"] for t in self._trade_rows()} if realtime else set()
            self.push_book()
        elif topic == "utr":
            self.trades = None
        elif topic == "spl":
            self.pnl = {}
            self.push_pnl()
        elif topic == "upl":
            self.pnl = None
        else:
            self.send({"topic": "error", "error": f"unknown topic: {topic[:16]!r}"})

    def _touch(self) -> None:
        """`tic` keeps `/iserver` alive like a REST call."""
        broker = self.engine.broker
        with broker.lock:
            session = broker.sessions.get(self.principal.token_id)
            if session is not None:
                session.last_seen = self.engine.clock()

    # -- pushes ------------------------------------------------------------------------------
    def push_quotes(self, only: int | None = None) -> None:
        """Market data: all requested fields first, then only the fields that changed."""
        market = self.engine.market
        for conid, fields in list(self.quotes.items()):
            if only is not None and conid != only:
                continue
            data = market.snapshot_fields(conid)
            if self.settings.walk:
                self.steps += 1
                base = 100.0 + (self.steps % 100) / 100
                data.update({"31": f"{base:.2f}", "84": f"{base - 0.01:.2f}",
                             "86": f"{base + 0.01:.2f}", "_updated": int(time.time() * 1000)})
            now = {f: data[f] for f in fields if f in data}
            if "6509" in data:
                now["6509"] = data["6509"]
            before = self.sent_quotes.get(conid)
            changed = now if before is None else {k: v for k, v in now.items()
                                                   if before.get(k) != v}
            if not changed:
                continue
            self.sent_quotes[conid] = now
            self.send({"topic": f"smd+{conid}", "conid": conid, "conidEx": str(conid),
                       "_updated": data["_updated"], "server_id": data["server_id"],
                       **changed})

    def _accounts(self) -> list[str]:
        """The accounts of this login (its orders and trades are this socket's)."""
        return self.engine.broker.login_accounts(self.principal)

    def _trade_rows(self) -> list[dict[str, Any]]:
        """Every execution of the login's accounts."""
        broker = self.engine.broker
        return [row for acct in self._accounts() for row in broker.trades(acct)]

    def push_book(self) -> None:
        """Live orders (changed fields only, orderId always) and new executions."""
        if self.orders is None and self.trades is None:
            return
        broker = self.engine.broker
        broker.evaluate()
        if self.orders is not None:
            accounts = set(self._accounts())
            with broker.lock:
                rows = [render_live(o) for o in broker.orders.values() if o.account in accounts
                        and (o.status in WORKING or o.order_id in self.orders
                             or o.updated >= self.opened)]
            updates = []
            for row in rows:
                before = self.orders.get(row["orderId"])
                delta = row if before is None else {k: v for k, v in row.items()
                                                     if before.get(k) != v}
                if delta:
                    self.orders[row["orderId"]] = row
                    updates.append({"orderId": row["orderId"], **delta})
            if updates:
                self.send({"topic": "sor", "args": updates})
        if self.trades is not None:
            fresh = [t for t in self._trade_rows() if t["execution_id"] not in self.trades]
            if fresh:
                self.trades.update(t["execution_id"] for t in fresh)
                self.send({"topic": "str", "args": fresh})

    def push_pnl(self) -> None:
        """`spl`: the P&L row of each account, sent when a figure changed."""
        if self.pnl is None:
            return
        broker, market = self.engine.broker, self.engine.market
        rows: dict[str, Any] = {}
        with broker.lock:
            for acct in self._accounts():
                account = broker.accounts.get(acct)
                if account is None:
                    continue
                upl = sum(p.quantity * (market.price(p.contract.conid) - p.avg_cost)
                          for p in account.positions.values())
                value = sum(p.quantity * market.price(p.contract.conid)
                            for p in account.positions.values())
                realized = sum(p.realized for p in account.positions.values())
                rows[f"{acct}.Core"] = {"rowType": 1, "dpl": round(upl + realized, 2),
                                        "upl": round(upl, 2), "nl": round(account.cash + value, 2),
                                        "mv": round(value, 2), "el": round(account.cash, 2)}
        changed = {k: v for k, v in rows.items() if self.pnl.get(k) != v}
        if changed:
            self.pnl.update(changed)
            self.send({"topic": "spl", "args": changed})
