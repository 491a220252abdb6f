"""Render accounts, summaries and position pages in the shapes IBKR's portfolio endpoints use."""

from __future__ import annotations

from typing import Any

from .broker import Account
from .market import Market

__all__ = ["iserver_accounts", "portfolio_accounts", "positions_page", "summary"]


def iserver_accounts(account: Account) -> dict[str, Any]:
    """GET /iserver/accounts for a single paper account."""
    acct = account.account_id
    return {
        "accounts": [acct],
        "acctProps": {acct: {"hasChildAccounts": False, "supportsCashQty": True,
                             "supportsFractions": False, "allowCustomerTime": False}},
        "aliases": {acct: acct},
        "allowFeatures": {"showGFIS": True, "allowFXConv": True, "allowTypeAhead": True},
        "chartPeriods": {"STK": ["*"]},
        "groups": [],
        "profiles": [],
        "selectedAccount": acct,
        "serverInfo": {"serverName": "ibsim", "serverVersion": "Build 10.25.0, simulator"},
        "sessionId": f"sim-{acct.lower()}",
        "isFT": False,
        "isPaper": acct.startswith("DU") if account.is_paper is None else account.is_paper,
    }


def portfolio_accounts(account: Account) -> list[dict[str, Any]]:
    """GET /portfolio/accounts."""
    acct = account.account_id
    return [{
        "id": acct, "accountId": acct, "accountVan": acct, "accountTitle": "Simulated Paper",
        "displayName": acct, "accountAlias": None, "accountStatus": 1700000000000,
        "currency": "USD", "type": "DEMO", "tradingType": "PMRGN", "businessType": "IB_PROSERVE",
        "ibEntity": "IBLLC-US", "faclient": False, "clearingStatus": "O", "covestor": False,
        "noClientTrading": False, "trackVirtualFXPortfolio": True,
        "parent": {"mmc": [], "accountId": "", "isMParent": False, "isMChild": False,
                   "isMultiplex": False},
        "desc": acct,
    }]


def _value(amount: float, now_ms: int, currency: str | None = "USD") -> dict[str, Any]:
    """A numeric summary entry."""
    return {"amount": round(amount, 2), "currency": currency, "isNull": False, "severity": 0,
            "timestamp": now_ms, "value": None}


def summary(account: Account, market: Market) -> dict[str, Any]:
    """GET /portfolio/{acct}/summary, with -c and -s variants for the main figures."""
    now_ms = int(market.clock() * 1000)
    longs = shorts = 0.0
    for pos in account.positions.values():
        value = pos.quantity * market.price(pos.contract.conid)
        if value >= 0:
            longs += value
        else:
            shorts += value
    gross = longs - shorts
    netliq = account.cash + longs + shorts
    margin = 0.25 * gross
    available = netliq - margin
    figures = {
        "netliquidation": netliq, "totalcashvalue": account.cash, "settledcash": account.cash,
        "grosspositionvalue": gross, "equitywithloanvalue": netliq, "availablefunds": available,
        "excessliquidity": netliq - margin, "buyingpower": 4 * available,
        "initmarginreq": margin, "maintmarginreq": margin, "fullinitmarginreq": margin,
        "fullmaintmarginreq": margin, "fullavailablefunds": available,
        "fullexcessliquidity": netliq - margin, "accruedcash": 0.0, "cushion": 1.0,
        "leverage": gross / netliq if netliq else 0.0, "previousdayequitywithloanvalue": netliq,
    }
    out: dict[str, Any] = {}
    for name, amount in figures.items():
        out[name] = _value(amount, now_ms)
        if name in ("netliquidation", "totalcashvalue", "availablefunds", "excessliquidity",
                    "equitywithloanvalue", "grosspositionvalue"):
            out[f"{name}-c"] = _value(amount, now_ms)
            out[f"{name}-s"] = _value(0.0, now_ms)
    for name, text in (("accountcode", account.account_id), ("accounttype", "DEMO"),
                       ("accountready", "true"), ("segmenttitle", None)):
        out[name] = {"amount": 0.0, "currency": None, "isNull": text is None, "severity": 0,
                     "timestamp": now_ms, "value": text}
    return out


def positions_page(account: Account, market: Market, page: int, size: int) -> list[dict[str, Any]]:
    """GET /portfolio/{acct}/positions/{page}: `size` per page from 0; empty past the end."""
    items = list(account.positions.values())[page * size:(page + 1) * size]
    out = []
    for pos in items:
        c = pos.contract
        price = market.price(c.conid)
        value = pos.quantity * price
        out.append({
            "acctId": account.account_id, "conid": c.conid, "contractDesc": c.symbol,
            "position": pos.quantity, "mktPrice": price, "mktValue": round(value, 2),
            "currency": c.currency, "avgCost": round(pos.avg_cost, 4),
            "avgPrice": round(pos.avg_cost, 4), "realizedPnl": round(pos.realized, 2),
            "unrealizedPnl": round(value - pos.quantity * pos.avg_cost, 2),
            "exchs": None, "expiry": None, "putOrCall": None, "multiplier": None,
            "strike": 0.0, "exerciseStyle": None, "conExchMap": [], "assetClass": "STK",
            "undConid": 0, "model": "", "ticker": c.symbol, "listingExchange": c.exchange,
            "name": c.company, "fullName": c.symbol, "hasOptions": c.currency == "USD",
            "sector": None, "group": None, "isUS": c.currency == "USD",
        })
    return out
