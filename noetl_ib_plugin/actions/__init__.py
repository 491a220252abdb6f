"""Built-in trading actions: names and input models are the public contract playbooks rely on."""

from __future__ import annotations

from typing import Any

from ..client import IBClient
from .marketdata import snapshot
from .models import (
    AccountSummaryInput,
    CancelOrderInput,
    GetOpenOrdersInput,
    GetPositionsInput,
    PlaceOrderInput,
    SnapshotInput,
)
from .orders import cancel_order, get_open_orders, place_order
from .portfolio import account_summary, get_positions
from .spec import Action

__all__ = ["BUILTIN_ACTIONS", "Action"]


def _place_order(client: IBClient, inp: Any) -> dict[str, Any]:
    """Adapter with the `run(client, input)` signature (settings stay at their defaults)."""
    return place_order(client, inp)


BUILTIN_ACTIONS: list[Action] = [
    Action(
        name="place_order",
        input_model=PlaceOrderInput,
        run=_place_order,
        description="Place one order (MKT/LMT/STP/STOP_LIMIT) exactly once, answering IBKR's "
        "questions by the confirm policy.",
        trading=True,
    ),
    Action(
        name="cancel_order",
        input_model=CancelOrderInput,
        run=cancel_order,
        description="Request cancellation of a working order by order_id.",
        trading=True,
    ),
    Action(
        name="get_open_orders",
        input_model=GetOpenOrdersInput,
        run=get_open_orders,
        description="List the day's orders (working, filled, cancelled), normalised.",
    ),
    Action(
        name="get_positions",
        input_model=GetPositionsInput,
        run=get_positions,
        description="All positions of the account (every page), numbers as numbers.",
    ),
    Action(
        name="account_summary",
        input_model=AccountSummaryInput,
        run=account_summary,
        description="Net liquidation, available funds, buying power, cash and margin figures.",
    ),
    Action(
        name="snapshot",
        input_model=SnapshotInput,
        run=snapshot,
        description="Market data snapshot for symbols/conids, polled through the pre-flight "
        "until the requested fields arrive (bounded).",
    ),
]
