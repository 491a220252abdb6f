"""TradingClient names contracts as the actions do: the type asked for is the type traded."""

from __future__ import annotations

import pytest

from noetl_ib_plugin import TradingClient
from noetl_ib_plugin.errors import ContractMismatch
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.simulator.derivatives import AAPL_OPTION_CONID


def test_trading_client_takes_the_type_the_fix_names(sim_reset: Simulator,
                                                     bot_env: dict[str, str]) -> None:
    """place_order refuses an option conid as STK (nothing sent) and places it with sec_type=OPT."""
    with TradingClient.from_env() as ib:
        with pytest.raises(ContractMismatch, match="pass sec_type=OPT"):
            ib.place_order(conid=AAPL_OPTION_CONID, side="BUY", quantity=1, order_type="MKT")
        assert sim_reset.orders() == []
        placed = ib.place_order(conid=AAPL_OPTION_CONID, sec_type="OPT", side="BUY", quantity=1,
                                order_type="MKT")
    assert placed.conid == AAPL_OPTION_CONID and placed.filled_quantity == 1.0
    assert placed.avg_price is not None
