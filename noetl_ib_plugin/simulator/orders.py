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
    "render_live",
    "render_status",
    "render_trade",
]

ORDER_TYPES = {"MKT": "MKT", "LMT": "LMT", "STP": "STP", "STOP_LIMIT": "STOP_LIMIT",
               "STP LMT": "STOP_LIMIT", "STP_LMT": "STOP_LIMIT", "STPLMT": "STOP_LIMIT",
               "TRAIL": "TRAIL", "TRAILLMT": "TRAILLMT"}
TIFS = {"DAY", "GTC", "IOC", "OPG", "FOK", "PAX", "OVT", "OND"}
_NAMES = {"MKT": ("Market", "MARKET"), "LMT": ("Limit", "LIMIT"), "STP": ("Stop", "STOP"),
          "STOP_LIMIT": ("StopLimit", "STOP_LIMIT"), "TRAIL": ("Trail", "TRAIL"),
          "TRAILLMT": ("TrailLmt", "TRAILLMT")}
#: Trailing stops: `trailingAmt` in currency ("amt") or percent of the price ("%").
TRAILING = frozenset({"TRAIL", "TRAILLMT"})
TRAILING_TYPES = frozenset({"amt", "%"})
#: Order types a cash quantity (`cashQty` instead of `quantity`) is accepted for (stocks).
CASH_QTY_TYPES = frozenset({"MKT", "LMT"})
WORKING = {"PreSubmitted", "Submitted", "PendingSubmit"}
#: Statuses an order no longer leaves.
FINAL = {"Filled", "Cancelled", "Inactive"}


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
    updated: float = 0.0
    submit_at: float = 0.0
    inactive_later: bool = False
    reason: str = ""
    trailing_amount: float | None = None
    trailing_type: str | None = None
    #: The trailing stop now (moves with the price until it triggers).
    trail_stop: float | None = None
    cash_qty: float | None = None
    #: Every modification applied (POST /iserver/account/{acct}/order/{id}), oldest first.
    modifications: list[dict[str, Any]] = field(default_factory=list)
    #: The logical key as placed: a modification does not make it another logical request.
    placed_key: str = ""
    #: quantity, price, auxPrice and tif as placed (GET /__sim/orders `placed`).
    placed_values: dict[str, Any] = field(default_factory=dict)
    #: Brackets and OCA groups (order_groups.py): the parent's cOID and order id, the OCA
    #: group id, and whether the order is held until its parent fills.
    parent_coid: str | None = None
    parent_id: int = 0
    oca_group: str = ""
    held: bool = False

    @property
    def logical_key(self) -> str:
        """What identifies one logical request without the client's help: who, what, how much."""
        return self.placed_key or self.current_key

    @property
    def current_key(self) -> str:
        """The logical key of the order's present values."""
        return (f"{self.account}|{self.contract.conid}|{self.side}|{self.quantity:g}|"
                f"{self.order_type}|{self.price}|{self.aux_price}|{self.tif}")

    def set_status(self, status: str, now: float) -> None:
        """Move to `status`, remembering when (live orders list what changed this session)."""
        self.status = status
        self.updated = now

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
        """The trigger price: `price` for STP (auxPrice accepted too), `auxPrice` for STOP_LIMIT,
        the trailing stop now for TRAIL/TRAILLMT."""
        if self.order_type == "STP":
            return self.price if self.price is not None else self.aux_price
        if self.order_type in TRAILING:
            return self.trail_stop
        return self.aux_price if self.order_type == "STOP_LIMIT" else None

    @property
    def limit_offset(self) -> float | None:
        """TRAILLMT's limit offset (its ticket's `auxPrice`): the limit trails the stop by it."""
        return self.aux_price if self.order_type == "TRAILLMT" else None

    @property
    def limit_price(self) -> float | None:
        """The limit it executes at: `price` (LMT, STOP_LIMIT), stop -/+ offset (TRAILLMT)."""
        if self.order_type == "TRAILLMT":
            if self.trail_stop is None or self.aux_price is None:
                return None
            offset = self.aux_price if self.side == "BUY" else -self.aux_price
            return round(self.trail_stop + offset, 6)
        return self.price if self.order_type in ("LMT", "STOP_LIMIT") else None

    def trail_distance(self, last: float) -> float:
        """How far the trailing stop sits from `last` (amount, or percent of `last`)."""
        amount = self.trailing_amount or 0.0
        return last * amount / 100.0 if self.trailing_type == "%" else amount

    def follow(self, last: float) -> None:
        """Move an untriggered trailing stop with the price (only ever towards it)."""
        if self.order_type not in TRAILING or self.triggered or last <= 0:
            return
        distance = self.trail_distance(last)
        candidate = round(last + distance if self.side == "BUY" else last - distance, 6)
        if self.trail_stop is None or \
                (candidate < self.trail_stop if self.side == "BUY" else candidate > self.trail_stop):
            self.trail_stop = candidate

    def prepare(self, last: float) -> None:
        """What an accepted ticket needs from the market: the first trailing stop, and the
        share count of a cash quantity (whole shares unless the contract trades fractions)."""
        self.follow(last)
        if self.cash_qty is not None:
            basis = self.price if self.order_type == "LMT" and self.price else last
            if basis <= 0:
                raise OrderRejectedError("Cash quantity orders need a price for the contract")
            shares = self.cash_qty / basis
            self.quantity = round(shares, 4) if self.contract.fractions else float(int(shares))
            if self.quantity <= 0:
                raise OrderRejectedError(
                    f"Cash quantity {self.cash_qty:g} buys less than one share at {basis:g}")
        if not self.placed_key:
            self.placed_key = self.current_key
            self.placed_values = {"quantity": self.quantity, "price": self.price,
                                  "auxPrice": self.aux_price, "tif": self.tif}

    def to_admin(self) -> dict[str, Any]:
        """Everything tests want to assert on, in one flat record."""
        return {
            "acct": self.account, "cOID": self.coid, "order_id": self.order_id,
            "status": self.status, "conid": self.contract.conid, "ticker": self.contract.symbol,
            "side": self.side, "quantity": self.quantity, "orderType": self.order_type,
            "price": self.price, "auxPrice": self.aux_price, "tif": self.tif,
            "filled": self.filled, "avgPrice": self.avg_price, "logical_key": self.logical_key,
            "reason": self.reason, "trailingAmt": self.trailing_amount,
            "trailingType": self.trailing_type, "trailStop": self.trail_stop,
            "cashQty": self.cash_qty,
            "modifications": [dict(m) for m in self.modifications],
            "placed": dict(self.placed_values),
            "parent_id": self.parent_id or None, "parent_cOID": self.parent_coid,
            "oca_group": self.oca_group or None, "held": self.held,
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
    if contract.sec_type == "IND":
        raise OrderRejectedError(f"Contract {conid} is an index: it cannot be traded")
    order_type = ORDER_TYPES.get(str(ticket.get("orderType", "")).upper())
    if order_type is None:
        raise OrderRejectedError(f"Invalid order type: {ticket.get('orderType')!r}")
    side = str(ticket.get("side", "")).upper()
    if side not in ("BUY", "SELL"):
        raise OrderRejectedError(f"Invalid side: {ticket.get('side')!r}")
    quantity, cash_qty = _number(ticket, "quantity"), _number(ticket, "cashQty")
    if cash_qty is not None:
        _check_cash_quantity(quantity, cash_qty, order_type, contract)
        quantity = 0.0  # sized from the price when accepted (Order.prepare)
    elif quantity is None or quantity <= 0:
        raise OrderRejectedError("Order quantity must be a positive number")
    if quantity != int(quantity) and not contract.fractions:
        raise OrderRejectedError(
            f"Fractional-sized order cannot be placed for {contract.symbol} on "
            f"{contract.exchange}: it trades in whole shares")
    price, aux = _number(ticket, "price"), _number(ticket, "auxPrice")
    if order_type == "LMT" and (price is None or price <= 0):
        raise OrderRejectedError("Limit orders require a positive price")
    if order_type == "STP" and (price or aux or 0) <= 0:
        raise OrderRejectedError("Stop orders require a positive stop price")
    if order_type == "STOP_LIMIT" and ((price or 0) <= 0 or (aux or 0) <= 0):
        raise OrderRejectedError("Stop limit orders require price (limit) and auxPrice (stop)")
    trailing_amount, trailing_type = _trailing(ticket, order_type, aux)
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
        trailing_amount=trailing_amount, trailing_type=trailing_type, cash_qty=cash_qty,
    )


