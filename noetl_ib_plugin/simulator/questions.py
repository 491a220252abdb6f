"""Precautionary order questions: which ids an order triggers, worded as IBKR words them.

Independent clients (ibind and others) answer questions by matching phrases of the text, so each
text carries IBKR's own key phrase ("price exceeds the Percentage constraint of 3%", "size
exceeds the Size Limit of", ...). Which ids an order meets is the simulator's rule (README).
"""

from __future__ import annotations

from collections.abc import Collection

from .orders import Order

__all__ = [
    "OPTIONAL_WARNINGS",
    "PRICE_CONSTRAINT",
    "SIZE_LIMIT",
    "SUPPRESSIBLE",
    "VALUE_LIMIT",
    "questions_for",
]

PRICE_CONSTRAINT = 0.03
SIZE_LIMIT = 5000.0
VALUE_LIMIT = 1_000_000.0
_SURE = "\nAre you sure you want to submit this order?"

#: Generic warnings an account may have switched on; asked only when enabled (`order_warnings`).
OPTIONAL_WARNINGS = frozenset({"o10151", "o10152", "o10153", "o10331", "p12"})
#: Ids `POST /iserver/questions/suppress` accepts.
SUPPRESSIBLE = frozenset({"o163", "o354", "o382", "o383", "o403", "o451", "o2136", "o2137",
                          "o2165", "o10082", "o10138", "o10151", "o10152", "o10153", "o10164",
                          "o10223", "o10288", "o10331", "o10332", "o10333", "o10334", "o10335",
                          "o10336", "p6", "p12"})

_FIXED = {
    "o354": "You are submitting an order without market data. We strongly recommend against "
            "this as it may result in erroneous and unexpected trades." + _SURE,
    "o403": "This order will most likely trigger and fill immediately." + _SURE,
    "o10151": "<h4>Market Order Confirmation</h4>Please be aware of the risks with Market Orders: "
              "a market order executes at the best price available, which can differ from the "
              "last price." + _SURE,
    "o10152": "<h4>Stop Order Confirmation</h4>Please be aware of the risks associated with stop "
              "orders once they become active: an activated stop order executes as a market "
              "order." + _SURE,
    "o10153": "<h4>Confirm Mandatory Cap Price</h4>To avoid trading at a price that is not "
              "consistent with a fair and orderly market, IB may set a cap (for a buy order) or "
              "floor (for a sell order). THIS MAY CAUSE AN ORDER THAT WOULD OTHERWISE BE "
              "MARKETABLE TO NOT BE TRADED.",
    "o10331": "You are about to submit a stop order. Please be aware of the various stop order "
              "types available and the risks associated with each one." + _SURE,
    "p12": "If your order is not immediately executable, our systems may, depending on market "
           "conditions, reject your order if its limit price is more than the allowed amount "
           "away from the reference price at that time. If this happens, you will not receive "
           "a fill. This is a control designed to ensure that we comply with our regulatory "
           "obligations to avoid submitting disruptive orders to the marketplace.\n"
           "Use the Price Management Algo?",
}


def _desc(order: Order, with_price: bool = True) -> str:
    """IBKR quotes the order like `BUY 650 AAPL NASDAQ.NMS @ 183.53`."""
    c = order.contract
    venue = "NASDAQ.NMS" if c.exchange == "NASDAQ" else c.exchange
    text = f"{order.side} {order.quantity:g} {c.symbol} {venue}"
    return f"{text} @ {order.price}" if with_price and order.price is not None else text


def _marketable(order: Order, last: float) -> bool:
    """A limit that would trade at `last` right now."""
    if order.price is None or last <= 0:
        return False
    return last <= order.price if order.side == "BUY" else last >= order.price


def questions_for(order: Order, last: float, *, warnings: Collection[str] = (),
                  suppressed: Collection[str] = ()) -> list[tuple[str, str]]:
    """The questions (message id, text) this order must get through, in the order asked.

    `warnings` enables ids of OPTIONAL_WARNINGS; `suppressed` ids (per brokerage session, from
    POST /iserver/questions/suppress) are never asked.
    """
    out: list[tuple[str, str]] = []
    c = order.contract
    kind = order.order_type
    if not c.market_data:
        out.append(("o354", _FIXED["o354"]))
    if kind == "LMT" and order.price is not None and last > 0 and \
            abs(order.price - last) / last > PRICE_CONSTRAINT:
        out.append(("o163", f'The following order "{_desc(order)}" price exceeds \nthe '
                            f"Percentage constraint of {PRICE_CONSTRAINT:.0%}." + _SURE))
    stop = order.stop_price
    if stop is not None and ((order.side == "BUY" and stop <= last) or
                             (order.side == "SELL" and stop >= last)):
        out.append(("o403", _FIXED["o403"]))
    if order.quantity > SIZE_LIMIT:
        out.append(("o383", f'The following order "{_desc(order, False)}" size exceeds the Size '
                            f"Limit of {SIZE_LIMIT:g}." + _SURE))
    value = order.quantity * (order.price if order.price is not None else last)
    if value > VALUE_LIMIT:
        out.append(("o451", f'The following order "{_desc(order)}" value estimate of '
                            f"{value:,.2f} USD exceeds \nthe Total Value Limit of "
                            f"{VALUE_LIMIT:,.0f} USD." + _SURE))
    enabled = set(warnings) & OPTIONAL_WARNINGS
    if kind == "MKT":
        out += [(m, _FIXED[m]) for m in ("o10151", "o10153") if m in enabled]
    if kind in ("STP", "STOP_LIMIT"):
        out += [(m, _FIXED[m]) for m in ("o10152", "o10331") if m in enabled]
    if kind == "LMT" and "p12" in enabled and not _marketable(order, last):
        out.append(("p12", _FIXED["p12"]))
    skip = {s.lower() for s in suppressed}
    return [(mid, text) for mid, text in out if mid not in skip]
