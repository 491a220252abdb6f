"""Benchmark: the simulator's per-request bookkeeping stays flat in long benches.

Two tables grow during a long bench: OAuth 1.0a nonces (one per signed request, kept for the
10-minute window) and orders (every order ever placed). Measures, in process, the CPU time of
one nonce check with 1,000 vs 20,000 live nonces and of one `Broker.evaluate()` (run on every
request) with 10 vs 20,000 finished orders beside 10 working ones. Targets: each 20k figure at
most 2x its small figure (linear-or-better bookkeeping, not a rebuild or walk per request).
"""

from __future__ import annotations

import copy
import time
from types import SimpleNamespace
from typing import Any

from _common import Target, emit

CHECKS = 2000


def _nonce_us(live: int) -> float:
    """CPU µs per `_check_fresh` with `live` unexpired nonces in the table."""
    from noetl_ib_plugin.simulator.auth import AuthService

    now = [1.7e9]
    service = AuthService(lambda: now[0])
    consumer: Any = SimpleNamespace(consumer_key="CK")
    for i in range(live):
        now[0] += 1e-6
        service._check_fresh(consumer, {"oauth_timestamp": str(now[0]), "oauth_nonce": f"p{i}"})
    start = time.process_time()
    for i in range(CHECKS):
        now[0] += 1e-6
        service._check_fresh(consumer, {"oauth_timestamp": str(now[0]), "oauth_nonce": f"q{i}"})
    return (time.process_time() - start) / CHECKS * 1e6


def _evaluate_us(finished: int) -> float:
    """CPU µs per `Broker.evaluate()` with `finished` filled orders and 10 resting limits."""
    from noetl_ib_plugin.simulator import Simulator
    from noetl_ib_plugin.simulator.orders import parse_ticket

    sim = Simulator(pacing=False, bridge_warmup=0)
    broker = sim.engine.broker
    account = "DU1234567"
    broker.ensure_account(account, "bench")
    contracts = {c.conid: c for c in sim.engine.market.contracts.values()}
    conid = next(iter(contracts))
    price = sim.engine.market.price(conid)
    ticket = {"conid": conid, "side": "BUY", "orderType": "LMT", "price": round(price * 0.98, 2),
              "quantity": 1, "tif": "DAY"}
    with broker.lock:
        for _ in range(10):
            broker._submit(broker.accounts[account], parse_ticket(ticket, account, contracts,
                                                                  broker.clock()))
        template = next(iter(broker.orders.values()))
        for i in range(finished):
            done = copy.copy(template)
            done.order_id = 10_000_000 + i
            done.status = "Filled"
            broker.orders[done.order_id] = done
        broker.orders = dict(broker.orders)  # as a state load would hand it over
    broker.evaluate()
    start = time.process_time()
    for _ in range(CHECKS):
        broker.evaluate()
    return (time.process_time() - start) / CHECKS * 1e6


def main() -> None:
    """Measure both tables small and large."""
    nonce = {"live_1000": round(_nonce_us(1000), 2), "live_20000": round(_nonce_us(20000), 2)}
    walk = {"finished_10": round(_evaluate_us(10), 2),
            "finished_20000": round(_evaluate_us(20000), 2)}
    result: dict[str, Any] = {
        "nonce_check_us": nonce,
        "evaluate_us": walk,
        "nonce_growth": round(nonce["live_20000"] / nonce["live_1000"], 2),
        "evaluate_growth": round(walk["finished_20000"] / walk["finished_10"], 2),
    }
    emit(result, (
        Target("nonce_growth", "<=", 2.0, "nonce table: no rebuild per request"),
        Target("evaluate_growth", "<=", 2.0, "orders: finished ones are not walked"),
    ))


if __name__ == "__main__":
    main()
