"""A trading bot's loop on `TradingClient`: connect, balance, positions, quote, a preview, a resting
order and its cancel, a trailing stop moved with `modify_order`, a bracket (resting buy,
take-profit, stop-loss) and its cancel.

Run it as is (`.venv/bin/python examples/bot.py`): it starts the embedded IBKR simulator, writes
its throw-away OAuth 1.0a keys to a temporary directory and exports the same OAUTH_* variables a
bot sets for IBKR, so `TradingClient.from_env()` reads them exactly as it would in production.
`--from-env` uses the variables already exported instead (IBKR, or a simulator you started:
`eval "$(noetl-ib simulator env --state-dir DIR)"`); paper accounts only.
Prints one JSON summary; exits non-zero if any step fails. Run it as often as you like: each run
places its order under a new client_order_id (`order_key`), so a second run is a second order,
while a retry inside one run reuses its key and can never place the order twice.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from noetl_ib_plugin import IBPluginError, TradingClient

#: Buy this far below the bid: under IBKR's 3% price-constraint question, far enough to rest.
RESTING_DISCOUNT = 0.025


def order_key(strategy: str, symbol: str, side: str, run_id: str) -> str:
    """The client_order_id of one intended order: what it is and the run that intends it.

    Same run, same order -> same key (a retry after a lost answer finds the order instead of
    placing a second one); a new run -> a new key. Keep a key fixed across runs only when the
    runs mean the same single order, e.g. "rebalance AAPL on 2026-11-30".
    """
    return f"{strategy}-{symbol}-{side}-{run_id}".lower()


def new_run_id() -> str:
    """A run id unique on this host: UTC time to the second plus the process id."""
    return f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}"


def run_bot(ib: TradingClient, symbol: str = "AAPL", run_id: str | None = None) -> dict[str, Any]:
    """One pass of a swing bot: read the account and the market, preview and rest a buy, trail a
    stop and tighten it, place a bracket; every order it rests is cancelled again."""
    status = ib.connect()
    balance = ib.get_account_balance()
    positions = ib.get_positions()
    quote = ib.get_market_data([symbol], fields=["last", "bid", "ask"]).snapshots[0]
    bid = quote.bid or quote.last
    if bid is None:
        raise SystemExit(f"bot: no bid or last price for {symbol}: {quote.missing}")
    limit = round(bid * (1 - RESTING_DISCOUNT), 2)
    preview = ib.preview_order(symbol=symbol, side="BUY", quantity=1, order_type="LMT",
                               limit_price=limit)
    key = order_key("swing", symbol, "BUY", run_id or new_run_id())
    order = ib.place_order(symbol=symbol, side="BUY", quantity=1, order_type="LMT",
                           limit_price=limit, client_order_id=key)
    cancel = ib.cancel_order(order.order_id)
    # A trailing stop protecting one share: it sells if the price falls 5 % from its high, and
    # `modify_order` tightens it to 4 % in place (no cancel-and-replace window without a stop).
    # Target values, not deltas: a retried modify cannot tighten it twice.
    trail = ib.place_order(symbol=symbol, side="SELL", quantity=1, order_type="TRAIL",
                           trailing_amount=5, trailing_type="%", client_order_id=f"{key}-trail")
    tightened = ib.modify_order(trail.order_id, trailing_amount=4, trailing_type="%")
    trail_cancel = ib.cancel_order(trail.order_id)
    # A bracket: the resting buy plus a take-profit above the bid and a stop-loss below the entry
    # (held by IBKR until the buy fills); cancelling the parent cancels both children.
    bracket = ib.place_bracket(symbol=symbol, side="BUY", quantity=1, order_type="LMT",
                               limit_price=limit, take_profit_price=round(bid * 1.02, 2),
                               stop_loss_price=round(limit * 0.97, 2), exit_tif="GTC",
                               client_order_id=f"{key}-br")
    bracket_cancel = ib.cancel_order(str(bracket.order_id))
    return {
        "connected": status.authenticated and status.connected,
        "account_id": balance.account_id,
        "available_funds": balance.available_funds,
        "positions": positions.count,
        "quote": {"symbol": quote.symbol, "bid": bid},
        "preview": {"commission": preview.commission, "currency": preview.currency,
                    "initial_margin_change": preview.initial_margin.change,
                    "warnings": preview.warnings},
        "order": {"order_id": order.order_id, "client_order_id": order.client_order_id,
                  "limit_price": limit, "status": order.status},
        "cancel": cancel.status,
        "trailing_stop": {"order_id": trail.order_id, "placed_percent": trail.trailing_amount,
                          "modified_percent": tightened.trailing_amount,
                          "outcome": tightened.outcome, "status": tightened.status,
                          "cancel": trail_cancel.status},
        "bracket": {"legs": {leg.role: leg.status for leg in bracket.legs},
                    "cancel": bracket_cancel.status},
    }


@contextmanager
def simulator_environment() -> Iterator[dict[str, str]]:
    """The embedded simulator and the OAUTH_* environment a bot would export for it."""
    from noetl_ib_plugin.simulator.env_exports import exports
    from noetl_ib_plugin.testing import running_simulator

    with tempfile.TemporaryDirectory(prefix="ib-bot-") as tmp, \
            running_simulator(state_dir=Path(tmp) / "sim") as sim:
        env = exports(sim.credentials_file, Path(tmp))
        env["NOETL_IB_CACHE_DIR"] = str(Path(tmp) / "token-cache")
        yield env


def main(argv: list[str] | None = None) -> int:
    """Run the bot (embedded simulator, or --from-env) and print its summary as one JSON line."""
    args = sys.argv[1:] if argv is None else argv
    try:
        if "--from-env" in args:
            with TradingClient.from_env() as ib:
                summary = run_bot(ib)
        else:
            with simulator_environment() as env:
                os.environ.update(env)
                with TradingClient.from_env() as ib:
                    summary = run_bot(ib)
    except IBPluginError as exc:
        print(f"bot: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
