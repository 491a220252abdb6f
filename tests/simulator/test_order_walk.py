"""The simulator advances open orders only: finished ones are never walked again."""

from __future__ import annotations

from typing import Any

from noetl_ib_plugin.simulator import Simulator

from .clients import Trader

AAPL = 265598


class _Untouchable:
    """Stands in for a finished order; any attribute read means it was walked."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a finished order was walked ({name})")


def test_finished_orders_are_not_walked_and_open_ones_still_fill(sim_shared: Simulator,
                                                                 trader: Trader) -> None:
    """After 30 fills and a cancel, requests walk only the resting limit, which still fills."""
    sim_shared.set_price(AAPL, 100.0)
    filled = [trader.order(conid=AAPL, orderType="MKT", quantity=1)[0]["order_id"]
              for _ in range(30)]
    cancelled = trader.order(conid=AAPL, orderType="LMT", price=99.0, quantity=1)[0]["order_id"]
    assert trader.delete(f"/iserver/account/DU1234567/order/{cancelled}").status_code == 200
    resting = trader.order(conid=AAPL, orderType="LMT", price=98.0, quantity=1)[0]["order_id"]
    broker = sim_shared.engine.broker
    broker.evaluate()
    for order_id in [*filled, cancelled]:
        assert broker.orders[int(order_id)].status in ("Filled", "Cancelled")
        broker.orders[int(order_id)] = _Untouchable()  # type: ignore[assignment]
    assert trader.get("/iserver/accounts").status_code == 200  # every request evaluates
    assert broker.orders[int(resting)].status == "Submitted"
    sim_shared.engine.market.set_price(AAPL, 97.0)
    broker.evaluate()
    assert broker.orders[int(resting)].status == "Filled"


def test_replaced_order_book_rebuilds_the_open_set(sim_shared: Simulator, trader: Trader) -> None:
    """A new `orders` dict (reset, state load) is indexed afresh: its open orders advance."""
    sim_shared.set_price(AAPL, 100.0)
    resting = int(trader.order(conid=AAPL, orderType="LMT", price=98.0, quantity=1)[0]["order_id"])
    broker = sim_shared.engine.broker
    broker.orders = dict(broker.orders)
    broker.market.set_price(AAPL, 97.0)
    broker.evaluate()
    assert broker.orders[resting].status == "Filled"
