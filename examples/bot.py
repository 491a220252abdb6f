"""A trading bot's loop on `TradingClient`: connect, balance, positions, quote, a resting order, cancel.

Run it as is (`.venv/bin/python examples/bot.py`): it starts the embedded IBKR simulator, writes
its throw-away OAuth 1.0a keys to a temporary directory and exports the same OAUTH_* variables a
bot sets for IBKR, so `TradingClient.from_env()` reads them exactly as it would in production.
Against IBKR, set the variables yourself and call `run_bot(TradingClient.from_env())`.
Prints one JSON summary; exits non-zero if any step fails.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from noetl_ib_plugin import IBPluginError, TradingClient

#: Buy this far below the bid: under IBKR's 3% price-constraint question, far enough to rest.
RESTING_DISCOUNT = 0.025


def run_bot(ib: TradingClient, symbol: str = "AAPL") -> dict[str, Any]:
    """One pass of a swing bot: read the account and the market, rest a buy, then cancel it."""
    status = ib.connect()
    balance = ib.get_account_balance()
    positions = ib.get_positions()
    quote = ib.get_market_data([symbol], fields=["last", "bid", "ask"]).snapshots[0]
    bid = quote.value("bid") or quote.value("last")
    if not isinstance(bid, (int, float)):
        raise SystemExit(f"bot: no bid or last price for {symbol}: {quote.missing}")
    limit = round(bid * (1 - RESTING_DISCOUNT), 2)
    order = ib.place_order(symbol=symbol, side="BUY", quantity=1, order_type="LMT",
                           limit_price=limit)
    cancel = ib.cancel_order(order.order_id)
    return {
        "connected": status.authenticated and status.connected,
        "account_id": balance.account_id,
        "available_funds": balance.available_funds,
        "positions": positions.count,
        "quote": {"symbol": quote.symbol, "bid": bid},
        "order": {"order_id": order.order_id, "limit_price": limit, "status": order.status},
        "cancel": cancel.status,
    }


@contextmanager
def simulator_environment() -> Iterator[dict[str, str]]:
    """The embedded simulator and the OAUTH_* environment a bot would export for it."""
    from noetl_ib_plugin.testing import running_simulator

    with tempfile.TemporaryDirectory(prefix="ib-bot-") as tmp, \
            running_simulator(state_dir=Path(tmp) / "sim") as sim:
        records = json.loads(sim.credentials_file.read_text(encoding="utf-8"))["credentials"]
        data = next(r for r in records if r["name"] == "sim_oauth1a")["data"]
        paths = {}
        for name in ("signature_key", "encryption_key"):
            path = Path(tmp) / f"private_{name.split('_')[0]}.pem"
            path.write_text(data[name], encoding="utf-8")
            path.chmod(0o600)
            paths[name] = str(path)
        yield {
            "OAUTH_CONSUMER_KEY": data["consumer_key"],
            "OAUTH_ACCESS_TOKEN": data["access_token"],
            "OAUTH_ACCESS_TOKEN_SECRET": data["access_token_secret"],
            "OAUTH_SIGNATURE_PATH": paths["signature_key"],
            "OAUTH_ENCRYPTION_PATH": paths["encryption_key"],
            "OAUTH_DH_PRIME": data["dh_prime"],
            "PAPER_TRADING": "true",
            "IBKR_API_BASE_URL": data["api_base_url"],
            "NOETL_IB_CACHE_DIR": str(Path(tmp) / "token-cache"),
        }


def main() -> int:
    """Run the bot against the simulator and print its summary as one JSON line."""
    with simulator_environment() as env:
        os.environ.update(env)
        try:
            with TradingClient.from_env() as ib:
                summary = run_bot(ib)
        except IBPluginError as exc:
            print(f"bot: {exc}", file=sys.stderr)
            return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
