"""Order actions: place (exactly once, with the confirm policy), cancel, list open orders."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..client import IBClient, OutcomeUnknown
from ..credentials.urls import path_segment
from ..errors import (
    BrokerError,
    IBPluginError,
    OrderRejected,
    OrderUnconfirmed,
    RateLimited,
    TransientError,
)
from .confirm import ConfirmPolicy
from .contracts import Contract, resolve_contract
from .models import CancelOrderInput, GetOpenOrdersInput, PlaceOrderInput
from .parse import as_float, as_int

__all__ = [
    "DEFAULT_SETTINGS",
    "OrderSettings",
    "cancel_order",
    "find_order_by_coid",
    "get_open_orders",
    "live_orders",
    "new_client_order_id",
    "normalize_order",
    "place_order",
]

log = logging.getLogger(__name__)

DUPLICATE_COID_MARKER = "local order id="
ORDERS_PRIMED = "orders_primed"
MAX_QUESTIONS = 12


def new_client_order_id() -> str:
    """A fresh cOID: short, unique, and recognisably ours."""
    return f"nib-{uuid.uuid4().hex[:20]}"


@dataclass
class OrderSettings:
    """Knobs for reconciliation after a lost answer; injectable for deterministic tests."""

    #: Live-order polls at most while deciding whether a lost order exists.
    reconcile_polls: int = 6
    #: An order absent from a real live-orders answer this long after the loss is "absent".
    settle_seconds: float = 0.5
    #: Pause between live-order polls (pacing adds IBKR's 1 per 5 s on top when enabled).
    poll_interval: float = 0.25
    #: Longest Retry-After we wait before resending an order IBKR refused with 429.
    max_rate_limit_wait: float = 5.0
    coid_factory: Callable[[], str] = field(default=new_client_order_id)


DEFAULT_SETTINGS = OrderSettings()


class _DuplicateCoid(Exception):
    """IBKR refused the ticket because its cOID is already registered."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- live orders -------------------------------------------------------------------------------


def live_orders(client: IBClient, filters: list[str] | None = None) -> list[dict[str, Any]]:
    """`GET /iserver/account/orders`, asking again when the first answer is the empty pre-flight."""
    orders, _ = _live_orders_once(client, filters)
    return orders


def _live_orders_once(
    client: IBClient, filters: list[str] | None = None, *, max_calls: int = 3
) -> tuple[list[dict[str, Any]], bool]:
    """(orders, real): `real` is False when every answer looked like the pre-flight."""
    params = {"filters": ",".join(filters)} if filters else None
    for _ in range(max_calls):
        primed = client.session_flag(ORDERS_PRIMED)
        body = client.get("/iserver/account/orders", params=params)
        client.set_session_flag(ORDERS_PRIMED)
        if isinstance(body, dict) and body.get("error"):
            raise BrokerError(f"listing live orders failed: {body['error']}")
        raw = body.get("orders") if isinstance(body, dict) else body
        orders = [o for o in raw or [] if isinstance(o, dict)]
        snapshot_flag = body.get("snapshot") if isinstance(body, dict) else None
        real = bool(orders) or snapshot_flag is True or (primed and snapshot_flag is not False)
        if real:
            return orders, True
    return [], False


def normalize_order(order: dict[str, Any]) -> dict[str, Any]:
    """One live order in this package's field names, numbers as numbers."""
    price = as_float(order.get("price"))
    return {
        "order_id": str(order.get("orderId") or order.get("order_id") or ""),
        "client_order_id": order.get("order_ref") or None,
        "account_id": order.get("acct") or order.get("account"),
        "conid": as_int(order.get("conid")),
        "symbol": order.get("ticker") or order.get("description1"),
        "side": order.get("side"),
        "order_type": _order_type_name(order),
        "status": order.get("status") or order.get("order_ccp_status"),
        "quantity": as_float(order.get("totalSize")),
        "filled_quantity": as_float(order.get("filledQuantity")),
        "remaining_quantity": as_float(order.get("remainingQuantity")),
        "price": price,
        "stop_price": as_float(order.get("auxPrice")),
        "avg_price": as_float(order.get("avgPrice")),
        "tif": order.get("timeInForce"),
        "exchange": order.get("listingExchange"),
        "currency": order.get("cashCcy"),
    }


