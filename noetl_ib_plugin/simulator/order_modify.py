"""Modifying a working order as IBKR does (`POST /iserver/account/{acct}/order/{orderId}`).

The body is the whole order ticket with the new values (`conid`, `side`, `orderType`,
`quantity`, `price`, `auxPrice`, `tif`, `trailingAmt`, `trailingType`); a bare ticket, a one-item
list or `{"orders": [ticket]}` are accepted. Fields left out keep their present values. The
contract, side and order type cannot change (IBKR refuses; cancel and place instead), an order
that is not working cannot be modified, and the new quantity must exceed what already filled.
Big changes ask the placement questions (o163 price constraint, o383 size, o451 value, o403 a
stop through the market), answered through `POST /iserver/reply/{id}` like a placement; the
answer is the placement's: `[{"order_id", "order_status", "encrypt_message"}]`. Refusals are
HTTP 200 `{"error": ...}`. Every applied modification is recorded on the order (the soak's
oracle: a target applied twice shows up there).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from .auth import Principal
from .broker import Broker
from .order_groups import on_fill
from .orders import ORDER_TYPES, WORKING, Fill, Order, OrderRejectedError, parse_ticket
from .questions import questions_for

__all__ = ["MODIFIABLE", "modify_order"]

#: Ticket fields a modification may change.
MODIFIABLE = ("quantity", "price", "auxPrice", "tif", "trailingAmt", "trailingType")
#: Ticket fields that name the order itself: IBKR refuses to change them.
_FIXED = {"conid": "contract", "side": "side", "orderType": "order type"}


def _ticket_of(body: Any) -> dict[str, Any]:
    """The one ticket of a modify body, or OrderRejectedError."""
    if isinstance(body, dict) and isinstance(body.get("orders"), list):
        body = body["orders"]
    if isinstance(body, list):
        body = body[0] if len(body) == 1 else None
    if not isinstance(body, dict):
        raise OrderRejectedError("A modify request carries exactly one order ticket")
    return body


def _present(order: Order) -> dict[str, Any]:
    """The order's present values as a ticket."""
    return {"conid": order.contract.conid, "side": order.side, "orderType": order.order_type,
            "quantity": order.quantity, "price": order.price, "auxPrice": order.aux_price,
            "tif": order.tif, "trailingAmt": order.trailing_amount,
            "trailingType": order.trailing_type}


def _candidate(broker: Broker, order: Order, ticket: dict[str, Any]) -> Order:
    """The order as it would be after the modification (validated like a placement)."""
    present = _present(order)
    for key, what in _FIXED.items():
        given = ticket.get(key)
        if given in (None, ""):
            continue
        if key == "orderType":
            same = ORDER_TYPES.get(str(given).upper()) == order.order_type
        else:
            same = str(given).upper() == str(present[key]).upper()
        if not same:
            raise OrderRejectedError(f"The {what} of an order cannot be modified (order "
                                     f"{order.order_id} is {present[key]}, not {given}); cancel "
                                     "it and place a new order")
    merged = {**present, **{k: ticket[k] for k in MODIFIABLE if k in ticket}}
    if order.cash_qty is not None and "quantity" not in ticket:
        merged.pop("quantity")
        merged["cashQty"] = order.cash_qty
    candidate = parse_ticket(merged, order.account, broker.market.contracts, order.created)
    candidate.order_id, candidate.coid, candidate.status = order.order_id, order.coid, order.status
    if candidate.cash_qty is not None:
        candidate.quantity = order.quantity
    if candidate.quantity <= order.filled:
        raise OrderRejectedError(f"The new quantity {candidate.quantity:g} must exceed the "
                                 f"{order.filled:g} already filled")
    return candidate


def _fill_now(broker: Broker, order: Order) -> None:
    """The fault `modify_fill_race`: the rest of the order executes at the market just before
    the modification is processed."""
    now = broker.clock()
    price = broker.market.price(order.contract.conid)
    quantity = order.quantity - order.filled
    order.fills.append(Fill(quantity, price, now))
    order.set_status("Filled", now)
    broker.stats.fault("modify_fill_race")
    broker.stats.incr("orders_filled")
    broker._book_fill(broker.accounts[order.account], order.contract, order.side, quantity, price)
    on_fill(broker, order, quantity, now)  # a bracket parent releases its children, OCA cancels


def _refusal(broker: Broker, order: Order | None, order_id: str) -> dict[str, Any] | None:
    """IBKR's refusal for an order that cannot be modified, or None when it can."""
    if order is None:
        return {"error": f"OrderID {order_id} doesn't exist"}
    if order.status not in WORKING:
        broker.stats.incr("modifications_rejected")
        return {"error": f"OrderID {order_id} cannot be modified, status: {order.status}"}
    return None


def _apply(broker: Broker, order: Order, candidate: Order,
           flags: Collection[str]) -> Any:
    """Give the order the candidate's values, record the modification, let it trade."""
    if "modify_fill_race" in flags and order.status in WORKING and not order.held:
        _fill_now(broker, order)
    refused = _refusal(broker, order, str(order.order_id))
    if refused is not None:
        return refused
    now = broker.clock()
    order.quantity, order.price, order.aux_price = \
        candidate.quantity, candidate.price, candidate.aux_price
    order.tif = candidate.tif
    if (order.trailing_amount, order.trailing_type) != \
            (candidate.trailing_amount, candidate.trailing_type):
        order.trailing_amount, order.trailing_type = \
            candidate.trailing_amount, candidate.trailing_type
        order.trail_stop = None  # re-anchored at the present price with the new distance
        order.follow(broker.market.price(order.contract.conid))
    order.modifications.append({**{k: v for k, v in _present(order).items()
                                   if k not in _FIXED}, "time": now})
    order.set_status(order.status, now)
    broker.stats.incr("orders_modified")
    if order.status != "PendingSubmit" and not order.contract.halted:
        broker._try_fill(order, now)
    return [{"order_id": str(order.order_id), "order_status": order.status,
             "encrypt_message": "1"}]


def modify_order(broker: Broker, principal: Principal, account_id: str, order_id: str, *,
                 body: Any, flags: Collection[str] = ()) -> Any:
    """Modify one working order of `account_id`: a question, the modified order, or {"error"}.

    `flags`: the fault kinds drawn for this request (`modify_fill_race` fills the order first).
    An account the login does not hold is IBKR's 400 (as for placement).
    """
    broker.order_account(principal, account_id)
    with broker.lock:
        order = broker.orders.get(int(order_id)) if order_id.isdigit() else None
        if order is not None and order.account != account_id:
            order = None
        if order is not None and "modify_fill_race" in flags and order.status in WORKING \
                and not order.held:
            _fill_now(broker, order)
        refused = _refusal(broker, order, order_id)
        if refused is not None or order is None:
            return refused
        try:
            candidate = _candidate(broker, order, _ticket_of(body))
        except OrderRejectedError as exc:
            broker.stats.incr("modifications_rejected")
            return {"error": str(exc)}
        questions = questions_for(
            candidate, broker.market.price(order.contract.conid), warnings=broker.order_warnings,
            suppressed=broker.suppressed.get(principal.token_id, ()))
        target = order

        def apply(later_flags: Collection[str]) -> Any:
            return _apply(broker, target, candidate, later_flags)

        if questions:
            return broker._ask(order, questions, apply)
        return _apply(broker, order, candidate, ())
