"""TradingClient searches and trades derivatives with typed results (issue 22 item 5)."""

from __future__ import annotations

import pytest

from noetl_ib_plugin import TradingClient
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.simulator.derivatives import ES_MAR30_CONID


def test_trading_client_searches_and_trades_a_future(sim_reset: Simulator,
                                                    bot_env: dict[str, str]) -> None:
    """TradingClient.search_contracts gives the months; place_order by month buys that future."""
    with TradingClient.from_env() as ib:
        months = [f.month for f in ib.search_contracts("ES", sec_type="FUT").futures]
        placed = ib.place_order(symbol="ES", sec_type="FUT", month=months[1], side="BUY",
                                quantity=1, order_type="MKT")
        position = next(p for p in ib.get_positions().positions if p.conid == placed.conid)
    assert placed.conid == ES_MAR30_CONID + 1 and placed.multiplier == 50.0
    assert position.sec_type == "FUT" and position.multiplier == 50.0
    assert position.market_price is not None
    assert position.market_value == pytest.approx(position.market_price * 50.0, abs=0.01)