_TYPE_NAMES = {
    "MARKET": "MKT",
    "MKT": "MKT",
    "LIMIT": "LMT",
    "LMT": "LMT",
    "STOP": "STP",
    "STP": "STP",
    "STOP_LIMIT": "STOP_LIMIT",
    "STOPLIMIT": "STOP_LIMIT",
    "STP LMT": "STOP_LIMIT",
}


def _order_type_name(order: dict[str, Any]) -> str | None:
    """IBKR's long order-type names mapped back to MKT/LMT/STP/STOP_LIMIT."""
    raw = str(order.get("origOrderType") or order.get("orderType") or "").upper()
    return _TYPE_NAMES.get(raw, raw or None)


def find_order_by_coid(
    client: IBClient, coid: str, settings: OrderSettings = DEFAULT_SETTINGS
) -> dict[str, Any] | None:
    """The live order with this cOID; None once it is confirmed absent; OrderUnconfirmed if unsure."""
    started = client.clock()
    last_error: IBPluginError | None = None
    for poll in range(settings.reconcile_polls):
        if poll:
            client.sleep(settings.poll_interval)
        try:
            orders, real = _live_orders_once(client, max_calls=1)
        except (TransientError, BrokerError) as exc:
            last_error = exc
            continue
        for order in orders:
            if str(order.get("order_ref") or "") == coid:
                return order
        if real and client.clock() - started >= settings.settle_seconds:
            return None
    cause = f" (last error: {last_error.message})" if last_error else ""
    raise OrderUnconfirmed(
        f"could not tell whether order cOID={coid} reached IBKR{cause}",
        fix=f"look for client_order_id {coid} with get_open_orders before placing it again; "
        "re-sending place_order with the same client_order_id is safe (IBKR refuses duplicates).",
    )


# -- place_order -------------------------------------------------------------------------------


def _ticket(inp: PlaceOrderInput, account: str, contract: Contract, coid: str) -> dict[str, Any]:
    """IBKR's order ticket: `price` is the limit (or the stop for STP), `auxPrice` the stop."""
    ticket: dict[str, Any] = {
        "acctId": account,
        "conid": contract.conid,
        "orderType": inp.order_type,
        "side": inp.side,
        "quantity": inp.quantity,
        "tif": inp.tif,
        "cOID": coid,
        "outsideRTH": inp.outside_rth,
    }
    if inp.order_type == "LMT":
        ticket["price"] = inp.limit_price
    elif inp.order_type == "STP":
        ticket["price"] = inp.stop_price
    elif inp.order_type == "STOP_LIMIT":
        ticket["price"] = inp.limit_price
        ticket["auxPrice"] = inp.stop_price
    if inp.exchange and contract.exchange == inp.exchange:
        ticket["listingExchange"] = inp.exchange
    return ticket


def _classify(body: Any) -> tuple[str, dict[str, Any]]:
    """("placed" | "question" | "error", item) for an order/reply answer."""
    items = body if isinstance(body, list) else [body]
    for item in items:
        if not isinstance(item, dict):
            continue
        if item.get("order_id") is not None:
            return "placed", item
        if item.get("id") is not None and ("message" in item or "messageIds" in item):
            return "question", item
        if item.get("error"):
            return "error", item
    return "error", {"error": f"unexpected answer from IBKR: {str(body)[:200]}"}