def _check_cash_quantity(quantity: float | None, cash_qty: float, order_type: str,
                         contract: Contract) -> None:
    """`cashQty` replaces `quantity`, for market and limit orders on stocks."""
    if quantity is not None:
        raise OrderRejectedError("Specify either quantity or cashQty, not both")
    if cash_qty <= 0:
        raise OrderRejectedError("Cash quantity must be a positive amount")
    if order_type not in CASH_QTY_TYPES or contract.sec_type != "STK":
        raise OrderRejectedError(
            f"Cash quantity is not supported for {order_type} orders on {contract.sec_type}")


def _trailing(ticket: dict[str, Any], order_type: str,
              aux: float | None) -> tuple[float | None, str | None]:
    """(trailingAmt, trailingType) of a TRAIL/TRAILLMT ticket; refused on other types."""
    amount = _number(ticket, "trailingAmt")
    kind = ticket.get("trailingType")
    if order_type not in TRAILING:
        if amount is not None or kind not in (None, ""):
            raise OrderRejectedError(f"trailingAmt applies to TRAIL and TRAILLMT orders, not "
                                     f"{order_type}")
        return None, None
    if amount is None or amount <= 0 or kind not in TRAILING_TYPES:
        raise OrderRejectedError("Trailing orders require trailingAmt > 0 and trailingType "
                                 "'amt' or '%'")
    if kind == "%" and amount >= 100:
        raise OrderRejectedError("A trailing percentage must be below 100")
    if order_type == "TRAILLMT" and (aux is None or aux < 0):
        raise OrderRejectedError("Trailing stop limit orders require auxPrice (the limit offset)")
    return amount, str(kind)


