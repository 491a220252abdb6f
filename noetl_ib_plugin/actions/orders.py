"""Order actions: place (exactly once, outcome always true), cancel (idempotent), list open orders.

The jobs live in their own modules: order_ticket (ticket, cOID, comparison), order_questions
(one POST and its question chain), order_lookup (find by cOID in live orders and trades),
order_states (the status and order-type tables), order_cancel (cancel_order, re-exported here).
This module decides what each placement outcome means.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..client import IBClient
from ..errors import (
    AuthError,
    IBPluginError,
    IdempotencyKeyConflict,
    OrderInactive,
    OrderUnconfirmed,
    OutcomeUnknown,
    RateLimited,
)
from .confirm import ConfirmPolicy
from .derivatives import contract_fields
from .models import GetOpenOrdersInput, PlaceOrderInput
from .order_cancel import cancel_order
from .order_fills import with_fills
from .order_lookup import (
    ORDERS_PRIMED,
    LookupSettings,
    find_order_by_coid,
    live_orders,
    live_orders_once,
    normalize_order,
)
from .order_questions import (
    DuplicateCoid,
    submit_with_questions,
)
from .order_states import CAN_FILL, INACTIVE, LIMIT_PRICED, filter_tokens
from .order_ticket import (
    derive_client_order_id,
    differences,
    new_client_order_id,
    prepare_ticket,
    special_fields,
)
from .outputs.base import load_output
from .outputs.orders import OpenOrdersOutput, PlaceOrderOutput

__all__ = [
    "DEFAULT_SETTINGS",
    "ORDERS_PRIMED",
    "OrderSettings",
    "cancel_order",
    "check_same_order",
    "derive_client_order_id",
    "find_order_by_coid",
    "get_open_orders",
    "live_orders",
    "new_client_order_id",
    "normalize_order",
    "place_order",
    "record_from_answer",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrderSettings(LookupSettings):
    """Reconciliation knobs (see LookupSettings) plus resend and cOID policy; injectable."""

    #: Longest Retry-After we wait before resending an order IBKR refused with 429.
    max_rate_limit_wait: float = 5.0
    coid_factory: Callable[[], str] = field(default=new_client_order_id)


DEFAULT_SETTINGS = OrderSettings()

_REASON_KEYS = ("text", "reason", "message", "warning_message", "order_status_message")


def _inactive(record: dict[str, Any], coid: str, reason: str | None) -> OrderInactive:
    """The typed refusal for an order IBKR holds as Inactive."""
    order_id = str(record.get("order_id") or "")
    said = f": {reason}" if reason else ""
    return OrderInactive(
        f"IBKR accepted order {order_id} (client_order_id {coid}) but holds it Inactive; it is "
        f"not working and will not execute{said}",
        order_id=order_id,
        client_order_id=coid,
        reason=reason,
    )


def check_same_order(ticket: dict[str, Any], record: dict[str, Any]) -> None:
    """An order found under our cOID must be the order we asked for (idempotency-key rule)."""
    diff = differences(ticket, record)
    if diff:
        coid = str(ticket["cOID"])
        raise IdempotencyKeyConflict(
            f"client_order_id {coid} already belongs to order {record.get('order_id')}, which "
            f"differs from this request ({'; '.join(diff)}); nothing was placed",
            client_order_id=coid,
            order_id=record.get("order_id"),
        )


def _reconcile(client: IBClient, ticket: dict[str, Any], settings: OrderSettings,
               why: str) -> dict[str, Any] | None:
    """Look the cOID up (live orders, then trades) and check it is the requested order."""
    coid = str(ticket["cOID"])
    log.warning("order %s: %s; looking it up by client_order_id", coid, why)
    try:
        found = find_order_by_coid(client, coid, settings, str(ticket["acctId"]))
    except OrderUnconfirmed:
        raise
    except IBPluginError as exc:
        # The order may exist whatever stopped the lookup (e.g. a 401): the outcome is unknown.
        raise OrderUnconfirmed(
            f"order {coid} may have reached IBKR ({why}) and looking it up failed: "
            f"{exc.message}",
            client_order_id=coid,
            status=exc.status,
        ) from None
    if found is not None:
        check_same_order(ticket, found)
    return found


def _submit_exactly_once(
    client: IBClient,
    account: str,
    ticket: dict[str, Any],
    policy: ConfirmPolicy,
    settings: OrderSettings,
) -> tuple[dict[str, Any], list[str], bool]:
    """Place once; after any unusable answer reconcile by cOID before deciding anything.

    Resends at most once, always with the same cOID, and only after the order was confirmed
    absent (live orders answered for `settle_seconds` and trades do not hold it).
    Returns (placed answer item or normalised broker record, confirmed ids, reconciled).
    """
    coid = str(ticket["cOID"])
    resent = False
    #: An earlier send had no usable answer: it may be at IBKR even though the lookup missed it
    #: (live orders lagging longer than the settle wait), so a failed resend is outcome unknown.
    maybe_placed = False
    while True:
        confirmed: list[str] = []
        sent_in = client.brokerage().opened_at
        try:
            item = submit_with_questions(client, account, ticket, policy, confirmed)
            return item, confirmed, False
        except OutcomeUnknown as exc:
            found = _reconcile(client, ticket, settings, exc.message)
            if found is not None:
                return found, confirmed, True
            if client.brokerage().opened_at != sent_in:
                # Live orders are scoped to the brokerage session: a new session cannot list a
                # non-working order of the old one, and trades hold only executions, so absence
                # is unprovable here and a resend could double the order.
                raise OrderUnconfirmed(
                    f"order {coid} got no usable answer and the brokerage session changed before "
                    "it could be looked up, so IBKR may hold it without listing it",
                    client_order_id=coid,
                    status=exc.status,
                ) from None
            if resent:
                raise OrderUnconfirmed(
                    f"order {coid} was resent and again got no usable answer, and IBKR shows "
                    "no order under its client_order_id",
                    client_order_id=coid,
                    status=exc.status,
                ) from None
            maybe_placed = True
        except (RateLimited, AuthError) as exc:
            if maybe_placed:
                raise OrderUnconfirmed(
                    f"order {coid} may have reached IBKR on its first send (no usable answer, "
                    f"not found by client_order_id) and the resend failed: {exc.message}",
                    client_order_id=coid,
                    status=exc.status,
                ) from None
            if resent or not isinstance(exc, RateLimited) or not exc.retryable:
                raise
            wait = min(exc.retry_after or 1.0, settings.max_rate_limit_wait)
            log.warning("order %s: rate limited; resending in %.1fs", coid, wait)
            client.wait(wait, f"IBKR's rate limit before resending order {coid}")
        except DuplicateCoid as dup:
            # IBKR says this cOID is registered: the order exists. Never advise a new id.
            found = _reconcile(client, ticket, settings, dup.message)
            if found is not None:
                return found, confirmed, True
            raise OrderUnconfirmed(
                f"IBKR refused order {coid} as a duplicate client_order_id ({dup.message}), "
                "so it holds an order under that id, but neither live orders nor trades show it",
                client_order_id=coid,
            ) from None
        resent = True
        log.info("order %s confirmed absent; resending once with the same cOID", coid)


def record_from_answer(item: dict[str, Any], ticket: dict[str, Any]) -> dict[str, Any]:
    """The accepted ticket as IBKR's placement answer names it (order id and status)."""
    kind = ticket["orderType"]
    return {
        "order_id": str(item.get("order_id")),
        "status": item.get("order_status"),
        "conid": ticket["conid"],
        "side": ticket["side"],
        "quantity": ticket.get("quantity"),
        "order_type": kind,
        "limit_price": ticket.get("price") if kind in LIMIT_PRICED else None,
        "stop_price": ticket.get("auxPrice") if kind == "STOP_LIMIT"
        else ticket.get("price") if kind == "STP" else None,
        "tif": ticket["tif"],
        "filled_quantity": None,
        "avg_price": None,
        "source": "placement",
        **special_fields(ticket),
    }