def _submit_once(
    client: IBClient,
    account: str,
    ticket: dict[str, Any],
    policy: ConfirmPolicy,
    confirmed: list[str],
) -> dict[str, Any]:
    """POST the ticket and walk the question chain; returns the placed item."""
    body = client.post(f"/iserver/account/{path_segment(account)}/orders", json={"orders": [ticket]})
    for _ in range(MAX_QUESTIONS):
        kind, item = _classify(body)
        if kind == "placed":
            return item
        if kind == "error":
            message = str(item.get("error"))
            if DUPLICATE_COID_MARKER in message.lower():
                raise _DuplicateCoid(message)
            raise OrderRejected(f"IBKR rejected the order: {message}", status=200)
        reply_id = str(item["id"])
        ids = [str(m) for m in item.get("messageIds") or []]
        refused = policy.refused(ids)
        if refused:
            _decline(client, reply_id)
            text = " ".join(str(m) for m in item.get("message") or [])[:300]
            described = ", ".join(ConfirmPolicy.describe(m) for m in refused)
            allow = ", ".join(f'"{m}"' for m in refused if not m.startswith("<"))
            raise OrderRejected(
                f"IBKR asked to confirm {described}: {text!r}; the confirm policy declined it, "
                "so the order was not placed",
                fix=f"if this is intended, pass confirm=[{allow}] (CLI: confirm="
                f"{','.join(m for m in refused if not m.startswith('<'))}).",
            )
        confirmed.extend(ids)
        try:
            body = client.post(f"/iserver/reply/{reply_id}", json={"confirmed": True})
        except BrokerError as exc:
            if exc.status != 400 or isinstance(exc, TransientError):
                raise
            raise OrderRejected(
                f"IBKR did not accept the confirmation ({exc.message}); the order was not placed",
                status=400,
                fix="the question expired or was answered elsewhere; place the order again.",
            ) from None
    kind, item = _classify(body)
    if kind == "question":
        _decline(client, str(item["id"]))
    raise OrderRejected(
        f"IBKR asked more than {MAX_QUESTIONS} questions about one order; it was declined",
        fix="check the order's parameters in IBKR's client portal.",
    )


def _decline(client: IBClient, reply_id: str) -> None:
    """Answer a question with `confirmed: false` so nothing is left hanging."""
    try:
        client.post(f"/iserver/reply/{reply_id}", json={"confirmed": False})
    except IBPluginError as exc:
        log.warning("declining question %s failed: %s", reply_id, exc.message)


def _submit_exactly_once(
    client: IBClient,
    account: str,
    ticket: dict[str, Any],
    policy: ConfirmPolicy,
    settings: OrderSettings,
) -> tuple[dict[str, Any], list[str], str]:
    """Place once: reconcile by cOID after a lost answer, resend at most once with the same cOID.

    Returns (placed item or live order, confirmed message ids, how: "placed" | "reconciled").
    """
    coid = str(ticket["cOID"])
    resent = False
    while True:
        confirmed: list[str] = []
        try:
            return _submit_once(client, account, ticket, policy, confirmed), confirmed, "placed"
        except OutcomeUnknown as exc:
            log.warning("order cOID=%s: %s; reconciling via live orders", coid, exc.message)
            found = find_order_by_coid(client, coid, settings)
            if found is not None:
                return found, confirmed, "reconciled"
            if resent:
                raise OrderUnconfirmed(
                    f"order cOID={coid} was sent twice without a usable answer and is not "
                    "among the live orders",
                    fix=f"look for client_order_id {coid} with get_open_orders before retrying.",
                ) from None
        except RateLimited as exc:
            if resent:
                raise
            wait = min(exc.retry_after or 1.0, settings.max_rate_limit_wait)
            log.warning("order cOID=%s: rate limited; resending in %.1fs", coid, wait)
            client.sleep(wait)
        except _DuplicateCoid as dup:
            found = find_order_by_coid(client, coid, settings)
            if found is not None:
                return found, confirmed, "reconciled"
            raise OrderRejected(
                f"IBKR rejected the order: {dup.message}",
                status=200,
                field="client_order_id",
                fix="cOIDs are unique per account for 24 h; use a new client_order_id "
                "(or omit it to have one generated).",
            ) from None
        resent = True
        log.info("order cOID=%s confirmed absent; resending once with the same cOID", coid)


