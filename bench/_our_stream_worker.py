"""Runs in our venv: one measurement of our stream (TradingClient.stream) on the simulator.

Argument: one JSON object {credentials_file, mode, ...}. Prints one JSON line. Modes:
- `cpu` {seconds, dispatch}: a quote callback (TradingStream.on; `dispatch` "thread", the
  default, or "inline") counts socket messages (1 + `merged` of each event) for `seconds`;
  process CPU time, the simulator's sends in the same window, latency percentiles (ms, the
  simulator's `_updated` stamp to the callback, both on this machine's clock).
- `pause` {seconds, orders}: read for 5 s, then stop reading for `seconds` while quotes keep
  coming and `orders` orders are placed and cancelled over REST; resident memory sampled each
  second; then read everything: the quote's `merged` count and every order id seen.
- `reconnect` {drops}: default StreamSettings, quotes and orders; the simulator drops the socket
  (`ws_drop`) `drops` times, 5.5 s apart; seconds from the client seeing the drop to the first
  quote of the new socket (re-authenticated, re-subscribed, orders resynced over REST).
- `orders` {drops, orders}: `orders` orders placed then cancelled over REST while the socket is
  dropped `drops` times; afterwards each order's state as the stream merged it (updates plus the
  "resynced" REST reads) against the simulator's book (`/__sim/orders`). Run with
  NOETL_IB_PACING=off: the resync's live-orders read is paced at 1 per 5 s, which would stretch
  100 reconnects to over 8 minutes without changing what is compared.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

AAPL = 265598
FIELDS = ["last", "bid", "ask"]
#: Seconds between drops in `reconnect`: each reconnect's resync (one REST read of live orders)
#: finds IBKR's 1-per-5-s live-orders pacing free, as a single drop would.
RESYNC_SPACING = 5.5


def _rss_kib() -> int:
    """Resident set size of this process (kB, /proc/self/status VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


class Sim:
    """The simulator's admin API (same host as the credential's api_base_url)."""

    def __init__(self, credentials_file: str) -> None:
        records = json.loads(Path(credentials_file).read_text())["credentials"]
        base = next(r for r in records if r["name"] == "sim_oauth1a")["data"]["api_base_url"]
        self.root = base.split("/v1/")[0].rstrip("/")

    def sent(self) -> int:
        """WebSocket messages the simulator has sent so far."""
        stats = requests.get(f"{self.root}/__sim/stats", timeout=10).json()
        return int(stats.get("ws_messages", 0))

    def faults(self, plan: dict[str, Any]) -> None:
        """Replace the fault plan."""
        requests.post(f"{self.root}/__sim/faults", json=plan, timeout=10).raise_for_status()

    def orders(self) -> dict[int, dict[str, Any]]:
        """The book, by order id."""
        body = requests.get(f"{self.root}/__sim/orders", timeout=10).json()
        rows = body.get("orders", body) if isinstance(body, dict) else body
        return {int(o.get("order_id") or o.get("orderId")): o for o in rows}


def _percentile(values: list[float], q: float) -> float | None:
    """The q-quantile (nearest rank) or None."""
    got = sorted(values)
    return got[min(len(got) - 1, int(len(got) * q))] if got else None


def cpu(ib: Any, sim: Sim, cfg: dict[str, Any]) -> dict[str, Any]:
    """Messages, CPU and latency of a quote callback."""
    from noetl_ib_plugin.streaming import QuoteEvent, StreamEvent

    count = [0]
    latencies: list[float] = []
    measuring = threading.Event()

    def on_quote(event: StreamEvent) -> None:
        assert isinstance(event, QuoteEvent)
        count[0] += 1 + event.merged
        if measuring.is_set() and event.updated:
            latencies.append(time.time() * 1000 - event.updated)

    with ib.stream(quotes=[AAPL], fields=FIELDS, dispatch=cfg.get("dispatch", "thread")) as live:
        live.on("quote", on_quote)
        deadline = time.monotonic() + 10
        while not count[0] and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)
        sent0, n0 = sim.sent(), count[0]
        measuring.set()
        cpu0, wall0 = time.process_time(), time.monotonic()
        time.sleep(float(cfg["seconds"]))
        cpu_s, wall = time.process_time() - cpu0, time.monotonic() - wall0
        messages = count[0] - n0
        measuring.clear()
        sent = sim.sent() - sent0
    return {"messages": messages, "sim_sent": sent, "seconds": wall, "cpu_s": cpu_s,
            "rate_msg_s": messages / wall, "p50_ms": _percentile(latencies, 0.5),
            "p99_ms": _percentile(latencies, 0.99), "latency_samples": len(latencies)}


