"""Render accounts, summaries and position pages in the shapes IBKR's portfolio endpoints use."""

from __future__ import annotations

from typing import Any

from .broker import Account
from .logins import USD_PER, AccountRules
from .market import Market

__all__ = ["iserver_accounts", "iserver_summary", "portfolio2_row", "portfolio_account",
           "position_rows", "summary"]


def _is_paper(account: Account) -> bool:
    """isPaper: the DU prefix unless Simulator.set_paper_status said otherwise."""
    return account.account_id.startswith("DU") if account.is_paper is None else account.is_paper


def iserver_accounts(accounts: list[Account], selected: str,
                     rules: AccountRules) -> dict[str, Any]:
    """GET /iserver/accounts for a login's accounts (its own first) and the selected one."""
    ids = [a.account_id for a in accounts]
    return {
        "accounts": ids,
        "acctProps": {a: {"hasChildAccounts": False, "supportsCashQty": True,
                          "supportsFractions": True, "allowCustomerTime": False} for a in ids},
        "aliases": {a: a for a in ids},
        "allowFeatures": {"showGFIS": True, "allowFXConv": True, "allowTypeAhead": True},
        "chartPeriods": {"STK": ["*"]},
        "groups": [],
        "profiles": [],
        "selectedAccount": selected,
        "serverInfo": {"serverName": "ibsim", "serverVersion": "Build 10.25.0, simulator"},
        "sessionId": f"sim-{ids[0].lower()}",
        "isFT": False,
        "isPaper": _is_paper(accounts[0]),  # per login: its own account decides
    }


def portfolio_account(account: Account, rules: AccountRules) -> dict[str, Any]:
    """One entry of GET /portfolio/accounts (currency: the account's base currency)."""
    acct = account.account_id
    return {
        "id": acct, "accountId": acct, "accountVan": acct, "accountTitle": "Simulated Paper",
        "displayName": acct, "accountAlias": None, "accountStatus": 1700000000000,
        "currency": rules.base_currency(acct), "type": "DEMO", "tradingType": "PMRGN",
        "businessType": "IB_PROSERVE",
        "ibEntity": "IBLLC-US", "faclient": False, "clearingStatus": "O", "covestor": False,
        "noClientTrading": False, "trackVirtualFXPortfolio": True,
        "parent": {"mmc": [], "accountId": "", "isMParent": False, "isMChild": False,
                   "isMultiplex": False},
        "desc": acct,
    }


def _value(amount: float, now_ms: int, currency: str | None = "USD") -> dict[str, Any]:
    """A numeric summary entry."""
    return {"amount": round(amount, 2), "currency": currency, "isNull": False, "severity": 0,
            "timestamp": now_ms, "value": None}


def _figures(account: Account, market: Market, rate: float) -> dict[str, float]:
    """The summary figures in the base currency (`rate`: USD per unit of it)."""
    longs = shorts = 0.0
    for pos in account.positions.values():
        value = pos.quantity * market.price(pos.contract.conid) * pos.contract.multiplier
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
    unitless = ("cushion", "leverage")
    return {k: v if k in unitless else v / rate for k, v in figures.items()}


def summary(account: Account, market: Market, rules: AccountRules) -> dict[str, Any]:
    """GET /portfolio/{acct}/summary, with -c and -s variants for the main figures, amounts in
    the account's base currency (fixed USD rates, logins.USD_PER)."""
    now_ms = int(market.clock() * 1000)
    base = rules.base_currency(account.account_id)
    out: dict[str, Any] = {}
    for name, amount in _figures(account, market, USD_PER[base]).items():
        out[name] = _value(amount, now_ms, base)
        if name in ("netliquidation", "totalcashvalue", "availablefunds", "excessliquidity",
                    "equitywithloanvalue", "grosspositionvalue"):
            out[f"{name}-c"] = _value(amount, now_ms, base)
            out[f"{name}-s"] = _value(0.0, now_ms, base)
    for name, text in (("accountcode", account.account_id), ("accounttype", "DEMO"),
                       ("accountready", "true"), ("segmenttitle", None)):
        out[name] = {"amount": 0.0, "currency": None, "isNull": text is None, "severity": 0,
                     "timestamp": now_ms, "value": text}
    return out


