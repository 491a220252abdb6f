"""Routes for several accounts per login, cached positions and what an ibind-ported bot calls.

`GET /iserver/accounts` and `/portfolio/accounts` list every account of the login;
`POST /iserver/account` switches the selected one; `/portfolio/{acct}/positions/{page}` answers
from a cache until `POST .../positions/invalidate` (`/portfolio2/{acct}/positions` is fresh);
`GET /iserver/account/{acct}/summary` and `GET /trsrv/stocks` answer in IBKR's shapes
(ibkr-web-api.md s.4, s.13; IBKR Web API reference as quoted by ibind 0.2.2's mixins).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from . import portfolio
from .call import Call
from .common import ApiError, Response

if TYPE_CHECKING:
    from .services import Services

__all__ = [
    "end_history",
    "invalidate_positions",
    "iserver_account_summary",
    "iserver_accounts",
    "portfolio2_positions",
    "portfolio_accounts",
    "positions",
    "start_history",
    "switch_account",
    "trsrv_stocks",
]

TOO_MANY_HISTORY = {"error": "Too many requests: at most 5 market data history requests in "
                             "flight", "statusCode": 429}


def iserver_accounts(engine: Services, call: Call) -> Any:
    """List the login's brokerage accounts (`{}` while the bridge warms up)."""
    broker = engine.broker
    if not broker.accounts_ready(call.sess):
        return {}
    ids = broker.login_accounts(call.who)
    with broker.lock:
        accounts = [broker.accounts[a] for a in ids]
        selected = call.sess.selected or call.who.account_id
    return portfolio.iserver_accounts(accounts, selected, broker.account_rules)


def portfolio_accounts(engine: Services, call: Call) -> Any:
    """List portfolio accounts (every account of the login)."""
    broker = engine.broker
    ids = broker.login_accounts(call.who)
    with broker.lock:
        return [portfolio.portfolio_account(broker.accounts[a], broker.account_rules)
                for a in ids]


def positions(engine: Services, call: Call) -> Any:
    """One page of positions, from IBKR's cache when `positions_cached` (filled on first read)."""
    broker = engine.broker
    account = broker.account_for(call.who, call.args[0])
    size = engine.positions_page_size
    page = int(call.args[1])
    with broker.lock:
        rows = broker.position_cache.get(account.account_id) \
            if broker.account_rules.positions_cached else None
        if rows is None:
            rows = portfolio.position_rows(account, engine.market)
            if broker.account_rules.positions_cached:
                broker.position_cache[account.account_id] = rows
        return rows[page * size:(page + 1) * size]


def invalidate_positions(engine: Services, call: Call) -> Any:
    """POST /portfolio/{acct}/positions/invalidate: drop the account's positions cache."""
    account = engine.broker.account_for(call.who, call.args[0])
    with engine.broker.lock:
        engine.broker.position_cache.pop(account.account_id, None)
    return {"message": "success"}


def portfolio2_positions(engine: Services, call: Call) -> Any:
    """GET /portfolio2/{acct}/positions: every position, never cached (IBKR's near-real-time)."""
    account = engine.broker.account_for(call.who, call.args[0])
    with engine.broker.lock:
        return [portfolio.portfolio2_row(row)
                for row in portfolio.position_rows(account, engine.market)]


def switch_account(engine: Services, call: Call) -> Any:
    """POST /iserver/account: `acctId` in the JSON body or the query (ibind sends the query)."""
    body = call.req.json() if call.req.body else {}
    if not (isinstance(body, dict) and body.get("acctId")):
        body = {"acctId": call.req.params().get("acctId", "")}
    return engine.broker.select_account(call.who, call.sess, body)


def iserver_account_summary(engine: Services, call: Call) -> Any:
    """GET /iserver/account/{acct}/summary: the trading-side summary IBKR's docs show."""
    broker = engine.broker
    account = broker.account_for(call.who, call.args[0])
    with broker.lock:
        return portfolio.iserver_summary(account, engine.market, broker.account_rules)


def trsrv_stocks(engine: Services, call: Call) -> Any:
    """GET /trsrv/stocks?symbols=A,B: per symbol, one entry per company with its listings."""
    symbols = [s.strip().upper() for s in call.req.params().get("symbols", "").split(",")
               if s.strip()]
    if not symbols:
        raise ApiError(400, {"error": "Bad Request: symbols required", "statusCode": 400})
    out: dict[str, Any] = {}
    for symbol in symbols:
        companies: dict[str, dict[str, Any]] = {}
        for c in engine.market.contracts.values():
            if c.search and c.symbol == symbol and c.sec_type == "STK":
                entry = companies.setdefault(c.company, {
                    "name": c.company, "chineseName": None, "assetClass": "STK",
                    "contracts": []})
                entry["contracts"].append({"conid": c.conid, "exchange": c.exchange,
                                           "isUS": c.currency == "USD"})
        out[symbol] = list(companies.values())
    return out


def start_history(engine: Services, call: Call) -> Response | None:
    """Count one history request in flight for the username; a 429 past `history_limit`."""
    broker = engine.broker
    with broker.lock:
        busy = broker.history_in_flight.get(call.who.username, 0)
        if busy >= broker.account_rules.history_limit:
            engine.stats.incr("history_rate_limited")
            return Response(429, dict(TOO_MANY_HISTORY))
        broker.history_in_flight[call.who.username] = busy + 1
        engine.stats.peak("history_in_flight_max", busy + 1)
        delay = broker.account_rules.history_delay_s
    if delay:
        time.sleep(delay)
    return None


def end_history(engine: Services, call: Call) -> None:
    """The history request finished: free its slot."""
    with engine.broker.lock:
        left = engine.broker.history_in_flight.get(call.who.username, 1) - 1
        engine.broker.history_in_flight[call.who.username] = max(0, left)
