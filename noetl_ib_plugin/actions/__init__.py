"""Built-in trading actions: names and input models are the public contract playbooks rely on.

Input models and run functions are named by import path and load on first use, so a
`noetl-ib run get_positions` step never imports the order or market-data code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .spec import Action

if TYPE_CHECKING:
    from ..client import IBClient
    from .outputs.orders import PlaceOrderOutput

__all__ = ["BUILTIN_ACTIONS", "Action"]

_MODELS = f"{__name__}.models"
_OUT = f"{__name__}.outputs"


def _place_order(client: IBClient, inp: Any) -> PlaceOrderOutput:
    """Adapter with the `run(client, input)` signature (settings stay at their defaults)."""
    from .orders import place_order

    return place_order(client, inp)


BUILTIN_ACTIONS: list[Action] = [
    Action(
        name="place_order",
        input_model=f"{_MODELS}:PlaceOrderInput",
        run=_place_order,
        output_model=f"{_OUT}:PlaceOrderOutput",
        description="Place one order (MKT/LMT/STP/STOP_LIMIT/TRAIL/TRAILLMT, or a cash quantity) "
        "exactly once, answering IBKR's questions by the confirm policy.",
        trading=True,
    ),
    Action(
        name="place_bracket",
        input_model=f"{__name__}.order_bracket:PlaceBracketInput",
        run=f"{__name__}.order_bracket:place_bracket",
        output_model=f"{_OUT}:OrderGroupOutput",
        description="Place an entry order with a take-profit (LMT) and/or stop-loss (STP) child "
        "in one request, exactly once; each leg's outcome as IBKR holds it.",
        trading=True,
    ),
    Action(
        name="place_oca",
        input_model=f"{__name__}.order_bracket:PlaceOcaInput",
        run=f"{__name__}.order_bracket:place_oca",
        output_model=f"{_OUT}:OrderGroupOutput",
        description="Place several orders as one OCA group (IBKR isSingleGroup: the first to "
        "fill cancels the others), exactly once; each leg's outcome as IBKR holds it.",
        trading=True,
    ),
    Action(
        name="cancel_order",
        input_model=f"{_MODELS}:CancelOrderInput",
        run=f"{__name__}.order_cancel:cancel_order",
        output_model=f"{_OUT}:CancelOrderOutput",
        description="Request cancellation of a working order by order_id.",
        trading=True,
    ),
    Action(
        name="modify_order",
        input_model=f"{__name__}.order_modify:ModifyOrderInput",
        run=f"{__name__}.order_modify:modify_order",
        output_model=f"{_OUT}:ModifyOrderOutput",
        description="Modify a working order (price, stop, quantity, tif, trailing amount) to "
        "target values; a lost answer is resolved by reading the order back.",
        trading=True,
    ),
    Action(
        name="get_open_orders",
        input_model=f"{_MODELS}:GetOpenOrdersInput",
        run=f"{__name__}.orders:get_open_orders",
        output_model=f"{_OUT}:OpenOrdersOutput",
        description="List the day's orders (working, filled, cancelled), normalised.",
    ),
    Action(
        name="get_positions",
        input_model=f"{_MODELS}:GetPositionsInput",
        run=f"{__name__}.portfolio:get_positions",
        output_model=f"{_OUT}:PositionsOutput",
        description="All positions of the account (every page), numbers as numbers.",
    ),
    Action(
        name="account_summary",
        input_model=f"{_MODELS}:AccountSummaryInput",
        run=f"{__name__}.portfolio:account_summary",
        output_model=f"{_OUT}:AccountSummaryOutput",
        description="Net liquidation, available funds, buying power, cash and margin figures.",
    ),
    Action(
        name="snapshot",
        input_model=f"{_MODELS}:SnapshotInput",
        run=f"{__name__}.marketdata:snapshot",
        output_model=f"{_OUT}:SnapshotOutput",
        description="Market data snapshot for symbols/conids, polled through the pre-flight "
        "until the requested fields arrive (bounded).",
    ),
    Action(
        name="history",
        input_model=f"{__name__}.history:HistoryInput",
        run=f"{__name__}.history:history",
        output_model=f"{_OUT}:HistoryOutput",
        description="Historical bars (OHLCV) for a symbol or conid; times ISO-8601 UTC; at most "
        "5 concurrent requests per credential.",
    ),
    Action(
        name="ledger",
        input_model=f"{__name__}.ledger:LedgerInput",
        run=f"{__name__}.ledger:ledger",
        output_model=f"{_OUT}:LedgerOutput",
        description="Cash balances per currency (BASE first) of the account.",
    ),
    Action(
        name="accounts",
        input_model=f"{__name__}.accounts:AccountsInput",
        run=f"{__name__}.accounts:accounts",
        output_model=f"{_OUT}:AccountsOutput",
        description="The accounts the credential can trade: paper/live, currency, type, and "
        "which one actions use by default.",
    ),
    Action(
        name="auth_status",
        input_model=f"{__name__}.auth_status:AuthStatusInput",
        run=f"{__name__}.auth_status:auth_status",
        output_model=f"{_OUT}:AuthStatusOutput",
        description="Health check: authenticated, connected, competing, session age; never "
        "fetches or refreshes a token.",
    ),
    Action(
        name="order_status",
        input_model=f"{__name__}.executions:OrderStatusInput",
        run=f"{__name__}.executions:order_status",
        output_model=f"{_OUT}:OrderStatusOutput",
        description="One order's status, fills and average price by order_id.",
    ),
    Action(
        name="trades",
        input_model=f"{__name__}.executions:TradesInput",
        run=f"{__name__}.executions:trades",
        output_model=f"{_OUT}:TradesOutput",
        description="Recent executions (optionally of one order), to confirm a fill.",
    ),
    Action(
        name="wait_order",
        input_model=f"{__name__}.waits:WaitOrderInput",
        run=f"{__name__}.waits:wait_order",
        output_model=f"{_OUT}:WaitOrderOutput",
        streams=True,
        description="Wait on IBKR's order stream until an order is filled, done or working "
        "(confirmed by one REST read); a timeout is an outcome field.",
    ),
    Action(
        name="search_contracts",
        input_model=f"{__name__}.contract_search:SearchContractsInput",
        run=f"{__name__}.contract_search:search_contracts",
        output_model=f"{_OUT}:ContractSearchOutput",
        description="What a symbol names at IBKR and its derivative sections (types, months, "
        "exchanges); with sec_type=OPT month= the strikes, with sec_type=FUT the futures.",
    ),
    Action(
        name="wait_price",
        input_model=f"{__name__}.waits:WaitPriceInput",
        run=f"{__name__}.waits:wait_price",
        output_model=f"{_OUT}:WaitPriceOutput",
        streams=True,
        description="Stream market data until a condition such as 'last >= 190' holds; a "
        "timeout is an outcome field.",
    ),
    Action(
        name="preview_order",
        input_model=f"{__name__}.order_preview:PreviewOrderInput",
        run=f"{__name__}.order_preview:preview_order",
        output_model=f"{_OUT}:PreviewOrderOutput",
        description="Preview an order (IBKR's whatif): commission, margin and equity change, "
        "warnings; never places anything.",
        trading=True,
    ),
    Action(
        name="get_pnl",
        input_model=f"{__name__}.pnl:GetPnlInput",
        run=f"{__name__}.pnl:get_pnl",
        output_model=f"{_OUT}:PnlOutput",
        description="Daily and unrealized P&L of the account (IBKR's partitioned P&L).",
    ),
]
