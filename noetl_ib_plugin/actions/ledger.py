"""The ledger action: cash balances per currency from `GET /portfolio/{accountId}/ledger`.

IBKR answers an object keyed by currency (`USD`, `AUD`, ...) plus `BASE`, the totals in the
account's base currency; amounts are numbers, `timestamp` is epoch seconds.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..client import IBClient
from ..common.quote_fields import as_float, as_int
from ..credentials.urls import path_segment
from ..errors import BrokerError
from .account_scope import another_account, names_another
from .history import epoch_iso
from .models import ACCOUNT_PATTERN
from .outputs.base import load_output
from .outputs.portfolio import LedgerOutput

__all__ = ["LedgerInput", "ledger"]

#: Output name -> IBKR ledger key.
LEDGER_FIELDS = {
    "cash": "cashbalance",
    "settled_cash": "settledcash",
    "net_liquidation": "netliquidationvalue",
    "stock_market_value": "stockmarketvalue",
    "unrealized_pnl": "unrealizedpnl",
    "realized_pnl": "realizedpnl",
    "exchange_rate": "exchangerate",
    "interest": "interest",
    "dividends": "dividends",
}


class LedgerInput(BaseModel):
    """Cash balances of the account, one entry per currency held."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    account_id: str | None = Field(
        default=None, max_length=32, pattern=ACCOUNT_PATTERN,
        description="override the credential's account",
    )


def _timestamp(value: Any) -> str | None:
    """Epoch seconds (or milliseconds) as ISO-8601 UTC."""
    stamp = as_int(value)
    if stamp is None or stamp <= 0:
        return None
    seconds = stamp / 1000 if stamp > 10**11 else stamp
    return epoch_iso(seconds)


def ledger(client: IBClient, inp: LedgerInput) -> LedgerOutput:
    """Currencies sorted with BASE first; raises BrokerError when IBKR answers with an error."""
    account = inp.account_id or client.account_id
    body = client.get(f"/portfolio/{path_segment(account)}/ledger")
    if not isinstance(body, dict) or body.get("error"):
        detail = body.get("error") if isinstance(body, dict) else str(body)[:200]
        raise BrokerError(f"reading the ledger failed: {detail}", field="account_id")
    if any(isinstance(e, dict) and names_another(e.get("acctcode"), account)
           for e in body.values()):
        raise another_account(f"GET /portfolio/{account}/ledger", account, "balances")
    currencies = []
    base_currency = None
    for key in sorted(body, key=lambda k: (k != "BASE", k)):
        entry = body[key]
        if not isinstance(entry, dict):
            continue
        row: dict[str, Any] = {"currency": key}
        for name, source in LEDGER_FIELDS.items():
            row[name] = as_float(entry.get(source))
        row["timestamp"] = _timestamp(entry.get("timestamp"))
        currencies.append(row)
        if key == "BASE" and isinstance(entry.get("currency"), str):
            base_currency = entry["currency"]
    if base_currency is None or base_currency == "BASE":
        rates = [r for r in currencies if r["currency"] != "BASE" and r["exchange_rate"] == 1.0]
        base_currency = rates[0]["currency"] if len(rates) == 1 else None
    return load_output(LedgerOutput, {"account_id": account, "base_currency": base_currency,
                                      "currencies": currencies}, "ledger")
