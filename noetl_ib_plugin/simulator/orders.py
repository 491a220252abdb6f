"""Order tickets: validation, precautionary questions, trigger rules and IBKR's order renderings."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .market import Contract

__all__ = [
    "Order",
    "OrderRejectedError",
    "fill_price",
    "parse_ticket",
    "questions_for",
    "render_live",
]

SIZE_LIMIT = 5000.0
PRICE_CONSTRAINT = 0.03
ORDER_TYPES = {"MKT": "MKT", "LMT": "LMT", "STP": "STP", "STOP_LIMIT": "STOP_LIMIT",
               "STP LMT": "STOP_LIMIT", "STP_LMT": "STOP_LIMIT", "STPLMT": "STOP_LIMIT"}
TIFS = {"DAY", "GTC", "IOC", "OPG", "FOK", "PAX", "OVT", "OND"}
_NAMES = {"MKT": ("Market", "MARKET"), "LMT": ("Limit", "LIMIT"), "STP": ("Stop", "STOP"),
          "STOP_LIMIT": ("StopLimit", "STOP_LIMIT")}
WORKING = {"PreSubmitted", "Submitted", "PendingSubmit"}


class OrderRejectedError(Exception):
    """A rejection IBKR answers with HTTP 200 and {"error": ...}."""


@dataclass
class Fill:
    """One execution of an order."""

    quantity: float
    price: float
    time: float


@dataclass
class Order:
    """A placed (or pending-question) order and its fills."""

    account: str
    contract: Contract
    side: str
    quantity: float
    order_type: str
    price: float | None
    aux_price: float | None
    tif: str
    coid: str | None
    outside_rth: bool
    listing_exchange: str
    order_id: int = 0
    status: str = "PendingSubmit"
    triggered: bool = False
    cancel_at: float = 0.0
    created: float = field(default_factory=time.time)
    fills: list[Fill] = field(default_factory=list)

    @property
    def filled(self) -> float:
        """Quantity executed so far."""
        return sum(f.quantity for f in self.fills)

    @property
    def avg_price(self) -> float | None:
        """Volume-weighted fill price, None until the first fill."""
        filled = self.filled
        return sum(f.quantity * f.price for f in self.fills) / filled if filled else None

    @property
    def stop_price(self) -> float | None:
        """The trigger price: `price` for STP (auxPrice accepted too), `auxPrice` for STOP_LIMIT."""
        if self.order_type == "STP":
            return self.price if self.price is not None else self.aux_price
        return self.aux_price if self.order_type == "STOP_LIMIT" else None

    def to_admin(self) -> dict[str, Any]:
        """Everything tests want to assert on, in one flat record."""
        return {
            "acct": self.account, "cOID": self.coid, "order_id": self.order_id,
            "status": self.status, "conid": self.contract.conid, "ticker": self.contract.symbol,
            "side": self.side, "quantity": self.quantity, "orderType": self.order_type,
            "price": self.price, "auxPrice": self.aux_price, "tif": self.tif,
            "filled": self.filled, "avgPrice": self.avg_price,
            "fills": [{"quantity": f.quantity, "price": f.price, "time": f.time}
                      for f in self.fills],
        }


def _number(ticket: dict[str, Any], key: str) -> float | None:
    """Read an optional numeric ticket field, rejecting junk the way IBKR does (HTTP 200 error)."""
    value = ticket.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise OrderRejectedError(f"Invalid value for {key}: {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise OrderRejectedError(f"Invalid value for {key}: {value!r}") from None


def parse_ticket(ticket: Any, account: str, contracts: dict[int, Contract], now: float) -> Order:
    """Validate one ticket and build an Order, or raise OrderRejectedError with IBKR-style text."""
    if not isinstance(ticket, dict):
        raise OrderRejectedError("Order ticket must be a JSON object")
    acct = ticket.get("acctId")
    if acct not in (None, "", account):
        raise OrderRejectedError(f"Order account {acct} does not match {account}")
    try:
        conid = int(ticket.get("conid", 0))
    except (TypeError, ValueError):
        raise OrderRejectedError("Invalid conid") from None
    contract = contracts.get(conid)
    if contract is None:
        raise OrderRejectedError(f"Invalid contract id: {ticket.get('conid')}")
    order_type = ORDER_TYPES.get(str(ticket.get("orderType", "")).upper())
    if order_type is None:
        raise OrderRejectedError(f"Invalid order type: {ticket.get('orderType')!r}")
    side = str(ticket.get("side", "")).upper()
    if side not in ("BUY", "SELL"):
        raise OrderRejectedError(f"Invalid side: {ticket.get('side')!r}")
    quantity = _number(ticket, "quantity")
    if quantity is None or quantity <= 0:
        raise OrderRejectedError("Order quantity must be a positive number")
    price, aux = _number(ticket, "price"), _number(ticket, "auxPrice")
    if order_type == "LMT" and (price is None or price <= 0):
        raise OrderRejectedError("Limit orders require a positive price")
    if order_type == "STP" and (price or aux or 0) <= 0:
        raise OrderRejectedError("Stop orders require a positive stop price")
    if order_type == "STOP_LIMIT" and ((price or 0) <= 0 or (aux or 0) <= 0):
        raise OrderRejectedError("Stop limit orders require price (limit) and auxPrice (stop)")
    tif = str(ticket.get("tif") or "DAY").upper()
    if tif not in TIFS:
        raise OrderRejectedError(f"Invalid time in force: {tif}")
    coid = ticket.get("cOID")
    return Order(
        account=account, contract=contract, side=side, quantity=quantity,
        order_type=order_type, price=price, aux_price=aux, tif=tif,
        coid=str(coid) if coid not in (None, "") else None,
        outside_rth=bool(ticket.get("outsideRTH", False)),
        listing_exchange=str(ticket.get("listingExchange") or "SMART"), created=now,
    )


def questions_for(order: Order, last: float) -> list[tuple[str, str]]:
    """The precautionary questions (message id, text) this order must get through, in order."""
    out: list[tuple[str, str]] = []
    c = order.contract
    if not c.market_data:
        out.append(("o354", f"You are trying to submit an order without having market data "
                            f"for {c.symbol}. Are you sure you want to submit this order?"))
    if order.order_type == "LMT" and order.price is not None and last > 0 and \
            abs(order.price - last) / last > PRICE_CONSTRAINT:
        out.append(("o163", "The following order exceeds the price percentage limit of "
                            f"{PRICE_CONSTRAINT:.0%}: {order.side} {order.quantity:g} {c.symbol} "
                            f"@ {order.price}. Are you sure you want to submit this order?"))
    stop = order.stop_price
    if stop is not None and ((order.side == "BUY" and stop <= last) or
                             (order.side == "SELL" and stop >= last)):
        out.append(("o403", "This order will most likely trigger and fill immediately. "
                            "Are you sure you want to submit this order?"))
    if order.quantity > SIZE_LIMIT:
        out.append(("o383", f"The following order size exceeds the Size Limit of "
                            f"{SIZE_LIMIT:g}. Are you sure you want to submit this order?"))
    return out


def fill_price(order: Order, last: float) -> float | None:
    """Decide whether a working order executes at `last`; triggers stops as a side effect."""
    stop = order.stop_price
    if stop is not None and not order.triggered:
        hit = last >= stop if order.side == "BUY" else last <= stop
        if not hit:
            return None
        order.triggered = True
    if order.order_type in ("MKT", "STP"):
        return last
    limit = order.price or 0.0
    ok = last <= limit if order.side == "BUY" else last >= limit
    return last if ok else None


def _fmt(value: float | None) -> str:
    """IBKR prints prices in the live-order list as strings ("457.00"), empty when absent."""
    if value is None:
        return ""
    return f"{value:.2f}" if value >= 1 else f"{value:.4f}"


def render_live(order: Order) -> dict[str, Any]:
    """One entry of GET /iserver/account/orders in IBKR's field names."""
    short, orig = _NAMES[order.order_type]
    last_fill = order.fills[-1].time if order.fills else order.created
    c = order.contract
    entry: dict[str, Any] = {
        "acct": order.account, "conidex": str(c.conid), "conid": c.conid,
        "orderId": order.order_id, "cashCcy": c.currency,
        "sizeAndFills": f"{order.filled:g}/{order.quantity:g}",
        "orderDesc": f"{order.side.title()} {order.quantity:g} {c.symbol} {short}",
        "description1": c.symbol, "ticker": c.symbol, "secType": "STK",
        "listingExchange": c.exchange, "companyName": c.company,
        "remainingQuantity": order.quantity - order.filled, "filledQuantity": order.filled,
        "totalSize": order.quantity, "status": order.status, "origOrderType": orig,
        "orderType": short, "side": order.side, "timeInForce": order.tif,
        "lastExecutionTime": time.strftime("%y%m%d%H%M%S", time.gmtime(last_fill)),
        "lastExecutionTime_r": int(last_fill * 1000), "outsideRTH": order.outside_rth,
        "avgPrice": _fmt(order.avg_price),
        "price": _fmt(order.price if order.order_type != "STP" else None),
        "order_ref": order.coid or "",
        "supportsTaxOpt": "1",
    }
    if order.stop_price is not None:
        entry["auxPrice"] = _fmt(order.stop_price)
    if order.order_type == "STP":
        entry["price"] = _fmt(order.stop_price)
    return entry
