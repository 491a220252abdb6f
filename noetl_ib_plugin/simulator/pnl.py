"""IBKR's partitioned P&L (`GET /iserver/account/pnl/partitioned`) from positions and prices.

Every account of the login gets a row `upnl["<acct>.Core"]`: `dpl` (daily: position x (last -
prior close)), `upl` (unrealized: position x (last - average cost)), both times the contract's
multiplier, `nl` net liquidation, `el` and `uel` excess liquidity, `mv` position market value,
amounts in the account's base currency (fixed USD rates, logins.USD_PER).
"""

from __future__ import annotations

from typing import Any

from . import portfolio
from .broker import Account
from .call import Call
from .logins import USD_PER, AccountRules
from .market import Market
from .services import Services
from .whatif import multiplier

__all__ = ["partitioned", "pnl_row"]


def pnl_row(account: Account, market: Market, rules: AccountRules) -> dict[str, Any]:
    """One account's `<acct>.Core` row."""
    daily = unrealized = value = 0.0
    for pos in account.positions.values():
        conid = pos.contract.conid
        units = pos.quantity * multiplier(pos.contract)
        last = market.price(conid)
        daily += units * (last - market.prior_close(conid))
        unrealized += units * (last - pos.avg_cost)
        value += units * last
    rate = USD_PER[rules.base_currency(account.account_id)]
    summary = portfolio.summary(account, market, rules)
    excess = summary["excessliquidity"]["amount"]
    return {"rowType": 1, "dpl": round(daily / rate, 2), "upl": round(unrealized / rate, 2),
            "nl": summary["netliquidation"]["amount"], "uel": excess, "el": excess,
            "mv": round(value / rate, 2)}


def partitioned(engine: Services, call: Call) -> Any:
    """Every account of the login, keyed `<acct>.Core` (IBKR answers them all at once)."""
    broker = engine.broker
    ids = broker.login_accounts(call.who)
    with broker.lock:
        return {"upnl": {f"{a}.Core": pnl_row(broker.accounts[a], engine.market,
                                              broker.account_rules) for a in ids}}
