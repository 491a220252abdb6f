"""IBKR order states and order-type names: the one table every order action consults.

Source: IBKR Web API, `GET /iserver/account/orders` (status values and the lower-case `filters`
tokens) and the order ticket's `orderType` (doc §7, §11 of shared/ibkr-web-api.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from ..errors import InputError

__all__ = [
    "CANCELLED",
    "CAN_FILL",
    "CASH_QUANTITY_TYPES",
    "FILLED",
    "INACTIVE",
    "LIMIT_PRICED",
    "ORDER_TYPES",
    "STATES",
    "STOP_PRICED",
    "TRAILING",
    "WORKING",
    "OrderType",
    "filter_tokens",
    "fold_order_type",
    "order_type_name",
]

#: status -> (kind, the endpoint's filter token). Kinds: working, filled, cancelled, inactive.
#: `Inactive` is accepted-but-not-working (IBKR's rejection in disguise): never working, never
#: filled; placement reports it as a refusal, cancel treats it as nothing left to cancel.
STATES: dict[str, tuple[str, str]] = {
    "PendingSubmit": ("working", "pending_submit"),
    "PreSubmitted": ("working", "pre_submitted"),
    "Submitted": ("working", "submitted"),
    "Filled": ("filled", "filled"),
    "PendingCancel": ("cancelled", "pending_cancel"),
    "PreCancelled": ("cancelled", "pre_cancelled"),
    "Cancelled": ("cancelled", "cancelled"),
    "Inactive": ("inactive", "inactive"),
}

WORKING = frozenset(s for s, (kind, _) in STATES.items() if kind == "working")
FILLED = frozenset(s for s, (kind, _) in STATES.items() if kind == "filled")
CANCELLED = frozenset(s for s, (kind, _) in STATES.items() if kind == "cancelled")
INACTIVE = frozenset(s for s, (kind, _) in STATES.items() if kind == "inactive")
#: Orders that can still execute: working ones, and `PendingCancel` (the cancel is not
#: confirmed yet, so the order can still fill; IBKR/TWS docs, ibkr-web-api.md s.13).
CAN_FILL = WORKING | {"PendingCancel"}

#: The order types a ticket can carry (IBKR `orderType`).
OrderType = Literal["MKT", "LMT", "STP", "STOP_LIMIT", "TRAIL", "TRAILLMT"]

#: Every spelling of the four order types (IBKR's long and short names, and what users type),
#: upper-cased with '-' and ' ' folded to '_' -> the ticket's MKT/LMT/STP/STOP_LIMIT.
ORDER_TYPES: dict[str, str] = {
    "MKT": "MKT",
    "MARKET": "MKT",
    "LMT": "LMT",
    "LIMIT": "LMT",
    "STP": "STP",
    "STOP": "STP",
    "STOP_LIMIT": "STOP_LIMIT",
    "STP_LMT": "STOP_LIMIT",
    "STOPLIMIT": "STOP_LIMIT",
    "STPLMT": "STOP_LIMIT",
    "STOP_LMT": "STOP_LIMIT",
    "STP_LIMIT": "STOP_LIMIT",
    "TRAIL": "TRAIL",
    "TRAILING_STOP": "TRAIL",
    "TRAILLMT": "TRAILLMT",
    "TRAIL_LMT": "TRAILLMT",
    "TRAIL_LIMIT": "TRAILLMT",
    "TRAILING_STOP_LIMIT": "TRAILLMT",
}
#: Order types whose ticket carries a limit price (`price`) / a stop price (`auxPrice`).
LIMIT_PRICED = frozenset({"LMT", "STOP_LIMIT"})
STOP_PRICED = frozenset({"STP", "STOP_LIMIT"})
#: Trailing stops: `trailingAmt` + `trailingType` ("amt" or "%"); TRAILLMT adds a limit offset.
TRAILING = frozenset({"TRAIL", "TRAILLMT"})
#: Order types IBKR takes a cash quantity (`cashQty`) for, on stocks.
CASH_QUANTITY_TYPES = frozenset({"MKT", "LMT"})

_TOKENS = {token: token for _, token in STATES.values()}
_BY_FOLDED = {
    **{status.lower(): token for status, (_, token) in STATES.items()},
    **{token.replace("_", ""): token for token in _TOKENS},
}


def fold_order_type(raw: str) -> str:
    """The lookup key of an order-type spelling: upper case, '-' and ' ' as '_'."""
    return raw.strip().upper().replace("-", "_").replace(" ", "_")


def order_type_name(raw: object) -> str | None:
    """IBKR's long or short order-type name (`Limit`, `STOP_LIMIT`, `STP LMT`) as the ticket's;
    a type outside the table (`TRAIL`) comes back upper-cased, an empty one as None."""
    text = str(raw or "").strip().upper()
    return ORDER_TYPES.get(fold_order_type(text), text or None)


def filter_tokens(names: Iterable[str]) -> list[str]:
    """Status names (`Submitted`, `PreSubmitted`) or tokens -> the endpoint's `filters` tokens.

    Raises InputError naming `filters` for anything that is not an IBKR order status, before
    any request is sent (IBKR answers 500 to a filter it does not know).
    """
    out: list[str] = []
    for name in names:
        folded = str(name).strip().lower().replace("_", "").replace(" ", "")
        token = _BY_FOLDED.get(folded)
        if token is None:
            valid = ", ".join(sorted(STATES))
            raise InputError(
                f"unknown order status filter {name!r}",
                field="filters",
                fix=f"use IBKR order statuses: {valid} (e.g. filters=Submitted,Filled).",
            )
        if token not in out:
            out.append(token)
    return out