def iserver_summary(account: Account, market: Market, rules: AccountRules) -> dict[str, Any]:
    """GET /iserver/account/{acct}/summary: balances and margins in the base currency."""
    base = rules.base_currency(account.account_id)
    f = _figures(account, market, USD_PER[base])
    return {
        "accountType": "DEMO", "status": "", "balance": round(f["totalcashvalue"], 2),
        "SMA": round(f["excessliquidity"], 2), "buyingPower": round(f["buyingpower"], 2),
        "availableFunds": round(f["availablefunds"], 2),
        "excessLiquidity": round(f["excessliquidity"], 2),
        "netLiquidationValue": round(f["netliquidation"], 2),
        "equityWithLoanValue": round(f["equitywithloanvalue"], 2), "regTLoan": 0.0,
        "securitiesGVP": round(f["grosspositionvalue"], 2),
        "totalCashValue": round(f["totalcashvalue"], 2), "accruedInterest": 0.0,
        "regTMargin": round(f["initmarginreq"], 2), "initialMargin": round(f["initmarginreq"], 2),
        "maintenanceMargin": round(f["maintmarginreq"], 2),
        "cashBalances": [{"currency": base, "balance": round(f["totalcashvalue"], 2),
                          "settledCash": round(f["settledcash"], 2)},
                         {"currency": "Total (in " + base + ")",
                          "balance": round(f["totalcashvalue"], 2),
                          "settledCash": round(f["settledcash"], 2)}],
    }


def portfolio2_row(row: dict[str, Any]) -> dict[str, Any]:
    """A `/portfolio2/{acct}/positions` item from a `/portfolio` positions row."""
    return {"position": row["position"], "conid": str(row["conid"]),
            "avgCost": row["avgCost"], "avgPrice": row["avgPrice"], "currency": row["currency"],
            "description": row["contractDesc"], "isLastToLoq": False,
            "marketPrice": row["mktPrice"], "marketValue": row["mktValue"],
            "realizedPnl": row["realizedPnl"], "secType": row["assetClass"], "timestamp": 0,
            "unrealizedPnl": row["unrealizedPnl"], "assetClass": row["assetClass"],
            "sector": row["sector"], "group": row["group"], "model": ""}


def position_rows(account: Account, market: Market) -> list[dict[str, Any]]:
    """Every position of the account as `GET /portfolio/{acct}/positions/{page}` items."""
    out = []
    for pos in account.positions.values():
        c = pos.contract
        price = market.price(c.conid)
        # IBKR: market value and avgCost carry the multiplier, mktPrice and avgPrice do not.
        value = pos.quantity * price * c.multiplier
        out.append({
            "acctId": account.account_id, "conid": c.conid, "contractDesc": c.symbol,
            "position": pos.quantity, "mktPrice": price, "mktValue": round(value, 2),
            "currency": c.currency, "avgCost": round(pos.avg_cost * c.multiplier, 4),
            "avgPrice": round(pos.avg_cost, 4), "realizedPnl": round(pos.realized, 2),
            "unrealizedPnl": round(value - pos.quantity * pos.avg_cost * c.multiplier, 2),
            "exchs": None, "expiry": c.expiry, "putOrCall": c.right,
            "multiplier": c.multiplier if c.sec_type != "STK" else None,
            "strike": c.strike or 0.0, "exerciseStyle": "AMERICAN" if c.right else None,
            "conExchMap": [], "assetClass": c.sec_type,
            "undConid": c.underlying or 0, "model": "", "ticker": c.symbol,
            "listingExchange": c.exchange,
            "name": c.company, "fullName": c.symbol, "hasOptions": c.currency == "USD",
            "sector": None, "group": None, "isUS": c.currency == "USD",
        })
    return out
