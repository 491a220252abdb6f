"""The order ticket: its cOID (random or derived from the step), its JSON, and the comparison
of a broker's order record with the ticket that claims its cOID."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

from ..client import IBClient
from .contracts import Contract
from .instruments import resolve_instrument
from .models import PlaceOrderInput
from .order_states import TRAILING, order_type_name

__all__ = [
    "COID_PREFIX",
    "ORDER_PARAMETERS",
    "build_ticket",
    "derive_client_order_id",
    "differences",
    "new_client_order_id",
    "order_contract",
    "prepare_ticket",
    "special_fields",
]

COID_PREFIX = "nib-"
#: The arguments that define an order (what a re-driven step repeats); confirm/decline do not.
ORDER_PARAMETERS = (
    "account_id", "symbol", "conid", "exchange", "currency", "sec_type", "side", "quantity",
    "order_type", "limit_price", "stop_price", "tif", "outside_rth",
    "month", "expiry", "strike", "right", "multiplier",
    "trailing_amount", "trailing_type", "limit_offset", "cash_quantity",
)


def new_client_order_id() -> str:
    """A fresh random cOID: short, unique, and recognisably ours."""
    return f"{COID_PREFIX}{uuid.uuid4().hex[:20]}"


def derive_client_order_id(execution_id: object, step: object, params: Mapping[str, Any]) -> str:
    """A cOID that is the same every time the same step of the same execution places the same order.

    `execution_id` and `step` are what NoETL's distributed worker passes to `entry.main`;
    `params` are the action arguments (only ORDER_PARAMETERS count, case of side/type ignored).
    Returns `nib-` + 24 hex digits of SHA-256 (fits IBKR's cOID and the input pattern).
    A step that places several identical orders on purpose must pass its own keys.
    """
    order = {k: params[k] for k in ORDER_PARAMETERS if params.get(k) is not None}
    for key in ("side", "order_type", "tif", "symbol", "month", "right"):
        if isinstance(order.get(key), str):
            order[key] = order[key].strip().upper()
    for key in ("quantity", "limit_price", "stop_price", "strike", "multiplier", "trailing_amount",
                "limit_offset", "cash_quantity"):
        if key in order:
            try:
                order[key] = float(order[key])
            except (TypeError, ValueError):
                order[key] = str(order[key])
    material = json.dumps([str(execution_id), str(step), order], sort_keys=True, default=str)
    return COID_PREFIX + hashlib.sha256(material.encode()).hexdigest()[:24]


def build_ticket(inp: PlaceOrderInput, account: str, contract: Contract, coid: str) -> dict[str, Any]:
    """IBKR's order ticket: `price` is the limit (or the stop for STP), `auxPrice` the stop
    (TRAILLMT: the limit offset); `trailingAmt`/`trailingType` for trailing stops; `cashQty`
    in place of `quantity` for a cash quantity."""
    ticket: dict[str, Any] = {
        "acctId": account,
        "conid": contract.conid,
        "orderType": inp.order_type,
        "side": inp.side,
        **({"quantity": inp.quantity} if inp.cash_quantity is None
           else {"cashQty": inp.cash_quantity}),
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
    if inp.order_type in TRAILING:
        ticket["trailingAmt"] = inp.trailing_amount
        ticket["trailingType"] = inp.trailing_type
    if inp.order_type == "TRAILLMT":
        # IBKR: auxPrice is required for TRAILLMT; it carries the limit offset.
        ticket["auxPrice"] = inp.limit_offset
    if inp.exchange and contract.exchange == inp.exchange:
        ticket["listingExchange"] = inp.exchange
    return ticket


def prepare_ticket(client: IBClient, inp: PlaceOrderInput,
                   coid: str) -> tuple[str, Contract, dict[str, Any]]:
    """(account, contract, ticket) after every refusal that comes before an order request: the
    trading guard, then the contract being exactly the one asked for (contract_match).

    Placement and preview (whatif) both start here, so a preview is refused wherever the same
    order's placement would be, before anything is sent.
    """
    account = client.ensure_trading_allowed(inp.account_id)
    contract = order_contract(client, inp)
    return account, contract, build_ticket(inp, account, contract, coid)


def order_contract(client: IBClient, inp: PlaceOrderInput) -> Contract:
    """The one contract an order asks for, type and derivative parts included (every order
    path resolves through here: a single order, a preview, each leg of a bracket or OCA group)."""
    return resolve_instrument(
        client,
        symbol=inp.symbol,
        conid=inp.conid,
        exchange=inp.exchange,
        currency=inp.currency,
        sec_type=inp.sec_type,
        parts=inp.parts(),
    )


def special_fields(ticket: Mapping[str, Any]) -> dict[str, Any]:
    """The trailing-stop and cash-quantity fields of a ticket, in the outputs' names."""
    trailing = ticket.get("orderType") in TRAILING
    return {
        "trailing_amount": ticket.get("trailingAmt") if trailing else None,
        "trailing_type": ticket.get("trailingType") if trailing else None,
        "limit_offset": ticket.get("auxPrice") if ticket.get("orderType") == "TRAILLMT" else None,
        "cash_quantity": ticket.get("cashQty"),
    }


def _ticket_prices(ticket: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(limit, stop) the ticket asks for."""
    kind = ticket.get("orderType")
    if kind == "LMT":
        return ticket.get("price"), None
    if kind == "STP":
        return None, ticket.get("price")
    if kind == "STOP_LIMIT":
        return ticket.get("price"), ticket.get("auxPrice")
    return None, None


def _same_price(a: float, b: float) -> bool:
    """IBKR prints live-order prices with 2 decimals (4 below 1): equal within that rounding."""
    tolerance = 0.005 if max(abs(a), abs(b)) >= 1 else 0.00005
    return abs(a - b) <= tolerance + 1e-9


def differences(ticket: Mapping[str, Any], record: Mapping[str, Any]) -> list[str]:
    """`field: request X, broker Y` for each field where the broker's order is not the ticket.

    `record` is a normalised order (order_lookup.normalize_order / normalize_trades); fields
    the record does not carry (None) are not compared. Empty list: the same order.
    """
    out: list[str] = []

    def check(name: str, want: Any, have: Any, same: bool) -> None:
        if have is not None and want is not None and not same:
            out.append(f"{name}: request {want}, broker {have}")

    conid, side = record.get("conid"), record.get("side")
    check("conid", ticket.get("conid"), conid, conid == ticket.get("conid"))
    check("side", ticket.get("side"), side, str(side).upper() == str(ticket.get("side")).upper())
    quantity = record.get("quantity")
    if "quantity" not in ticket:
        pass  # a cash quantity: IBKR sizes the order, so its share count is not ours to compare
    elif quantity is not None:
        check("quantity", ticket.get("quantity"), quantity,
              abs(float(quantity) - float(ticket["quantity"])) < 1e-9)
    elif record.get("filled_quantity") is not None:
        filled = float(record["filled_quantity"])
        check("quantity", ticket.get("quantity"), f"{filled:g} filled",
              filled <= float(ticket["quantity"]) + 1e-9)
    kind = record.get("order_type")
    check("order_type", ticket.get("orderType"), kind,
          order_type_name(kind) == order_type_name(ticket.get("orderType")))
    limit, stop = _ticket_prices(ticket)
    for name, want, have in (("limit_price", limit, record.get("limit_price")),
                             ("stop_price", stop, record.get("stop_price"))):
        if have is not None and want is None:
            out.append(f"{name}: request none, broker {have}")
        elif have is not None and want is not None:
            check(name, want, have, _same_price(float(want), float(have)))
    tif = record.get("tif")
    check("tif", ticket.get("tif"), tif, str(tif).upper() == str(ticket.get("tif")).upper())
    return out
