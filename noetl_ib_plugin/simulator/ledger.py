"""`GET /portfolio/{accountId}/ledger`: cash and holdings per currency plus BASE (USD) totals."""

from __future__ import annotations

from typing import Any

from .broker import Account
from .logins import USD_PER
from .market import Market

__all__ = ["ledger"]


def _entry(account: Account, currency: str, sums: list[float], *, rate: float,
           now_s: int) -> dict[str, Any]:
    """One ledger entry in IBKR's field names (numbers as numbers, timestamp in seconds).

    `sums` is [cash, stock market value, unrealized P&L, realized P&L] in `currency`.
    """
    cash, stock, unrealized, realized = sums
    return {
        "commoditymarketvalue": 0.0, "futuremarketvalue": 0.0, "settledcash": round(cash, 2),
        "exchangerate": rate, "sessionid": 1, "cashbalance": round(cash, 2),
        "corporatebondsmarketvalue": 0.0, "warrantsmarketvalue": 0.0,
        "netliquidationvalue": round(cash + stock, 2), "interest": 0.0,
        "unrealizedpnl": round(unrealized, 2), "stockmarketvalue": round(stock, 2),
        "moneyfunds": 0.0, "currency": currency, "realizedpnl": round(realized, 2),
        "funds": 0.0, "acctcode": account.account_id, "issueroptionsmarketvalue": 0.0,
        "key": "LedgerList", "timestamp": now_s, "severity": 0, "stockoptionmarketvalue": 0.0,
        "futuresonlypnl": 0.0, "tbondsmarketvalue": 0.0, "futureoptionmarketvalue": 0.0,
        "cashbalancefxsegment": 0.0, "secondkey": currency, "tbillsmarketvalue": 0.0,
        "endofbundle": 1, "dividends": 0.0, "cryptocurrencyvalue": 0.0,
    }


def ledger(account: Account, market: Market, base_currency: str = "USD") -> dict[str, Any]:
    """Cash in the base currency plus one entry per currency the positions are in, and BASE
    (IBKR's key for the totals) in the base currency at fixed rates (logins.USD_PER)."""
    now_s = int(market.clock())
    base_usd = USD_PER[base_currency]
    per: dict[str, list[float]] = {base_currency: [account.cash / base_usd, 0.0, 0.0, 0.0]}
    for pos in account.positions.values():
        c = pos.contract
        value = pos.quantity * market.price(c.conid) * c.multiplier
        row = per.setdefault(c.currency, [0.0, 0.0, 0.0, 0.0])
        row[1] += value
        row[2] += value - pos.quantity * pos.avg_cost * c.multiplier
        row[3] += pos.realized
    out: dict[str, Any] = {}
    base = [0.0, 0.0, 0.0, 0.0]
    for currency, sums in per.items():
        rate = USD_PER.get(currency, 1.0) / base_usd
        out[currency] = _entry(account, currency, sums, rate=rate, now_s=now_s)
        for i, amount in enumerate(sums):
            base[i] += amount * rate
    out["BASE"] = _entry(account, "BASE", base, rate=1.0, now_s=now_s)
    return out
