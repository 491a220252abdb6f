"""IBKR's order preview (`POST /iserver/account/{acct}/orders/whatif`), computed, never placed.

The ticket is checked as placement checks it (an unknown contract, a bad field: IBKR's
`{"error": ...}`); the answer is IBKR's what-if shape with figures as text: `amount` (value,
commission, total in the contract's currency), `equity`, `initial`, `maintenance` (account base
currency) and `position`, each `{"current", "change", "after"}`, plus `warn` and `error`.
Commission follows IBKR Pro fixed pricing: USD 0.005 per share, at least 1.00, at most 1 % of
the order's value. The questions a placement would ask go into `warn`; with the
`whatif_questions` option they are asked instead, and registered like a placement's, so a
client that confirms one submits the order (the simulator assumes the worst of a reply).
"""

from __future__ import annotations

from typing import Any

from . import portfolio
from .broker import Account
from .call import Call
from .logins import USD_PER, AccountRules
from .market import Contract, Market
from .orders import Order, OrderRejectedError, parse_ticket
from .questions import questions_for
from .services import Services

__all__ = ["MARGIN_RATE", "commission", "multiplier", "preview", "whatif"]

COMMISSION_PER_SHARE = 0.005
MIN_COMMISSION = 1.0
MAX_COMMISSION_RATE = 0.01
#: The summary's margin rule (portfolio._figures): 25 % of gross position value.
MARGIN_RATE = 0.25
_SURE = "\nAre you sure you want to submit this order?"


def multiplier(contract: Contract) -> float:
    """Units per contract (1 for stock; a derivative's multiplier when the contract has one)."""
    return float(getattr(contract, "multiplier", None) or 1.0)


def commission(quantity: float, value: float) -> float:
    """IBKR Pro fixed: 0.005 per share, at least 1.00, at most 1 % of the order's value."""
    return min(max(MIN_COMMISSION, COMMISSION_PER_SHARE * quantity), MAX_COMMISSION_RATE * value)


def _order_price(order: Order, last: float) -> float:
    """What the order would trade at: its limit, its stop (STP), else the last price."""
    if order.order_type in ("LMT", "STOP_LIMIT") and order.price is not None:
        return order.price
    if order.order_type == "STP" and order.stop_price is not None:
        return order.stop_price
    return last


def _money(value: float) -> str:
    """IBKR's what-if number text: thousands separators, two decimals."""
    return f"{value:,.2f}"


def _change(current: float, change: float) -> dict[str, str]:
    """One `{"current", "change", "after"}` section."""
    return {"current": _money(current), "change": _money(change), "after": _money(current + change)}


def preview(account: Account, order: Order, market: Market, rules: AccountRules,
            warnings: list[str]) -> dict[str, Any]:
    """IBKR's what-if answer for `order` on `account` at the market's current prices."""
    c = order.contract
    last = market.price(c.conid)
    value = order.quantity * _order_price(order, last) * multiplier(c)
    fee = commission(order.quantity, value)
    held = account.positions.get(c.conid)
    before = held.quantity if held is not None else 0.0
    signed = order.quantity if order.side == "BUY" else -order.quantity
    # Margin as the summary computes it (25 % of |position| x last), before and after the order.
    gross_change = (abs(before + signed) - abs(before)) * last
    rate = USD_PER[rules.base_currency(account.account_id)]
    summary = portfolio.summary(account, market, rules)
    equity = summary["equitywithloanvalue"]["amount"]
    initial = summary["initmarginreq"]["amount"]
    maintenance = summary["maintmarginreq"]["amount"]
    return {
        "amount": {"amount": f"{_money(value)} {c.currency} ({order.quantity:g} Shares)",
                   "commission": f"{_money(fee)} {c.currency}",
                   "total": f"{_money(value + fee)} {c.currency}"},
        "equity": _change(equity, -fee / rate),
        "initial": _change(initial, MARGIN_RATE * gross_change / rate),
        "maintenance": _change(maintenance, MARGIN_RATE * gross_change / rate),
        "position": {"current": f"{before:g}", "change": f"{signed:g}",
                     "after": f"{before + signed:g}"},
        "warn": "\n".join(warnings) or None,
        "error": None,
    }


def whatif(engine: Services, call: Call) -> Any:
    """POST /iserver/account/{acct}/orders/whatif: a preview, IBKR's error, or (option) questions."""
    broker = engine.broker
    account = broker.order_account(call.who, call.args[0])
    body = call.req.json()
    tickets = body.get("orders") if isinstance(body, dict) else body
    with broker.lock:
        engine.stats.incr("whatif_requests")
        try:
            if not isinstance(tickets, list) or len(tickets) != 1:
                raise OrderRejectedError("Exactly one order per request is supported")
            order = parse_ticket(tickets[0], account.account_id, engine.market.contracts,
                                 engine.clock())
            # As a placement: a cash quantity sized in shares, a trailing stop set.
            order.prepare(engine.market.price(order.contract.conid))
        except OrderRejectedError as exc:
            return {"error": str(exc)}
        questions = questions_for(
            order, engine.market.price(order.contract.conid), warnings=broker.order_warnings,
            suppressed=broker.suppressed.get(call.who.token_id, ()))
        if questions and broker.whatif_questions:
            return broker._ask(order, questions)
        texts = [text.replace(_SURE, "") for _, text in questions]
        return preview(account, order, engine.market, broker.account_rules, texts)
