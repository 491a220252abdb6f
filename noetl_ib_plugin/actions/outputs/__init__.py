"""Output models: the one published schema of every action's result.

Running an action gives its output model: a built-in run function builds it (`load_output`, which
never raises), and `typed_output` validates the dict a plugin's action may return with its
`Action.output_model`; the front doors serialise it at the edge (`output_json`, the model's
`model_dump(mode="json")`): numbers stay numbers, timestamps are ISO-8601 UTC strings. Every
model allows extra fields, so an action may add a field before its model names it.
Field meanings follow IBKR's Web API (the endpoint is named on each model).

The models live in one submodule per area and load on first use, so a `noetl-ib run` step builds
only its own action's model.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .base import ActionResult, Number, load_output, output_json, typed_output

if TYPE_CHECKING:
    from .auth_status import AuthStatusOutput
    from .contracts import (
        ContractSearchOutput,
        FutureListing,
        OptionStrikes,
        SearchSection,
        Underlying,
    )
    from .marketdata import Bar, HistoryOutput, Quote, SnapshotOutput
    from .order_groups import OrderGroupOutput, OrderLeg
    from .orders import (
        CancelOrderOutput,
        Execution,
        ModifyOrderOutput,
        OpenOrdersOutput,
        Order,
        OrderStatusOutput,
        PlaceOrderOutput,
        TradesOutput,
    )
    from .pnl import PnlOutput
    from .portfolio import (
        AccountInfo,
        AccountsOutput,
        AccountSummaryOutput,
        LedgerCurrency,
        LedgerOutput,
        Position,
        PositionsOutput,
    )
    from .preview import PreviewChange, PreviewOrderOutput
    from .waits import WaitOrderOutput, WaitPriceOutput

__all__ = [
    "AccountInfo",
    "AccountSummaryOutput",
    "AccountsOutput",
    "ActionResult",
    "AuthStatusOutput",
    "Bar",
    "CancelOrderOutput",
    "ContractSearchOutput",
    "Execution",
    "FutureListing",
    "HistoryOutput",
    "LedgerCurrency",
    "LedgerOutput",
    "ModifyOrderOutput",
    "Number",
    "OpenOrdersOutput",
    "OptionStrikes",
    "Order",
    "OrderGroupOutput",
    "OrderLeg",
    "OrderStatusOutput",
    "PlaceOrderOutput",
    "PnlOutput",
    "Position",
    "PositionsOutput",
    "PreviewChange",
    "PreviewOrderOutput",
    "Quote",
    "SearchSection",
    "SnapshotOutput",
    "TradesOutput",
    "Underlying",
    "WaitOrderOutput",
    "WaitPriceOutput",
    "load_output",
    "output_json",
    "typed_output",
]

_WHERE = {
    **dict.fromkeys(("Bar", "HistoryOutput", "Quote", "SnapshotOutput"), ".marketdata"),
    **dict.fromkeys(("CancelOrderOutput", "Execution", "ModifyOrderOutput", "OpenOrdersOutput",
                     "Order",
                     "OrderStatusOutput", "PlaceOrderOutput", "TradesOutput"), ".orders"),
    **dict.fromkeys(("AccountInfo", "AccountsOutput", "AccountSummaryOutput", "LedgerCurrency",
                     "LedgerOutput", "Position", "PositionsOutput"), ".portfolio"),
    "AuthStatusOutput": ".auth_status",
    **dict.fromkeys(("OrderGroupOutput", "OrderLeg"), ".order_groups"),
    **dict.fromkeys(("WaitOrderOutput", "WaitPriceOutput"), ".waits"),
    **dict.fromkeys(("PreviewChange", "PreviewOrderOutput"), ".preview"),
    "PnlOutput": ".pnl",
    **dict.fromkeys(("ContractSearchOutput", "FutureListing", "OptionStrikes", "SearchSection",
                     "Underlying"), ".contracts"),
}


def __getattr__(name: str) -> Any:
    """Import a model's submodule on first use (PEP 562)."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
