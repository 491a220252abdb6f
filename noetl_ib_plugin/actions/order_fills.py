"""A placed order's result as IBKR holds it after placement: status, filled quantity, average price.

Source: IBKR Web API `GET /iserver/account/order/status/{orderId}` (`order_status`, `cum_fill`,
`average_price`). The placement answer carries only the order id and a status, so a market
order that filled at once would otherwise come back with its fills unknown.
"""

from __future__ import annotations

import logging
from typing import Any

from ..client import IBClient
from ..errors import IBPluginError
from .order_lookup import order_status_record

__all__ = ["apply_status", "with_fills"]

log = logging.getLogger(__name__)

#: What the order status read may update in a placement record (the broker's current state).
_FROM_STATUS = ("status", "filled_quantity", "avg_price")
_IF_MISSING = ("quantity", "limit_price", "stop_price")


def with_fills(client: IBClient, record: dict[str, Any]) -> dict[str, Any]:
    """`record` updated with IBKR's status, filled quantity and average fill price.

    A read only: when it fails (any error) or answers for another order or contract, the record
    is returned unchanged, since the order is placed whatever the read says.
    """
    order_id = str(record.get("order_id") or "")
    try:
        found = order_status_record(client, order_id)
    except IBPluginError as exc:
        log.warning("order %s: placed; reading its fills failed (%s)", order_id, exc.message)
        return record
    return apply_status(record, found)


def apply_status(record: dict[str, Any], found: dict[str, Any] | None) -> dict[str, Any]:
    """`record` updated from an order status read (`found`), unless that read is missing or
    answers for another order or contract."""
    order_id = str(record.get("order_id") or "")
    if found is None or found.get("order_id") != order_id or \
            found.get("conid") not in (None, record.get("conid")):
        return record
    out = dict(record)
    out.update({key: found[key] for key in _FROM_STATUS if found.get(key) is not None})
    # What the placement answer cannot say: a cash quantity's shares, a trailing stop's prices.
    out.update({key: found[key] for key in _IF_MISSING
                if out.get(key) is None and found.get(key) is not None})
    return out