def fill_price(order: Order, last: float) -> float | None:
    """Decide whether a working order executes at `last`; moves trailing stops and triggers
    stops as side effects."""
    order.follow(last)
    stop = order.stop_price
    if stop is not None and not order.triggered:
        hit = last >= stop if order.side == "BUY" else last <= stop
        if not hit:
            return None
        order.triggered = True
    if order.order_type in ("MKT", "STP", "TRAIL"):
        return last
    limit = order.limit_price or 0.0
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
        "description1": c.symbol, "ticker": c.symbol, "secType": c.sec_type,
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
    entry.update(_special_live(order))
    return entry


def _special_live(order: Order) -> dict[str, Any]:
    """Trailing and cash-quantity fields of a live order (names the simulator's; the shared
    IBKR notes do not list them)."""
    out: dict[str, Any] = {}
    if order.order_type in TRAILING:
        out.update(trailingAmt=_fmt(order.trailing_amount), trailingType=order.trailing_type,
                   price=_fmt(order.limit_price))
        if order.order_type == "TRAILLMT":
            out["limitOffset"] = _fmt(order.limit_offset)
    if order.cash_qty is not None:
        out["cashQty"] = _fmt(order.cash_qty)
    return out


def _side_word(order: Order, past: bool) -> str:
    """`Bought`/`Sold` once something filled, `Buy`/`Sell` before."""
    if past:
        return "Bought" if order.side == "BUY" else "Sold"
    return order.side.title()


_STATUS_TEXT = {"PendingSubmit": "Order Pending Submit", "PreSubmitted": "Order Presubmitted",
                "Submitted": "Order Submitted", "Filled": "Order Filled",
                "PendingCancel": "Order Pending Cancel", "Cancelled": "Order Cancelled",
                "Inactive": "Order Inactive"}


