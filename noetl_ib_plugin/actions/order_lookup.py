"""Finding orders at IBKR: live orders (session-scoped) and recent trades, one "find by cOID".

Sources: `GET /iserver/account/orders` (working orders plus those filled/cancelled in this
brokerage session; the first answer of a session may be an empty pre-flight) and
`GET /iserver/account/trades` (the account's executions of recent days, with `order_ref` = cOID).

Both answer for IBKR's *selected* account unless asked with `accountId` (a login can hold
several accounts), some sessions answer an account-less live-orders call falsely empty, and
`filters=` answers have been reported incomplete (ibkr-web-api.md s.13). So both are always
asked with `accountId`, never with `filters`; status filtering and dropping another account's
entries happen here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..client import IBClient
from ..common.quote_fields import as_float, as_int
from ..errors import BrokerError, OrderNotFound, OrderUnconfirmed
from .account_scope import entries_of
from .executions import OrderStatusInput, order_status
from .order_states import FILLED, LIMIT_PRICED, STATES, TRAILING, order_type_name
from .shapes import expect_list, get_json

__all__ = [
    "LIVE_ORDERS",
    "ORDERS_PRIMED",
    "TRADES",
    "LookupSettings",
    "find_order_by_coid",
    "find_orders_by_coids",
    "live_orders",
    "live_orders_once",
    "normalize_order",
    "order_from_trades",
    "order_status_record",
]

log = logging.getLogger(__name__)

LIVE_ORDERS = "/iserver/account/orders"
TRADES = "/iserver/account/trades"
ORDERS_PRIMED = "orders_primed"


@dataclass(frozen=True)
class LookupSettings:
    """How long to look before calling an order absent; injectable for deterministic tests."""

    #: Live-order polls at most while deciding whether a lost order exists.
    reconcile_polls: int = 6
    #: Absent from real live-orders answers for this long (seconds) after the loss = absent.
    #: IBKR's live orders can lag a fresh placement; keep this above that lag.
    settle_seconds: float = 2.0
    #: Pause between live-order polls (pacing adds IBKR's 1 per 5 s on top when enabled).
    poll_interval: float = 0.5


def _status_token(order: dict[str, Any]) -> str | None:
    """The `filters` token of an order's status (None for a status outside IBKR's table)."""
    state = STATES.get(str(order.get("status") or order.get("order_ccp_status") or ""))
    return state[1] if state else None


def _keep(orders: list[dict[str, Any]], filters: list[str] | None) -> list[dict[str, Any]]:
    """The orders whose status token is in `filters` (all without filters)."""
    return [o for o in orders if not filters or _status_token(o) in filters]


def live_orders_once(
    client: IBClient, filters: list[str] | None = None, *, account: str | None = None,
    max_calls: int = 2,
) -> tuple[list[dict[str, Any]], bool]:
    """(orders in IBKR's field names, real): `real` is False when every answer was the pre-flight
    or the answer named another account (then it says nothing about this account's orders).

    Asked unfiltered with `accountId=account` (default: the client's account); `filters` (the
    endpoint's status tokens) are applied here, and entries naming another account are dropped.
    Asks again (at most `max_calls` in all) only while the answer looks like the pre-flight
    (`snapshot: false` before this brokerage session was primed). A body that is not the
    documented `{"orders": [...]}` object is a TransientError naming the endpoint.
    """
    account = account or client.account_id
    params = {"accountId": account}
    for _ in range(max_calls):
        primed = client.session_flag(ORDERS_PRIMED)
        body = get_json(client, LIVE_ORDERS, params=params)
        orders = expect_list(body, LIVE_ORDERS, key=None if isinstance(body, list) else "orders")
        client.set_session_flag(ORDERS_PRIMED)
        snapshot_flag = body.get("snapshot") if isinstance(body, dict) else None
        real = bool(orders) or snapshot_flag is True or (primed and snapshot_flag is not False)
        if real:
            mine, honest = entries_of(orders, account)
            return _keep(mine, filters), honest
    return [], False


def live_orders(client: IBClient, filters: list[str] | None = None, *,
                account: str | None = None) -> list[dict[str, Any]]:
    """`GET /iserver/account/orders`, asking again when the first answer is the empty pre-flight."""
    orders, _ = live_orders_once(client, filters, account=account)
    return orders


def normalize_order(order: dict[str, Any]) -> dict[str, Any]:
    """One live order in this package's field names, numbers as numbers (prices in currency)."""
    kind = order_type_name(order.get("origOrderType") or order.get("orderType"))
    price, aux = as_float(order.get("price")), as_float(order.get("auxPrice"))
    limit = price if kind in LIMIT_PRICED else None
    stop = aux if kind == "STOP_LIMIT" else (aux if aux is not None else price) if kind == "STP" \
        else aux
    return {
        "order_id": str(order.get("orderId") or order.get("order_id") or ""),
        "client_order_id": order.get("order_ref") or None,
        "account_id": order.get("acct") or order.get("account"),
        "conid": as_int(order.get("conid")),
        "symbol": order.get("ticker") or order.get("description1"),
        "side": order.get("side"),
        "order_type": kind,
        "status": order.get("status") or order.get("order_ccp_status"),
        "quantity": as_float(order.get("totalSize")),
        "filled_quantity": as_float(order.get("filledQuantity")),
        "remaining_quantity": as_float(order.get("remainingQuantity")),
        "price": price,
        "limit_price": limit,
        "stop_price": stop,
        "avg_price": as_float(order.get("avgPrice")),
        "tif": order.get("timeInForce"),
        "exchange": order.get("listingExchange"),
        "currency": order.get("cashCcy"),
        "source": "live_orders",
        **_special(order, kind),
    }


def _special(order: dict[str, Any], kind: str | None) -> dict[str, Any]:
    """A live order's trailing-stop and cash-quantity fields (None where they do not apply)."""
    trailing = kind in TRAILING
    return {
        "trailing_amount": as_float(order.get("trailingAmt")) if trailing else None,
        "trailing_type": order.get("trailingType") or None if trailing else None,
        "limit_offset": as_float(order.get("limitOffset")) if kind == "TRAILLMT" else None,
        "cash_quantity": as_float(order.get("cashQty")),
    }


_SIDES = {"B": "BUY", "BUY": "BUY", "BOT": "BUY", "S": "SELL", "SELL": "SELL", "SLD": "SELL"}


def order_from_trades(trades: list[dict[str, Any]], coid: str) -> dict[str, Any] | None:
    """The order behind the executions whose `order_ref` is `coid`, or None (no execution).

    Executions carry no limit price, order type, tif or total size: those stay None and the
    quantity known is `filled_quantity` (the sum of the executions' `size`).
    """
    mine = [t for t in trades if str(t.get("order_ref") or "") == coid]
    if not mine:
        return None
    filled = sum(as_float(t.get("size")) or 0.0 for t in mine)
    notional = sum((as_float(t.get("size")) or 0.0) * (as_float(t.get("price")) or 0.0)
                   for t in mine)
    first = mine[0]
    return {
        "order_id": str(first.get("order_id") or first.get("orderId") or ""),
        "client_order_id": coid,
        "account_id": first.get("account") or first.get("accountCode"),
        "conid": as_int(first.get("conid")),
        "symbol": first.get("symbol"),
        "side": _SIDES.get(str(first.get("side") or "").upper()),
        "order_type": None,
        "status": None,
        "quantity": None,
        "filled_quantity": filled,
        "remaining_quantity": None,
        "price": None,
        "limit_price": None,
        "stop_price": None,
        "avg_price": notional / filled if filled else None,
        "tif": None,
        "exchange": first.get("exchange"),
        "currency": None,
        "source": "trades",
    }


def order_status_record(client: IBClient, order_id: str, *,
                        not_found: bool = False) -> dict[str, Any] | None:
    """The order as `GET /iserver/account/order/status/{id}` holds it (any state, any session),
    normalised like a live order; None when the id is not an IBKR order id or IBKR cannot say.
    `not_found=True` raises OrderNotFound when IBKR says it knows no such order."""
    if not (order_id.isascii() and order_id.isdigit() and len(order_id) <= 20):
        return None  # not an id the endpoint (or OrderStatusInput) takes
    try:
        found = order_status(client, OrderStatusInput(order_id=order_id))
    except OrderNotFound:
        if not_found:
            raise
        log.warning("order %s: IBKR knows no such order", order_id)
        return None
    except BrokerError as exc:
        log.warning("order %s: status unavailable (%s)", order_id, exc.message)
        return None
    record = {key: getattr(found, key, None) for key in (
        "order_id", "client_order_id", "account_id", "conid", "symbol", "side", "order_type",
        "status", "quantity", "filled_quantity", "remaining_quantity", "limit_price",
        "stop_price", "avg_price", "tif", "trailing_amount", "trailing_type", "limit_offset",
        "cash_quantity")}
    record.update(price=None, exchange=None, currency=None, source="order_status")
    return record


def _with_status(client: IBClient, found: dict[str, Any]) -> dict[str, Any]:
    """A trades-only find completed by the order's status: executions carry no size, type,
    prices or tif, and without them a reused cOID naming a bigger order would pass as ours."""
    full = order_status_record(client, str(found["order_id"]))
    if full is None or full.get("client_order_id") not in (None, found["client_order_id"]):
        return found
    return {**found, **{k: v for k, v in full.items() if v is not None}, "source": "trades"}


def _trades(client: IBClient, account: str) -> tuple[list[dict[str, Any]], bool]:
    """`GET /iserver/account/trades?accountId=`, shape-checked: (the account's entries, honest)."""
    trades = expect_list(get_json(client, TRADES, params={"accountId": account}), TRADES)
    return entries_of(trades, account)


def find_orders_by_coids(
    client: IBClient, coids: list[str], settings: LookupSettings | None = None,
    account: str | None = None,
) -> tuple[dict[str, dict[str, Any]], bool, BrokerError | None]:
    """(the orders IBKR holds under these cOIDs, normalised, by cOID; settled; last error).

    One polling window for all of them (a bracket's legs): live orders until every cOID is
    found or the list answered for real for `settle_seconds`, then recent trades for the rest.
    `settled` True means every cOID not returned is absent (live orders answered for real for
    `settle_seconds` and the trades answer was the account's); False means those are unknown.
    With `account`, an order of another account under the same cOID is not this order.
    """
    settings = settings or LookupSettings()
    account = account or client.account_id
    wanted = set(coids)
    found: dict[str, dict[str, Any]] = {}
    started = client.clock()
    last_error: BrokerError | None = None
    settled = False
    for poll in range(settings.reconcile_polls):
        if poll:
            client.sleep(settings.poll_interval)
        # Absence counts from when the list was asked for: a slow answer shows the book as it
        # was then, not when it arrived.
        asked_at = client.clock()
        try:
            orders, real = live_orders_once(client, account=account, max_calls=1)
        except BrokerError as exc:
            last_error = exc
            continue
        for order in orders:
            ref = str(order.get("order_ref") or "")
            if ref in wanted and ref not in found:
                found[ref] = normalize_order(order)
        if len(found) == len(wanted):
            return found, True, last_error
        if real and asked_at - started >= settings.settle_seconds:
            settled = True
            break
    try:
        # Live orders are scoped to the brokerage session: a filled order of an earlier
        # session is only in the trades.
        trades, honest = _trades(client, account)
        settled = settled and honest
    except BrokerError as exc:
        last_error, settled, trades = exc, False, []
    for coid in coids:
        record = order_from_trades(trades, coid) if coid not in found else None
        if record is not None:
            found[coid] = _with_status(client, record)
    return found, settled, last_error


def find_order_by_coid(
    client: IBClient, coid: str, settings: LookupSettings | None = None,
    account: str | None = None,
) -> dict[str, Any] | None:
    """The order IBKR holds under this cOID (normalised), from live orders, else recent trades.

    With `account`, an order of another account under the same cOID is not this order.

    Returns None only when live orders answered for real for `settle_seconds` without it AND the
    trades list does not hold it either. Raises OrderUnconfirmed (category "unknown") naming the
    cOID when neither source could answer.
    """
    found, settled, last_error = find_orders_by_coids(client, [coid], settings, account)
    if coid in found:
        return found[coid]
    if settled:
        return None
    cause = f" (last error: {last_error.message})" if last_error else ""
    raise OrderUnconfirmed(
        f"could not tell whether order {coid} reached IBKR{cause}", client_order_id=coid
    )


def is_filled(record: dict[str, Any]) -> bool:
    """True when the record says every share executed."""
    return record.get("status") in FILLED
