"""Brackets and OCA groups: several tickets in one `POST /iserver/account/{acct}/orders`.

IBKR's rules as the simulator plays them (IBKR Campus "How to Code a Bracket Order in the Web
API" / "How to Code an OCA Order in the Web API"; the 2.9 OpenAPI note on the orders body):
- a **bracket** is one parent ticket with a `cOID` and children whose `parentId` is that cOID;
  the children are one OCA group, held (`PreSubmitted`, not working) until the parent fills;
  cancelling the parent cancels the children, cancelling one child cancels its siblings;
- an **OCA group** is tickets that all carry `isSingleGroup: true`; IBKR gives them one
  `oca_group_id`; a member that fills completely cancels the others, a partial fill reduces the
  others by the quantity filled;
- the answer lists one entry per accepted ticket, in the request's order. Children need no cOID
  of their own at IBKR [doc]; when they carry one it is unique like any cOID.
The `leg_refused` fault accepts every ticket but the last and answers `{"error": ...}` in its
place (one leg refused, the rest held).
"""

from __future__ import annotations

from typing import Any, Protocol

from .market import Contract
from .orders import WORKING, Order, OrderRejectedError, parse_ticket

__all__ = ["GONE", "LEG_REFUSED_TEXT", "on_fill", "parse_group", "settle_groups", "start"]

#: A parent in one of these statuses takes its held children with it (PendingCancel can still
#: fill, so its children wait).
GONE = frozenset({"Cancelled", "Inactive"})
LEG_REFUSED_TEXT = "Order rejected: the order could not be accepted (simulated leg refusal)"


class Broker(Protocol):
    """What the group rules need of broker.Broker (which imports this module)."""

    orders: dict[int, Order]

    def _open_orders(self) -> dict[int, Order]: ...

    def _activate(self, order: Order, now: float) -> None: ...


def _flag(ticket: Any, key: str) -> Any:
    """A ticket field, None for a ticket that is not an object (parse_ticket refuses it)."""
    return ticket.get(key) if isinstance(ticket, dict) else None


def parse_group(tickets: list[Any], account: str, contracts: dict[int, Contract],
                now: float) -> list[Order]:
    """Validate a several-ticket request as a bracket or an OCA group (OrderRejectedError else).

    The orders come back in the request's order, children linked by `parent_coid`, OCA members
    marked `oca_group` = "pending" (the id is given at acceptance).
    """
    orders = [parse_ticket(t, account, contracts, now) for t in tickets]
    parent_ids = [_flag(t, "parentId") for t in tickets]
    coids = [o.coid for o in orders if o.coid is not None]
    if len(coids) != len(set(coids)):
        raise OrderRejectedError("Duplicate cOID within one request")
    if all(_flag(t, "isSingleGroup") is True for t in tickets) and not any(parent_ids):
        for order in orders:
            order.oca_group = "pending"
        return orders
    roots = [o for o, p in zip(orders, parent_ids, strict=True) if p in (None, "")]
    if len(roots) != 1 or roots[0] is not orders[0] or roots[0].coid is None:
        raise OrderRejectedError(
            "Several orders in one request must be a bracket (the first order has a cOID and "
            "every other order's parentId is that cOID) or an OCA group (isSingleGroup: true "
            "on every order)")
    parent = orders[0]
    for order, parent_id in zip(orders[1:], parent_ids[1:], strict=True):
        if str(parent_id) != parent.coid:
            raise OrderRejectedError(f"parentId {parent_id} does not name the parent order's "
                                     f"cOID {parent.coid}")
        order.parent_coid = parent.coid
        order.held = True
        order.oca_group = "pending"
    return orders


def start(orders: list[Order]) -> None:
    """Give an accepted group its OCA id (the first order id of its members) and link children."""
    members = [o for o in orders if o.oca_group == "pending"]
    group = f"oca-{members[0].order_id}" if members else ""
    for order in members:
        order.oca_group = group
    parent = orders[0]
    for child in orders[1:]:
        if child.parent_coid is not None:
            child.parent_id = parent.order_id


def _children(broker: Broker, parent_id: int) -> list[Order]:
    """A parent's children: a group's legs get consecutive order ids, parent first."""
    out: list[Order] = []
    while (child := broker.orders.get(parent_id + len(out) + 1)) is not None and \
            child.parent_id == parent_id:
        out.append(child)
    return out


def _siblings(broker: Broker, order: Order) -> list[Order]:
    """The other open members of `order`'s OCA group."""
    if not order.oca_group:
        return []
    return [o for o in broker._open_orders().values()
            if o is not order and o.oca_group == order.oca_group and
            (o.status in WORKING or o.status == "PendingCancel")]


def _cancel(order: Order, now: float) -> None:
    """Cancelled by the group's rule (no cancel request, so no PendingCancel step)."""
    order.held = False
    order.set_status("Cancelled", now)


def on_fill(broker: Broker, order: Order, quantity: float, now: float) -> None:
    """After an execution of `order`: the OCA rule for its siblings, release of its children."""
    complete = order.filled >= order.quantity
    for sibling in _siblings(broker, order):
        if complete:
            _cancel(sibling, now)
            continue
        sibling.quantity = max(sibling.filled, sibling.quantity - quantity)
        if sibling.quantity - sibling.filled <= 0:
            if sibling.fills:
                sibling.set_status("Filled", now)
            else:
                _cancel(sibling, now)
    if complete:
        for child in _children(broker, order.order_id):
            if child.held:
                child.held = False
                broker._activate(child, now)


def settle_groups(broker: Broker, now: float) -> None:
    """Cancel the held children of a parent that is gone, and the siblings of a bracket child
    that was cancelled (IBKR: cancelling one child cancels its sibling)."""
    for order in list(broker._open_orders().values()):
        if not order.parent_id or order.status not in WORKING:
            continue
        parent = broker.orders.get(order.parent_id)
        if parent is None or (order.held and parent.status in GONE):
            _cancel(order, now)
            continue
        if any(s.status in ("PendingCancel", "Cancelled") and not s.fills
               for s in _children(broker, order.parent_id) if s is not order):
            _cancel(order, now)

