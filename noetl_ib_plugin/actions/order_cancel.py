"""`cancel_order`: idempotent; a lost answer is reconciled against the order book.

Source: IBKR Web API `DELETE /iserver/account/{accountId}/order/{orderId}`, its question chain
(`POST /iserver/reply/{id}`), and the live orders / order status endpoints for reconciliation.
"""

from __future__ import annotations

import logging
from typing import Any

from ..client import IBClient
from ..common.quote_fields import as_int
from ..credentials.urls import path_segment
from ..errors import AuthError, BrokerError, OutcomeUnknown, RateLimited
from .models import CancelOrderInput
from .order_lookup import live_orders_once, normalize_order, order_status_record
from .order_questions import DEFINITE_REFUSAL_STATUS, MAX_QUESTIONS, classify
from .order_states import CAN_FILL, CANCELLED, FILLED, INACTIVE, WORKING
from .outputs.base import load_output
from .outputs.orders import CancelOrderOutput

__all__ = ["cancel_order"]

log = logging.getLogger(__name__)


def _live_record(client: IBClient, order_id: str, account: str, *,
                 not_found: bool = False) -> dict[str, Any] | None:
    """The order with this id among the live orders, else from its status (any state), or None.

    Live orders are scoped to the brokerage session: an order cancelled or filled before a
    session change is only found by `GET /iserver/account/order/status/{id}`. `not_found=True`
    raises OrderNotFound when that endpoint says IBKR knows no such order.
    """
    orders, _ = live_orders_once(client, account=account)
    for order in orders:
        record = normalize_order(order)
        if record["order_id"] == str(order_id):
            return record
    return order_status_record(client, str(order_id), not_found=not_found)


def _delete_call(client: IBClient, path: str) -> Any:
    """DELETE whose unreadable answer (HTML 200, 5xx page) is OutcomeUnknown, not a refusal."""
    try:
        return client.delete(path)
    except (OutcomeUnknown, RateLimited, AuthError):
        raise
    except BrokerError as exc:
        if exc.status in DEFINITE_REFUSAL_STATUS:
            raise
        raise OutcomeUnknown(
            f"DELETE {path}: no usable answer ({exc.message})", status=exc.status,
            fix="cancelling again is safe; get_order_status shows whether it is cancelled.",
        ) from None


def _delete_once_more_if_unprocessed(client: IBClient, path: str) -> Any:
    """A 429 means IBKR did not process the cancel, so one resend after Retry-After is safe."""
    try:
        return _delete_call(client, path)
    except RateLimited as exc:
        client.sleep(min(exc.retry_after or 1.0, 5.0))
        return _delete_call(client, path)


def _cancel_result(account: str, order_id: str, **extra: Any) -> CancelOrderOutput:
    """The cancel action's output (already_cancelled and reconciled ride as extra fields)."""
    out: dict[str, Any] = {
        "order_id": order_id,
        "status": "cancel_requested",
        "message": None,
        "conid": None,
        "account_id": account,
        "already_cancelled": False,
        "reconciled": False,
    }
    out.update(extra)
    return load_output(CancelOrderOutput, out, "cancel_order")


def _already_done(account: str, order_id: str, record: dict[str, Any] | None,
                  refusal: str) -> CancelOrderOutput:
    """After IBKR refused (or lost) a cancel: idempotent success if the order is not working."""
    status = record.get("status") if record else None
    if record is not None and status in CAN_FILL - WORKING:
        # PendingCancel: a cancel is requested but not confirmed, and the order can still fill.
        return _cancel_result(account, order_id, status=status, conid=record.get("conid"),
                              message=f"order {order_id} is already {status}: the cancel is "
                              "not confirmed yet and the order can still fill")
    if record is not None and status in CANCELLED | INACTIVE:
        return _cancel_result(account, order_id, status=status, already_cancelled=True,
                              conid=record.get("conid"),
                              message=f"order {order_id} is already {status}")
    if status in FILLED:
        raise BrokerError(
            f"cannot cancel order {order_id}: it is already filled",
            status=200,
            field="order_id",
            fix="a filled order cannot be cancelled; to undo it, place an opposite order.",
        )
    raise BrokerError(
        f"cannot cancel order {order_id}: {refusal}",
        status=200,
        field="order_id",
        fix="list working orders with get_open_orders and use one of their order_id values.",
    )


def cancel_order(client: IBClient, inp: CancelOrderInput) -> CancelOrderOutput:
    """`DELETE /iserver/account/{acct}/order/{id}`; idempotent.

    Returns CancelOrderOutput `{order_id, status, message, conid, account_id, already_cancelled,
    reconciled}`:
    `status` is "cancel_requested" when IBKR acknowledged this request, else the broker's status
    (`Cancelled`, `Inactive` with `already_cancelled: true`; `PendingCancel` with
    `already_cancelled: false`, since a pending cancel can still fill).
    Raises OrderNotFound (field order_id, exit 4) for an id IBKR does not know, BrokerError
    (field order_id) for a filled order.
    """
    account = client.ensure_trading_allowed(inp.account_id)
    order_id = str(inp.order_id)
    path = f"/iserver/account/{path_segment(account)}/order/{path_segment(order_id)}"
    try:
        body = _delete_once_more_if_unprocessed(client, path)
    except OutcomeUnknown as exc:
        record = _live_record(client, order_id, account)
        status = record.get("status") if record else None
        log.warning("cancel of order %s: %s; live status now %s", order_id, exc.message, status)
        if status in CANCELLED | INACTIVE:
            return _cancel_result(account, order_id, reconciled=True,
                                  status="cancel_requested" if status in CANCELLED else status,
                                  already_cancelled=status in INACTIVE,
                                  conid=record.get("conid") if record else None,
                                  message=f"reconciled: the order is {status}")
        if status in FILLED:
            return _already_done(account, order_id, record, "it is filled")
        if status not in WORKING:
            raise
        # Still working: asking again to cancel the same order cannot do harm.
        body = _delete_call(client, path)
    for _ in range(MAX_QUESTIONS):
        kind, item = classify(body)
        if kind != "question":
            break
        # Cancelling is what the caller asked for; IBKR's "are you sure" is answered yes.
        body = client.post(f"/iserver/reply/{item['id']}", json={"confirmed": True})
    if isinstance(body, list):
        body = next((b for b in body if isinstance(b, dict)), {})
    if isinstance(body, dict) and body.get("error"):
        # IBKR refused: an id it does not know (live orders and order status agree) is
        # OrderNotFound; a known order that is not working is idempotent success.
        return _already_done(account, order_id,
                             _live_record(client, order_id, account, not_found=True),
                             str(body["error"]))
    if not isinstance(body, dict) or not (body.get("msg") or body.get("order_id")):
        # Not an acknowledgement and not a refusal: ask the order book what happened.
        record = _live_record(client, order_id, account)
        if record is not None and record.get("status") in CANCELLED:
            return _cancel_result(account, order_id, status=record["status"], reconciled=True,
                                  conid=record.get("conid"))
        raise BrokerError(
            f"unexpected answer to cancel of order {order_id}: {str(body)[:200]}",
            field="order_id",
            fix="check the order with get_open_orders; cancelling again is safe.",
        )
    return _cancel_result(
        account,
        str(body.get("order_id") or order_id),
        message=body.get("msg"),
        conid=as_int(body.get("conid")),
        account_id=body.get("account") or account,
    )