def place_order(
    client: IBClient, inp: PlaceOrderInput, settings: OrderSettings | None = None
) -> PlaceOrderOutput:
    """Place one order exactly once (`POST /iserver/account/{acct}/orders` + `/iserver/reply`).

    Returns the order as IBKR holds it (PlaceOrderOutput): `order_id`, `client_order_id`, `status`, `conid`,
    `symbol`, `side`, `quantity`, `order_type`, `limit_price`, `stop_price`, `tif`,
    `filled_quantity`/`avg_price` (read back from IBKR's order status after placement; None
    when that read could not say), `reconciled` (found by cOID after a lost answer)
    and `source` (placement | live_orders | trades).
    Raises OrderRejected (IBKR or the confirm policy refused; nothing placed), OrderInactive
    (held Inactive), IdempotencyKeyConflict (the cOID names a different order), and
    OrderUnconfirmed (category "unknown": look the cOID up, do not retry with a new id).
    Threads of one client placing under the same given cOID at once send it once
    (`client.order_flights`): the others get the first's outcome, or IdempotencyKeyConflict
    when they asked for a different order.
    """
    settings = settings or DEFAULT_SETTINGS
    if inp.client_order_id:
        request = json.dumps(inp.model_dump(mode="json"), sort_keys=True)
        return client.order_flights.run(inp.client_order_id, request,
                                        lambda: _place_order(client, inp, settings))
    return _place_order(client, inp, settings)