def pause(ib: Any, sim: Sim, cfg: dict[str, Any]) -> dict[str, Any]:
    """Resident memory while the consumer does not read; nothing but quotes merged."""
    from noetl_ib_plugin.streaming import OrderEvent, QuoteEvent

    with ib.stream(quotes=[AAPL], topics=["orders"], fields=FIELDS) as live:
        end = time.monotonic() + 5
        while time.monotonic() < end:
            live.get(0.1)
        rss = [_rss_kib()]
        placed: list[int] = []
        stop = time.monotonic() + float(cfg["seconds"])
        n_orders = int(cfg["orders"])
        while time.monotonic() < stop:
            if len(placed) < n_orders:
                order = ib.place_order(conid=AAPL, side="BUY", quantity=1, order_type="LMT",
                                       limit_price=50.0, confirm=["o163"])
                placed.append(int(order.order_id))
                ib.cancel_order(order.order_id)
            time.sleep(1.0 if len(placed) >= n_orders else 0.2)
            rss.append(_rss_kib())
        merged, seen = 0, set[int]()
        waiting = queued = len(live.client.buffer)
        first = True
        deadline = time.monotonic() + 5  # what waited, then what was on its way (quotes go on)
        while waiting > 0 or (time.monotonic() < deadline and set(placed) - seen):
            event = live.get(0.5)
            waiting -= 1
            if isinstance(event, QuoteEvent) and first:
                merged, first = event.merged, False
            elif isinstance(event, OrderEvent):
                seen.add(event.order_id)
    start, top = rss[0], max(rss)
    return {"rss_start_kib": start, "rss_max_kib": top, "rss_end_kib": rss[-1],
            "rss_growth_pct": 100.0 * (top - start) / start, "samples": len(rss),
            "events_waiting_after_pause": queued, "quote_merged_after_pause": merged,
            "orders_placed_during_pause": len(placed),
            "orders_missing_after_pause": len(set(placed) - seen)}


def _drop(sim: Sim, live: Any) -> float:
    """Drop the socket once; the wall time the client saw the drop (its error event)."""
    from noetl_ib_plugin.streaming import ErrorEvent

    sim.faults({"ws_drop": 1.0})
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            event = live.get(0.5)
            if isinstance(event, ErrorEvent) and event.kind == "reconnect":
                return float(event.received_at)
        raise RuntimeError("the drop was not seen within 10 s")
    finally:
        sim.faults({})


def reconnect(ib: Any, sim: Sim, cfg: dict[str, Any]) -> dict[str, Any]:
    """Seconds from a dropped socket to the first quote on the new one (default settings)."""
    from noetl_ib_plugin.streaming import QuoteEvent

    times: list[float] = []
    with ib.stream(quotes=[AAPL], topics=["orders"], fields=FIELDS) as live:
        for n in range(int(cfg["drops"])):
            if n:
                time.sleep(RESYNC_SPACING)
            dropped = _drop(sim, live)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                event = live.get(0.5)
                if isinstance(event, QuoteEvent) and event.received_at > dropped:
                    times.append(event.received_at - dropped)
                    break
            else:
                raise RuntimeError("no quote within 30 s of a drop")
        connections = live.client.connections
    return {"drops": len(times), "connections": connections, "max_s": max(times),
            "median_s": sorted(times)[len(times) // 2], "all_s": [round(t, 3) for t in times]}


def orders(ib: Any, sim: Sim, cfg: dict[str, Any]) -> dict[str, Any]:
    """Orders changed over REST during forced reconnects vs the simulator's book."""
    from noetl_ib_plugin.streaming import ResyncedEvent, StreamSettings

    settings = StreamSettings(backoff_base=0.02, backoff_max=0.1)
    placed: list[int] = []
    failures: list[str] = []
    n_orders, n_drops = int(cfg["orders"]), int(cfg["drops"])
    resynced = 0
    with ib.stream(quotes=[AAPL], topics=["orders"], fields=FIELDS, settings=settings) as live:
        def trade() -> None:
            """Place and cancel, spread over the drops (two order changes each)."""
            for _ in range(n_orders):
                try:
                    order = ib.place_order(conid=AAPL, side="BUY", quantity=1, order_type="LMT",
                                           limit_price=50.0, confirm=["o163"])
                    placed.append(int(order.order_id))
                    ib.cancel_order(order.order_id)
                except Exception as exc:  # reported, not hidden
                    failures.append(f"{type(exc).__name__}: {exc}"[:200])
        trader = threading.Thread(target=trade)
        trader.start()
        drops = 0
        while drops < n_drops:
            _drop(sim, live)
            drops += 1
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # wait for this reconnect's resync
                event = live.get(0.5)
                if isinstance(event, ResyncedEvent):
                    resynced += 1
                    break
        trader.join()
        end = time.monotonic() + 1.0  # the last changes reach the socket (book polled: 50 ms)
        while time.monotonic() < end:
            resynced += isinstance(live.get(0.2), ResyncedEvent)
        book = sim.orders()
        lost = []
        for oid in placed:
            mine = live.client.order(oid) or {}
            theirs = book.get(oid, {})
            if mine.get("status") != theirs.get("status"):
                lost.append({"order_id": oid, "stream": mine.get("status"),
                             "book": theirs.get("status")})
        connections = live.client.connections
    return {"orders": len(placed), "order_changes": 2 * len(placed), "drops": drops,
            "connections": connections, "resynced": resynced, "lost": len(lost),
            "lost_examples": lost[:5], "rest_failures": failures[:5]}


def main() -> None:
    """Connect, run the mode, report."""
    from noetl_ib_plugin.trading import TradingClient

    cfg: dict[str, Any] = json.loads(sys.argv[1])
    sim = Sim(cfg["credentials_file"])
    mode = {"cpu": cpu, "pause": pause, "reconnect": reconnect, "orders": orders}[cfg["mode"]]
    with TradingClient("sim_oauth1a", credentials_file=cfg["credentials_file"]) as ib:
        print(json.dumps(mode(ib, sim, cfg)))


if __name__ == "__main__":
    main()