def place_order(
    client: IBClient, inp: PlaceOrderInput, settings: OrderSettings | None = None
) -> dict[str, Any]:
    """Look the contract up, submit with a cOID, answer questions by policy; exactly once."""
    settings = settings or DEFAULT_SETTINGS
    account = client.ensure_trading_allowed(inp.account_id)
    contract = resolve_contract(
        client,
        symbol=inp.symbol,
        conid=inp.conid,
        exchange=inp.exchange,
        currency=inp.currency,
        sec_type=inp.sec_type,
    )
    coid = inp.client_order_id or settings.coid_factory()
    ticket = _ticket(inp, account, contract, coid)
    policy = ConfirmPolicy.build(inp.confirm, inp.decline)
    item, confirmed, how = _submit_exactly_once(client, account, ticket, policy, settings)
    if how == "placed":
        order_id = str(item.get("order_id"))
        status = item.get("order_status")
    else:
        order_id = str(item.get("orderId") or item.get("order_id") or "")
        status = item.get("status")
    return {
        "order_id": order_id,
        "client_order_id": coid,
        "status": status,
        "conid": contract.conid,
        "symbol": contract.symbol or inp.symbol,
        "exchange": contract.exchange,
        "side": inp.side,
        "quantity": inp.quantity,
        "order_type": inp.order_type,
        "limit_price": inp.limit_price,
        "stop_price": inp.stop_price,
        "tif": inp.tif,
        "confirmed_message_ids": confirmed,
        "account_id": account,
        "reconciled": how == "reconciled",
    }


# -- cancel_order / get_open_orders --------------------------------------------------------------


def cancel_order(client: IBClient, inp: CancelOrderInput) -> dict[str, Any]:
    """`DELETE /iserver/account/{acct}/order/{id}`; IBKR only acknowledges the request."""
    account = client.ensure_trading_allowed(inp.account_id)
    path = f"/iserver/account/{path_segment(account)}/order/{path_segment(inp.order_id)}"
    try:
        body = _delete_once_more_if_unprocessed(client, path)
    except OutcomeUnknown as exc:
        status = _live_status(client, inp.order_id)
        log.warning("cancel of order %s: %s; live status now %s", inp.order_id, exc.message, status)
        if status in CANCEL_STATES:
            return {
                "order_id": inp.order_id,
                "status": "cancel_requested",
                "message": f"reconciled: the order is {status}",
                "conid": None,
                "account_id": account,
                "reconciled": True,
            }
        if status not in WORKING_STATES:
            raise
        # Still working: asking again to cancel the same order cannot do harm.
        body = client.delete(path)
    for _ in range(MAX_QUESTIONS):
        kind, item = _classify(body)
        if kind != "question":
            break
        # Cancelling is what the caller asked for; IBKR's "are you sure" is answered yes.
        body = client.post(f"/iserver/reply/{item['id']}", json={"confirmed": True})
    if isinstance(body, list):
        body = next((b for b in body if isinstance(b, dict)), {})
    if not isinstance(body, dict):
        raise BrokerError(f"unexpected answer to cancel: {str(body)[:200]}", field="order_id")
    if body.get("error"):
        message = str(body["error"])
        raise BrokerError(
            f"cannot cancel order {inp.order_id}: {message}",
            status=200,
            field="order_id",
            fix="list working orders with get_open_orders and use one of their order_id values.",
        )
    return {
        "order_id": str(body.get("order_id") or inp.order_id),
        "status": "cancel_requested",
        "message": body.get("msg"),
        "conid": as_int(body.get("conid")),
        "account_id": body.get("account") or account,
    }


CANCEL_STATES = frozenset({"PendingCancel", "PreCancelled", "Cancelled"})
WORKING_STATES = frozenset({"PendingSubmit", "PreSubmitted", "Submitted", "Inactive"})


def _delete_once_more_if_unprocessed(client: IBClient, path: str) -> Any:
    """A 429 means IBKR did not process the cancel, so one resend after Retry-After is safe."""
    try:
        return client.delete(path)
    except RateLimited as exc:
        client.sleep(min(exc.retry_after or 1.0, 5.0))
        return client.delete(path)


def _live_status(client: IBClient, order_id: str) -> str | None:
    """The order's status in the live-orders list, or None when it is not there."""
    orders, _ = _live_orders_once(client)
    for order in orders:
        normalized = normalize_order(order)
        if normalized["order_id"] == str(order_id):
            return str(normalized["status"]) if normalized["status"] else None
    return None


def get_open_orders(client: IBClient, inp: GetOpenOrdersInput) -> dict[str, Any]:
    """Orders of the day, normalised; the empty pre-flight answer is asked again."""
    orders, real = _live_orders_once(client, inp.filters or None)
    out = [normalize_order(o) for o in orders]
    if not inp.include_inactive:
        out = [o for o in out if o["status"] in ("PreSubmitted", "Submitted", "PendingSubmit")]
    return {"account_id": client.account_id, "orders": out, "complete": real}