def _place_order(client: IBClient, inp: PlaceOrderInput, settings: OrderSettings) -> PlaceOrderOutput:
    """`place_order`'s work for one caller (see its docstring)."""
    coid = inp.client_order_id or settings.coid_factory()
    account, contract, ticket = prepare_ticket(client, inp, coid)
    policy = ConfirmPolicy.build(inp.confirm, inp.decline)
    item, confirmed, reconciled = _submit_exactly_once(client, account, ticket, policy, settings)
    if reconciled:
        record = dict(item)
        if record["source"] == "trades" and record.get("filled_quantity") is not None and \
                "quantity" in ticket and \
                abs(record["filled_quantity"] - float(ticket["quantity"])) < 1e-9:
            record.update(status="Filled", quantity=record["filled_quantity"])
        reason = None
    else:
        record = record_from_answer(item, ticket)
        reason = next((str(item[k]) for k in _REASON_KEYS if item.get(k)), None)
    if record.get("status") not in INACTIVE:
        record = with_fills(client, record)
    if record.get("status") in INACTIVE:
        raise _inactive(record, coid, reason)
    # load_output never raises: IBKR holds this order, so a field that does not fit is logged.
    return load_output(PlaceOrderOutput, {
        "order_id": record["order_id"],
        "client_order_id": coid,
        "status": record["status"],
        "conid": record["conid"],
        "symbol": record.get("symbol") or contract.symbol or inp.symbol,
        "exchange": record.get("exchange") or contract.exchange,
        "side": record["side"],
        "quantity": record["quantity"],
        "order_type": record["order_type"],
        "limit_price": record["limit_price"],
        "stop_price": record["stop_price"],
        "tif": record["tif"],
        "filled_quantity": record.get("filled_quantity"),
        "avg_price": record.get("avg_price"),
        **{key: record.get(key, value) for key, value in special_fields(ticket).items()},
        "confirmed_message_ids": confirmed,
        "account_id": account,
        "reconciled": reconciled,
        "source": record["source"],
        **contract_fields(contract),
    }, "place_order")


# -- get_open_orders -----------------------------------------------------------------------------


def get_open_orders(client: IBClient, inp: GetOpenOrdersInput) -> OpenOrdersOutput:
    """`GET /iserver/account/orders`: the day's orders, normalised (OpenOrdersOutput).

    `filters` are IBKR status names or tokens, mapped to the endpoint's lower-case tokens (an
    unknown one is an InputError before any request) and applied here to an unfiltered answer
    asked with `accountId` (IBKR's filtered and account-less answers can be incomplete; another
    account's orders never appear). `include_inactive=False` keeps the orders that can still
    fill: working ones and `PendingCancel` with quantity left (`Inactive` is never working).
    `complete` is False when IBKR only gave the empty pre-flight answer or its answer named
    another account (IBKR ignored accountId: this account's orders are unknown). The first call of a
    brokerage session costs the pre-flight plus IBKR's 1-per-5-s limit for this endpoint.
    """
    tokens = filter_tokens(inp.filters)
    account = client.account_id
    orders, real = live_orders_once(client, tokens or None, account=account)
    out = [normalize_order(o) for o in orders]
    if not inp.include_inactive:
        out = [o for o in out if o["status"] in CAN_FILL and o["remaining_quantity"] != 0]
    return load_output(OpenOrdersOutput, {"account_id": account, "orders": out, "complete": real},
                       "get_open_orders")
