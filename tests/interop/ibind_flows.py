"""Run by ibind 0.2.2's own interpreter, never imported by the suite: the flows of ibind's REST
examples (rest_01 basic, rest_02 intermediate, rest_03 stock querying, rest_04 place order,
rest_05 market history) against the simulator, ibind unchanged.

Usage: python ibind_flows.py CREDENTIALS_JSON. Differences from the examples, all forced by
the simulator's small contract universe or by running for real: symbols outside it (GOOG,
AMZN, HUBS, ...) are replaced by ones it lists, StockQuery's exchange "MEXI" by "NASDAQ", and
the order is placed for real instead of against ibind's mocked `requests`. Every HTTP call ibind
makes is recorded (a `requests.Session.send` wrapper in this process). Prints one JSON line:
{"calls": [[method, path, status], ...], "steps": {step: "ok" | "error: ..."}, "seen": {...}}.
"""

import json
import re
import sys
import time
from typing import Any

import requests
from ibind import QuestionType, StockQuery  # type: ignore[import-not-found]
from ibind.client.ibkr_utils import OrderRequest  # type: ignore[import-not-found]
from ibind_driver import ibind_client  # type: ignore[import-not-found]  # beside this script

CALLS: list[list[Any]] = []
_send = requests.Session.send


def _recording_send(self: requests.Session, request: requests.PreparedRequest,
                    **kw: Any) -> requests.Response:
    """Record (method, path with ids folded, status) of every call ibind makes."""
    resp = _send(self, request, **kw)
    path = (request.path_url or "").split("?", 1)[0]
    path = re.sub(r"/DU\d+", "/{acct}", re.sub(r"/\d{5,}", "/{id}", path))
    path = re.sub(r"/reply/[0-9a-f-]{36}", "/reply/{id}", path)
    CALLS.append([request.method, path, resp.status_code])
    return resp


requests.Session.send = _recording_send  # type: ignore[method-assign]


def main(path: str) -> None:
    """Drive the five example flows; each step's outcome goes under `steps`."""
    client, account = ibind_client(path)
    steps: dict[str, str] = {}
    seen: dict[str, Any] = {}

    def step(name: str, run: Any) -> None:
        try:
            seen[name] = run()
            steps[name] = "ok"
        except Exception as exc:  # a flow step that fails is the finding, not a crash
            steps[name] = f"error: {type(exc).__name__}: {str(exc)[:300]}"

    # rest_01_basic
    step("basic.check_health", client.check_health)
    step("basic.tickle", lambda: bool(client.tickle().data))
    step("basic.portfolio_accounts", lambda: [a["accountId"] for a in
                                              client.portfolio_accounts().data])
    # rest_02_intermediate
    step("intermediate.get_ledger", lambda: sorted(client.get_ledger().data))
    step("intermediate.positions", lambda: [p["ticker"] for p in client.positions().data])
    step("intermediate.account_summary",
         lambda: sorted(client.account_summary(account).data)[:3])
    # rest_03_stock_querying
    step("stocks.security_stocks_by_symbol",
         lambda: sorted(client.security_stocks_by_symbol("AAPL").data))
    step("stocks.stock_conid_by_symbol", lambda: client.stock_conid_by_symbol("AAPL").data)
    step("stocks.stock_query", lambda: client.stock_conid_by_symbol(
        StockQuery("AAPL", contract_conditions={"exchange": "NASDAQ"}),
        default_filtering=False).data)
    step("stocks.mixed_queries", lambda: client.stock_conid_by_symbol(
        [StockQuery("AAPL", contract_conditions={"exchange": "NASDAQ"}), "MSFT",
         StockQuery("BHP", name_match="BHP GROUP LTD-SPON ADR")], default_filtering=False).data)
    # rest_04_place_order (for real: the simulator is the paper broker)
    order = OrderRequest(conid="265598", side="BUY", quantity=1, order_type="MKT",
                         acct_id=account, coid=f"ibind-flow-{int(time.time() * 1000)}")
    answers = {QuestionType.PRICE_PERCENTAGE_CONSTRAINT: True,
               QuestionType.ORDER_VALUE_LIMIT: True, "Unforeseen new question": True}
    step("place_order.place_order", lambda: client.place_order(order, answers, account).data)
    step("place_order.live_orders", lambda: len(client.live_orders(account_id=account)
                                                .data.get("orders", [])))
    # rest_05_marketdata_history
    hist = {"period": "1d", "bar": "1d", "outside_rth": True}
    step("history.by_conid",
         lambda: len(client.marketdata_history_by_conid("265598", **hist).data["data"]))
    step("history.by_symbol",
         lambda: len(client.marketdata_history_by_symbol("AAPL", **hist).data["data"]))
    step("history.by_symbols_one", lambda: sorted(client.marketdata_history_by_symbols(
        "AAPL", **hist)))
    five = ["AAPL", "MSFT", "SPY", "IBM", "TSLA"]
    step("history.by_symbols_sync", lambda: sorted(client.marketdata_history_by_symbols(
        five, run_in_parallel=False, **hist)))
    step("history.by_symbols_parallel",
         lambda: sorted(client.marketdata_history_by_symbols(five, **hist)))
    print(json.dumps({"calls": CALLS, "steps": steps, "seen": seen}, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
