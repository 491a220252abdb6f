"""The trading routes under /v1/api (plus the two OAuth 2.0 endpoints), as a route table."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from . import accounts_api, order_modify, pnl, portfolio, whatif
from . import history as history_data
from . import ledger as ledger_data
from .auth import tickle_session
from .broker import BrokerSession
from .call import Call
from .common import ApiError, Request, Response
from .derivatives import futures as futures_data
from .derivatives import secdef_info as secdef_info_data
from .derivatives import sections as sections_of
from .derivatives import strikes as strikes_data
from .services import Services

__all__ = ["ROUTES", "Call", "Route", "match"]

SERVER_INFO = {"serverName": "ibsim", "serverVersion": "Build 10.25.0, simulator"}


Handler = Callable[[Services, Call], Any]


@dataclass(frozen=True)
class Route:
    """One endpoint: methods, path pattern, stats name, pacing classes and bridge requirement."""

    methods: frozenset[str]
    pattern: re.Pattern[str]
    name: str
    handler: Handler
    public: bool = False
    bridge: bool = False
    pace: tuple[str, ...] = ()


def _auth_status(session: BrokerSession) -> dict[str, Any]:
    """The authStatus object shared by ssodh/init, auth/status and tickle."""
    return {"authenticated": session.bridge, "competing": session.competing, "connected": True,
            "message": "", "MAC": "98:F2:B3:23:BF:A0", "serverInfo": SERVER_INFO, "fail": ""}


def _user_id(username: str) -> int:
    """A stable numeric user id per username."""
    return 10_000_000 + int(hashlib.sha256(username.encode()).hexdigest()[:6], 16)


def oauth2_token(engine: Services, call: Call) -> Any:
    """POST /oauth2/api/v1/token."""
    engine.stats.incr("oauth2_token_requests")
    form = dict(parse_qsl(call.req.body.decode("utf-8", "replace"), keep_blank_values=True))
    return engine.auth.issue_access_token(form)


def sso_session(engine: Services, call: Call) -> Any:
    """POST /gw/api/v1/sso-sessions."""
    engine.stats.incr("sso_session_requests")
    return engine.auth.open_sso_session(
        call.req.header("authorization"), call.req.header("content-type"), call.req.body,
        call.req.client_ip,
    )


def live_session_token(engine: Services, call: Call) -> Any:
    """POST /v1/api/oauth/live_session_token."""
    engine.stats.incr("lst_requests")
    return engine.auth.live_session_token(call.req.method, call.req.path,
                                          call.req.header("authorization"))


def ssodh_init(engine: Services, call: Call) -> Any:
    """Open the brokerage session for this token."""
    engine.stats.incr("ssodh_init_requests")
    return _auth_status(engine.broker.open_bridge(call.who, _compete(call.req)))


def _compete(req: Request) -> bool:
    """`compete` from the JSON body or the query string (IBKR accepts both); absent means false."""
    body = req.json() if req.body else {}
    value = body.get("compete") if isinstance(body, dict) else None
    if value is None:
        value = req.params().get("compete")
    return value is True or str(value).lower() == "true"


def auth_status(engine: Services, call: Call) -> Any:
    """Report whether the brokerage session is open."""
    return _auth_status(call.sess)


def tickle(engine: Services, call: Call) -> Any:
    """Keep-alive; also reports the session."""
    remaining = max(0, int((call.who.expires_at - engine.clock()) * 1000))
    return {"session": tickle_session(call.who.token_id),
            "ssoExpires": remaining, "collission": False, "userId": _user_id(call.who.username),
            "hmds": {"error": "no bridge"} if not call.sess.bridge else {"authStatus": "ok"},
            "iserver": {"authStatus": _auth_status(call.sess)}}


def sso_validate(engine: Services, call: Call) -> Any:
    """Validate the SSO token."""
    now = engine.clock()
    who = call.who
    return {"USER_ID": _user_id(who.username), "USER_NAME": who.username, "RESULT": True,
            "AUTH_TIME": int(now * 1000), "SF_ENABLED": False, "IS_FREE_TRIAL": False,
            "CREDENTIAL": who.username, "IP": "127.0.0.1",
            "EXPIRES": max(0, int((who.expires_at - now) * 1000)),
            "QUALIFIED_FOR_MOBILE_AUTH": None, "LANDING_APP": "UNIVERSAL", "IS_MASTER": False,
            "lastAccessed": int(now * 1000),
            "LOGIN_TYPE": 2 if who.account_id.startswith("DU") else 1,
            "PAPER_USER_NAME": who.username, "features": {"env": "PROD", "wlms": True},
            "region": "NJ"}


def logout(engine: Services, call: Call) -> Any:
    """End the brokerage session (the token itself stays valid)."""
    with engine.broker.lock:
        call.sess.close()
    return {"status": True}


def account_summary(engine: Services, call: Call) -> Any:
    """Account summary figures (in the account's base currency)."""
    account = engine.broker.account_for(call.who, call.args[0])
    with engine.broker.lock:
        return portfolio.summary(account, engine.market, engine.broker.account_rules)


def secdef_search(engine: Services, call: Call) -> Any:
    """Search listings by symbol (GET query or POST JSON body)."""
    params: dict[str, Any] = call.req.params()
    if call.req.method == "POST":
        body = call.req.json()
        params.update(body if isinstance(body, dict) else {})
    symbol = str(params.get("symbol", "")).strip().upper()
    sec_type = str(params.get("secType") or "STK").upper()
    if not symbol:
        raise ApiError(400, {"error": "Bad Request: symbol required", "statusCode": 400})
    by_name = str(params.get("name", "")).lower() == "true"
    out = []
    for c in engine.market.contracts.values():
        if not c.search:
            continue
        if c.symbol == symbol or (by_name and c.company.upper().startswith(symbol)):
            sections = sections_of(c, engine.market.contracts)
            # IBKR answers a derivative type with the *underlying* whose sections name it.
            if sec_type not in {s["secType"] for s in sections}:
                continue
            out.append({"conid": str(c.conid), "companyHeader": f"{c.company} - {c.exchange}",
                        "companyName": c.company, "symbol": c.symbol, "description": c.exchange,
                        "restricted": None, "fop": None, "opt": None, "war": None,
                        "sections": [dict(s) for s in sections]})
    return out


def contract_info(engine: Services, call: Call) -> Any:
    """Contract details by conid."""
    contract = engine.market.contracts.get(int(call.args[0]))
    if contract is None:
        raise ApiError(500, {"error": f"Invalid conid: {call.args[0]}", "statusCode": 500})
    info = {"con_id": contract.conid, "conid": contract.conid, "symbol": contract.symbol,
            "exchange": contract.exchange, "listing_exchange": contract.exchange,
            "currency": contract.currency, "company_name": contract.company,
            "local_symbol": contract.symbol, "instrument_type": contract.sec_type,
            "secType": contract.sec_type,
            "valid_exchanges": f"SMART,{contract.exchange}"}
    if contract.expiry:
        # IBKR's contract info of a derivative: no strike or right (those come from secdef/info).
        info.update({"maturity_date": contract.expiry, "contract_month": contract.expiry[:6],
                     "multiplier": f"{contract.multiplier:g}",
                     "underlying_con_id": contract.underlying,
                     "trading_class": contract.trading_class})
    return info


def secdef_strikes(engine: Services, call: Call) -> Any:
    """Strikes of an underlying's option month (simulator/derivatives.py)."""
    return strikes_data(engine.market.contracts, call.req.params())


def secdef_info(engine: Services, call: Call) -> Any:
    """Contracts of (underlying, month, strike, right) (simulator/derivatives.py)."""
    return secdef_info_data(engine.market.contracts, call.req.params())


def trsrv_futures(engine: Services, call: Call) -> Any:
    """Futures of each symbol (simulator/derivatives.py)."""
    return futures_data(engine.market.contracts, call.req.params())


def snapshot(engine: Services, call: Call) -> Any:
    """Market data snapshot with the per-session pre-flight."""
    params = call.req.params()
    try:
        conids = [int(c) for c in params.get("conids", "").split(",") if c.strip()]
    except ValueError:
        raise ApiError(400, {"error": "Bad Request: invalid conids", "statusCode": 400}) from None
    if not conids or len(conids) > 100:
        raise ApiError(400, {"error": "Bad Request: 1 to 100 conids required", "statusCode": 400})
    fields = [f.strip() for f in params.get("fields", "").split(",") if f.strip()]
    out = []
    with engine.broker.lock:
        for conid in conids:
            if conid not in engine.market.contracts:
                out.append({"conid": conid, "conidEx": str(conid)})
                continue
            if conid not in call.sess.snapshot_conids:
                call.sess.snapshot_conids.add(conid)
                out.append({"conid": conid, "conidEx": str(conid)})
                continue
            data = engine.market.staged_snapshot_fields(
                (call.sess.token_id, call.sess.opened_at), conid,
                delayed=call.who.account_id in engine.broker.account_rules.delayed_accounts)
            keep = {"conid", "conidEx", "_updated", "server_id", *fields} if fields else set(data)
            out.append({k: v for k, v in data.items() if k in keep})
    return out


def place_order(engine: Services, call: Call) -> Any:
    """Place one order (maybe answered by a question)."""
    return engine.broker.place(call.who, call.args[0], call.req.json(), call.order_faults,
                               call.inactive_reason)


def reply(engine: Services, call: Call) -> Any:
    """Answer a question."""
    body = call.req.json()
    confirmed = isinstance(body, dict) and body.get("confirmed") is True
    return engine.broker.reply(call.who, call.args[0], confirmed, call.order_faults,
                               call.inactive_reason)


def modify_order(engine: Services, call: Call) -> Any:
    """Modify a working order (maybe answered by a question)."""
    return order_modify.modify_order(engine.broker, call.who, call.args[0], call.args[1],
                                     body=call.req.json(), flags=call.order_faults)


def live_orders(engine: Services, call: Call) -> Any:
    """Orders of the day, with pre-flight."""
    params = call.req.params()
    filters = {f.strip() for f in params.get("filters", "").split(",") if f.strip()}
    force = params.get("force", "").lower() == "true"
    given = params.get("accountId") or None
    account = engine.broker.scoped_account(call.who, call.sess, given)
    return engine.broker.live_orders(call.sess, account, filters, force,
                                     engine.faults.plan.live_orders_lag_s,
                                     account_given=given is not None)


def cancel_order(engine: Services, call: Call) -> Any:
    """Cancel an order."""
    return engine.broker.cancel(call.who, call.args[0], call.args[1])


def trades(engine: Services, call: Call) -> Any:
    """Executions of the last `days` (default 1, at most 7)."""
    params = call.req.params()
    days = params.get("days", "1")
    account = engine.broker.scoped_account(call.who, call.sess, params.get("accountId") or None)
    return engine.broker.trades(account, int(days) if days.isdigit() else 1)


def order_status(engine: Services, call: Call) -> Any:
    """One order by id."""
    return engine.broker.order_status(call.who, call.args[0])


def suppress_questions(engine: Services, call: Call) -> Any:
    """Suppress question ids for this session."""
    return engine.broker.suppress(call.who, call.req.json())


def suppress_reset(engine: Services, call: Call) -> Any:
    """Undo every suppression of this session."""
    return engine.broker.suppress_reset(call.who)


def history(engine: Services, call: Call) -> Any:
    """Historical bars (simulator/history.py); a 429 past `history_limit` in flight."""
    refused = accounts_api.start_history(engine, call)
    if refused is not None:
        return refused
    try:
        return history_data.history(engine.market, call.req.params())
    finally:
        accounts_api.end_history(engine, call)


def ledger(engine: Services, call: Call) -> Any:
    """Cash per currency (simulator/ledger.py)."""
    account = engine.broker.account_for(call.who, call.args[0])
    with engine.broker.lock:
        return ledger_data.ledger(account, engine.market,
                                  engine.broker.account_rules.base_currency(account.account_id))


def _r(methods: str, path: str, handler: Handler, **kw: Any) -> Route:
    """Build a route from a readable template ({x} matches one path segment)."""
    regex = re.sub(r"\{[a-z_]+\}", r"([^/]+)", path)
    return Route(frozenset(methods.split("|")), re.compile(f"^{regex}/?$"), path, handler, **kw)


ROUTES: list[Route] = [
    _r("POST", "/oauth2/api/v1/token", oauth2_token, public=True),
    _r("POST", "/gw/api/v1/sso-sessions", sso_session, public=True),
    _r("POST", "/v1/api/oauth/live_session_token", live_session_token, public=True),
    _r("POST", "/v1/api/iserver/auth/ssodh/init", ssodh_init),
    _r("POST", "/v1/api/iserver/reauthenticate", ssodh_init),
    _r("GET|POST", "/v1/api/iserver/auth/status", auth_status),
    _r("GET|POST", "/v1/api/tickle", tickle, pace=("tickle",)),
    _r("GET", "/v1/api/sso/validate", sso_validate, pace=("sso_validate",)),
    _r("GET|POST", "/v1/api/logout", logout),
    _r("GET", "/v1/api/iserver/accounts", accounts_api.iserver_accounts, bridge=True),
    _r("POST", "/v1/api/iserver/account", accounts_api.switch_account, bridge=True),
    _r("GET", "/v1/api/iserver/account/{acct}/summary", accounts_api.iserver_account_summary,
       bridge=True),
    _r("GET", "/v1/api/portfolio/accounts", accounts_api.portfolio_accounts,
       pace=("portfolio_accounts",)),
    _r("GET", "/v1/api/portfolio/{acct}/summary", account_summary),
    _r("POST", "/v1/api/portfolio/{acct}/positions/invalidate",
       accounts_api.invalidate_positions),
    _r("GET", "/v1/api/portfolio/{acct}/positions/{page}", accounts_api.positions),
    _r("GET", "/v1/api/portfolio2/{acct}/positions", accounts_api.portfolio2_positions),
    _r("GET", "/v1/api/trsrv/stocks", accounts_api.trsrv_stocks),
    _r("GET", "/v1/api/portfolio/{acct}/ledger", ledger),
    _r("GET|POST", "/v1/api/iserver/secdef/search", secdef_search, bridge=True),
    _r("GET", "/v1/api/iserver/contract/{conid}/info", contract_info, bridge=True),
    _r("GET", "/v1/api/iserver/secdef/strikes", secdef_strikes, bridge=True),
    _r("GET", "/v1/api/iserver/secdef/info", secdef_info, bridge=True),
    _r("GET", "/v1/api/trsrv/futures", trsrv_futures),
    _r("GET", "/v1/api/iserver/marketdata/snapshot", snapshot, bridge=True, pace=("snapshot",)),
    _r("GET", "/v1/api/iserver/marketdata/history", history, bridge=True),
    _r("POST", "/v1/api/iserver/account/{acct}/orders", place_order, bridge=True),
    _r("POST", "/v1/api/iserver/reply/{id}", reply, bridge=True),
    _r("GET", "/v1/api/iserver/account/orders", live_orders, bridge=True, pace=("live_orders",)),
    _r("DELETE", "/v1/api/iserver/account/{acct}/order/{id}", cancel_order, bridge=True),
    _r("POST", "/v1/api/iserver/account/{acct}/order/{id}", modify_order, bridge=True),
    _r("GET", "/v1/api/iserver/account/trades", trades, bridge=True, pace=("trades",)),
    _r("GET", "/v1/api/iserver/account/order/status/{id}", order_status, bridge=True),
    _r("POST", "/v1/api/iserver/questions/suppress", suppress_questions, bridge=True),
    _r("POST", "/v1/api/iserver/questions/suppress/reset", suppress_reset, bridge=True),
    # What-if preview (simulator/whatif.py) and partitioned P&L (simulator/pnl.py).
    _r("POST", "/v1/api/iserver/account/{acct}/orders/whatif", whatif.whatif, bridge=True),
    _r("GET", "/v1/api/iserver/account/pnl/partitioned", pnl.partitioned, bridge=True,
       pace=("pnl",)),
]


def match(method: str, path: str) -> tuple[Route, tuple[str, ...]] | None:
    """Find the route for a request; positions/{page} and conids must be numeric."""
    for route in ROUTES:
        found = route.pattern.match(path)
        if found and method in route.methods:
            args = found.groups()
            if route.handler in (accounts_api.positions, contract_info) and \
                    not args[-1].isdigit():
                return None
            return route, args
    return None


def not_found(path: str) -> Response:
    """IBKR answers unknown paths with 404."""
    return Response(404, {"error": f"Not Found: {path}", "statusCode": 404})
