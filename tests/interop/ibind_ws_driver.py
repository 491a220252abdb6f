"""Run by ibind 0.2.2's own interpreter, never imported by the suite: its `IbkrWsClient`
(OAuth 1.0a, unchanged) against the simulator's /v1/api/ws.

Usage: python ibind_ws_driver.py CREDENTIALS_JSON. Streams market data for AAPL, places an
order over REST and waits for the order update. Prints one JSON line with what it saw.
"""

import json
import sys
import time
from typing import Any

from ibind import IbkrWsClient, OrderRequest, QueueSink  # type: ignore[import-not-found]
from ibind.events import MarketData, Orders  # type: ignore[import-not-found]
from ibind.subscriptions import (  # type: ignore[import-not-found]
    MarketDataSubscription,
    OrdersSubscription,
)
from ibind_driver import ibind_client  # type: ignore[import-not-found]


def _first(accessor: Any, seconds: float) -> Any:
    """The first event within `seconds`, else None."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        event = accessor.get(block=True, timeout=0.5)
        if event is not None:
            return event
    return None


def main(path: str) -> None:
    """Stream, place, watch; print what ibind saw."""
    with open(path, encoding="utf-8") as handle:
        records = json.load(handle)["credentials"]
    data = next(r for r in records if r["name"] == "sim_oauth1a")["data"]
    client, account = ibind_client(path)
    root = data["api_base_url"].replace("http://", "ws://")
    sink = QueueSink()
    quotes, orders = sink.new_queue_accessor(MarketData), sink.new_queue_accessor(Orders)
    ws = IbkrWsClient(account_id=account, url=root + "/v1/api/ws", ibkr_client=client,
                      use_oauth=True, access_token=data["access_token"], sink=sink, cacert=False)
    out: dict[str, Any] = {"started": ws.start()}
    try:
        ws.subscribe(MarketDataSubscription(conid="265598", fields=["31", "84", "86"]))
        ws.subscribe(OrdersSubscription())
        quote = _first(quotes, 20)
        out["quote"] = None if quote is None else {"conid": quote.conid, **quote.data}
        time.sleep(0.5)
        order = OrderRequest(conid=265598, side="BUY", quantity=1, order_type="LMT",
                             price=round(float(str(quote.data.get("31", "190")).lstrip("CH"))
                                         * 0.995, 2) if quote else 189.0,
                             acct_id=account, tif="DAY", coid=f"ibind-ws-{int(time.time())}")
        placed = client.place_order(order, {}, account_id=account).data
        out["placed"] = placed
        update = _first(orders, 20)
        out["order_update"] = None if update is None else update.data
    finally:
        ws.shutdown()
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
