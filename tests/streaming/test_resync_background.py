"""The live-orders read after a reconnect runs beside market data, and order updates that came
meanwhile are merged after it, in order."""

from __future__ import annotations

import threading
import time
from typing import Any

from noetl_ib_plugin.actions.order_lookup import live_orders
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.streaming import (
    ErrorEvent,
    OrderEvent,
    QuoteEvent,
    ResyncedEvent,
    StreamClient,
    StreamEvent,
)
from tests.fixtures.simulators import act, client_for
from tests.streaming.test_stream_client import AAPL, FAST, _next, stream_sim  # noqa: F401


def test_quotes_flow_while_the_resync_read_waits(stream_sim: Simulator) -> None:  # noqa: F811
    """A held resync read: quotes keep coming; an order update from meanwhile follows resynced."""
    ib = client_for(stream_sim, "sim_oauth2")
    reading, release = threading.Event(), threading.Event()

    def slow_read() -> list[dict[str, Any]]:
        orders = live_orders(ib)
        reading.set()
        release.wait(2.0)
        return orders

    stream_sim.set_price(AAPL, 190.0)
    stream = StreamClient(ib, settings=FAST, read_live_orders=slow_read)
    with stream:
        stream.subscribe("orders")
        stream.subscribe_quotes([AAPL], ["last"])
        assert stream.wait_ready(5)
        placed = act(stream_sim, "sim_oauth2", "place_order", symbol="AAPL", side="BUY",
                     quantity=1, order_type="LMT", limit_price=186.0)
        oid = int(placed["order_id"])
        _next(stream, lambda e: isinstance(e, OrderEvent) and e.order_id == oid)
        stream_sim.set_faults({"ws_drop": 1.0})
        _next(stream, lambda e: isinstance(e, ErrorEvent) and e.kind == "reconnect")
        stream_sim.set_faults({})
        assert reading.wait(8)
        stream_sim.set_price(AAPL, 191.0)
        quote = _next(stream, lambda e: isinstance(e, QuoteEvent) and e.last == 191.0,
                      1.5)
        assert not release.is_set() and isinstance(quote, QuoteEvent)
        act(stream_sim, "sim_oauth2", "cancel_order", order_id=str(oid))
        time.sleep(0.3)  # the cancel reaches the socket while the read is still held
        release.set()
        seen: list[StreamEvent] = []
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and not any(
                isinstance(e, OrderEvent) and e.order_id == oid
                and e.order.get("status") == "Cancelled" for e in seen):
            event = stream.get(0.5)
            if event is not None and not isinstance(event, QuoteEvent):
                seen.append(event)
        kinds = [type(e).__name__ for e in seen]
        assert "ResyncedEvent" in kinds, kinds
        resynced_at = kinds.index("ResyncedEvent")
        cancelled = [i for i, e in enumerate(seen) if isinstance(e, OrderEvent)
                     and e.order.get("status") == "Cancelled"]
        assert cancelled and cancelled[0] > resynced_at
        assert isinstance(seen[resynced_at], ResyncedEvent)
        assert stream.order(oid)["status"] == "Cancelled"  # type: ignore[index]
