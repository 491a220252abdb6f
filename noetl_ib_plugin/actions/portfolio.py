"""Portfolio actions: every page of positions, and the account summary as plain numbers."""

from __future__ import annotations

from typing import Any

from ..client import IBClient
from ..common.quote_fields import as_float, as_int
from ..credentials.urls import path_segment
from ..errors import BrokerError, TransientError
from .account_scope import another_account, entries_of, names_another
from .models import AccountSummaryInput, GetPositionsInput
from .outputs.base import load_output
from .outputs.portfolio import AccountSummaryOutput, PositionsOutput
from .shapes import RETRY_FIX, expect_dict, expect_list, get_json

__all__ = ["MAX_POSITION_PAGES", "account_summary", "get_positions", "normalize_position"]

#: Safety bound: 1000 pages of 100 positions; a server that never ends the pages cannot hang us.
MAX_POSITION_PAGES = 1000

#: Output name -> IBKR summary key.
SUMMARY_FIELDS: dict[str, str] = {
    "net_liquidation": "netliquidation",
    "available_funds": "availablefunds",
    "buying_power": "buyingpower",
    "total_cash": "totalcashvalue",
    "settled_cash": "settledcash",
    "excess_liquidity": "excessliquidity",
    "equity_with_loan": "equitywithloanvalue",
    "gross_position_value": "grosspositionvalue",
    "init_margin": "initmarginreq",
    "maint_margin": "maintmarginreq",
    "accrued_cash": "accruedcash",
    "cushion": "cushion",
    "leverage": "leverage",
}


def normalize_position(item: dict[str, Any]) -> dict[str, Any]:
    """One position with numbers as numbers and this package's field names."""
    return {
        "symbol": item.get("ticker") or item.get("contractDesc"),
        "conid": as_int(item.get("conid")),
        "position": as_float(item.get("position")),
        "avg_price": as_float(item.get("avgPrice", item.get("avgCost"))),
        "avg_cost": as_float(item.get("avgCost")),
        "market_price": as_float(item.get("mktPrice")),
        "market_value": as_float(item.get("mktValue")),
        "unrealized_pnl": as_float(item.get("unrealizedPnl")),
        "realized_pnl": as_float(item.get("realizedPnl")),
        "currency": item.get("currency"),
        "asset_class": item.get("assetClass"),
        "exchange": item.get("listingExchange"),
        # A derivative's parts: IBKR's mktValue and avgCost already carry the multiplier,
        # mktPrice and avgPrice do not (an option's value is position x price x 100).
        "sec_type": item.get("assetClass") or item.get("secType"),
        "multiplier": as_float(item.get("multiplier")),
        "expiry": str(item["expiry"]) if item.get("expiry") else None,
        "strike": as_float(item.get("strike")) or None,
        "right": str(item["putOrCall"]).upper()[:1] if item.get("putOrCall") else None,
        "underlying_conid": as_int(item.get("undConid")) or None,
    }


def get_positions(client: IBClient, inp: GetPositionsInput) -> PositionsOutput:
    """`GET /portfolio/{acct}/positions/{page}` from page 0 until an empty page, after
    `POST /portfolio/{acct}/positions/invalidate`: IBKR caches the pages, so without it a fill
    of a moment ago is missing (ibkr-web-api.md s.13). BrokerError when a page names another account."""
    account = inp.account_id or client.account_id
    client.post(f"/portfolio/{path_segment(account)}/positions/invalidate", idempotent=True)
    positions: list[dict[str, Any]] = []
    for page in range(MAX_POSITION_PAGES):
        endpoint = f"/portfolio/{path_segment(account)}/positions/{page}"
        items = expect_list(get_json(client, endpoint), endpoint)
        if not items:
            break
        mine, honest = entries_of(items, account)
        if not honest:
            raise another_account(f"GET {endpoint}", account, "positions")
        positions.extend(normalize_position(i) for i in mine)
    else:
        raise BrokerError(
            f"positions did not end after {MAX_POSITION_PAGES} pages",
            fix="report this: IBKR kept returning non-empty pages.",
        )
    return load_output(PositionsOutput, {"account_id": account, "positions": positions,
                                         "count": len(positions)}, "get_positions")


def _amount(entry: Any) -> Any:
    """Numbers sit in `amount`, text in `value`; isNull means no value."""
    if not isinstance(entry, dict) or entry.get("isNull"):
        return None
    if entry.get("value") not in (None, ""):
        number = as_float(entry.get("value"))
        return number if number is not None else entry.get("value")
    return as_float(entry.get("amount"))


def account_summary(client: IBClient, inp: AccountSummaryInput) -> AccountSummaryOutput:
    """`GET /portfolio/{acct}/summary` reduced to the figures people ask for (plus all of them)."""
    account = inp.account_id or client.account_id
    endpoint = f"/portfolio/{path_segment(account)}/summary"
    body = expect_dict(get_json(client, endpoint), endpoint)
    if not any(isinstance(v, dict) for v in body.values()):
        # `{"message": ...}` is an object too, but not one of `{"amount", "value", ...}` entries.
        raise TransientError(
            f"GET {endpoint}: expected summary entries ({{\"amount\", \"value\", ...}}), IBKR "
            f"answered {' '.join(str(body).split())[:160]!r}",
            status=200,
            fix=RETRY_FIX,
        )
    code = body.get("accountcode")
    if isinstance(code, dict) and names_another(code.get("value"), account):
        raise another_account(f"GET {endpoint}", account, "summary")
    out: dict[str, Any] = {"account_id": account}
    for name, key in SUMMARY_FIELDS.items():
        out[name] = _amount(body.get(key))
    currency = None
    for key in ("netliquidation", "totalcashvalue", "availablefunds"):
        entry = body.get(key)
        if isinstance(entry, dict) and entry.get("currency"):
            currency = entry["currency"]
            break
    out["currency"] = currency
    out["values"] = {
        key: _amount(entry) for key, entry in sorted(body.items()) if not key.endswith(("-c", "-s"))
    }
    return load_output(AccountSummaryOutput, out, "account_summary")
