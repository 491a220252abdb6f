"""IBKR order states and order-type names: the one table every order action consults.

Source: IBKR Web API, `GET /iserver/account/orders` (status values and the lower-case `filters`
tokens) and the order ticket's `orderType` (doc §7, §11 of shared/ibkr-web-api.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import InputError

__all__ = [
    "CANCELLED",
    "FILLED",
    "INACTIVE",
    "STATES",
    "WORKING",
    "filter_tokens",
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

#: Anything IBKR calls an order type -> the ticket's MKT/LMT/STP/STOP_LIMIT.
ORDER_TYPES: dict[str, str] = {
    "MARKET": "MKT",
    "MKT": "MKT",
    "LIMIT": "LMT",
    "LMT": "LMT",
    "STOP": "STP",
    "STP": "STP",
    "STOP_LIMIT": "STOP_LIMIT",
    "STOPLIMIT": "STOP_LIMIT",
    "STP LMT": "STOP_LIMIT",
    "STP_LMT": "STOP_LIMIT",
}

_TOKENS = {token: token for _, token in STATES.values()}
_BY_FOLDED = {
    **{status.lower(): token for status, (_, token) in STATES.items()},
    **{token.replace("_", ""): token for token in _TOKENS},
}


def order_type_name(raw: object) -> str | None:
    """IBKR's long or short order-type name (`Limit`, `STOP_LIMIT`, `STP LMT`) as the ticket's."""
    text = str(raw or "").strip().upper()
    return ORDER_TYPES.get(text, text or None)


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
