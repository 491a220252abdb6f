"""`GET /portfolio/{accountId}/ledger`: cash and holdings per currency plus BASE (USD) totals."""

from __future__ import annotations

from typing import Any

from .broker import Account
from .market import Market

__all__ = ["RATES", "ledger"]

#: Fixed exchange rates to the base currency (USD); the simulator does not move FX.
RATES = {"USD": 1.0, "AUD": 0.66, "GBP": 1.27}


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


def ledger(account: Account, market: Market) -> dict[str, Any]:
    """USD cash plus one entry per currency the positions are in, and BASE in USD."""
    now_s = int(market.clock())
    per: dict[str, list[float]] = {"USD": [account.cash, 0.0, 0.0, 0.0]}
    for pos in account.positions.values():
        c = pos.contract
        value = pos.quantity * market.price(c.conid)
        row = per.setdefault(c.currency, [0.0, 0.0, 0.0, 0.0])
        row[1] += value
        row[2] += value - pos.quantity * pos.avg_cost
        row[3] += pos.realized
    out: dict[str, Any] = {}
    base = [0.0, 0.0, 0.0, 0.0]
    for currency, sums in per.items():
        rate = RATES.get(currency, 1.0)
        out[currency] = _entry(account, currency, sums, rate=rate, now_s=now_s)
        for i, amount in enumerate(sums):
            base[i] += amount * rate
    out["BASE"] = _entry(account, "BASE", base, rate=1.0, now_s=now_s)
    return out