def render_status(order: Order) -> dict[str, Any]:
    """GET /iserver/account/order/status/{orderId} in IBKR's field names (sizes as strings)."""
    c = order.contract
    _, orig = _NAMES[order.order_type]
    filled = order.filled
    verb, kind = _side_word(order, filled > 0), orig.title().replace("_", " ")
    tif = order.tif.title()
    when = order.fills[-1].time if order.fills else order.created
    out: dict[str, Any] = {
        "sub_type": None, "request_id": str(order.order_id % 1000), "server_id": "0",
        "order_id": order.order_id, "conidex": str(c.conid), "conid": c.conid,
        "symbol": c.symbol, "side": "B" if order.side == "BUY" else "S",
        "contract_description_1": c.symbol, "listing_exchange": c.exchange,
        "option_acct": "c", "company_name": c.company,
        "size": f"{order.quantity - filled:.1f}", "total_size": f"{order.quantity:.1f}",
        "currency": c.currency, "account": order.account, "order_type": orig,
        "cum_fill": f"{filled:.1f}", "order_status": order.status,
        "order_ccp_status": "2" if order.status in WORKING else "0",
        "order_status_description": _STATUS_TEXT.get(order.status, order.status),
        "tif": order.tif, "fgColor": "#FFFFFF", "bgColor": "#000000",
        "order_not_editable": order.status not in WORKING, "editable_fields": "",
        "cannot_cancel_order": order.status not in WORKING, "deactivate_order": False,
        "sec_type": c.sec_type, "available_chart_periods": "#R|1",
        "order_description": f"{verb} {order.quantity:g} {kind}, {tif}",
        "order_description_with_contract": f"{verb} {order.quantity:g} {c.symbol} {kind}, {tif}",
        "alert_active": 1, "child_order_type": "0", "order_clearing_account": order.account,
        "size_and_fills": f"{filled:g}/{order.quantity:g}" if filled else f"{order.quantity:g}",
        "allowed_duplicate_opposite": True,
        "order_time": time.strftime("%y%m%d%H%M%S", time.gmtime(when)),
        "order_ref": order.coid or "",
    }
    if order.avg_price is not None:
        out["average_price"] = _fmt(order.avg_price)
    if order.limit_price is not None:
        out["limit_price"] = _fmt(order.limit_price)
    if order.stop_price is not None:
        out["stop_price"] = _fmt(order.stop_price)
    if order.order_type in TRAILING:
        out.update(trailing_amount=_fmt(order.trailing_amount), trailing_type=order.trailing_type)
        if order.order_type == "TRAILLMT":
            out["limit_offset"] = _fmt(order.limit_offset)
    if order.cash_qty is not None:
        out["cash_quantity"] = _fmt(order.cash_qty)
    if order.reason:
        out["order_status_description"] = f"Order Inactive: {order.reason}"
    return out


def render_trade(order: Order, n: int, fill: Fill) -> dict[str, Any]:
    """One execution of GET /iserver/account/trades in IBKR's field names."""
    c = order.contract
    verb = "Bot" if order.side == "BUY" else "Sld"
    amount = fill.quantity * fill.price * c.multiplier  # an option's 1 @ 12.50 is 1,250
    signed = -amount if order.side == "BUY" else amount
    return {
        "execution_id": f"{order.order_id:08x}.{n:04d}.01.01", "symbol": c.symbol,
        "supports_tax_opt": "1", "side": "B" if order.side == "BUY" else "S",
        "order_description": f"{verb} {fill.quantity:g} @ {fill.price:.2f} on {c.exchange}",
        "trade_time": time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(fill.time)),
        "trade_time_r": int(fill.time * 1000), "size": fill.quantity,
        "price": f"{fill.price:.2f}", "order_ref": order.coid or "", "submitter": order.account,
        "exchange": c.exchange, "commission": "0.00", "net_amount": round(signed, 2),
        "account": order.account, "accountCode": order.account, "company_name": c.company,
        "contract_description_1": c.symbol, "sec_type": c.sec_type, "listing_exchange": c.exchange,
        "conid": c.conid, "conidEx": str(c.conid), "clearing_id": "IB",
        "clearing_name": "IB", "liquidation_trade": "0", "is_event_trading": "0",
        "order_id": order.order_id,
    }
