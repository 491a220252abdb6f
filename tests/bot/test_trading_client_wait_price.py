"""TradingClient.wait_price names an option by its parts, as place_order does (issue 21)."""

from __future__ import annotations

from noetl_ib_plugin import TradingClient
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.simulator.derivatives import AAPL_OPTION_CONID


def test_trading_client_waits_on_an_option_by_its_parts(sim_reset: Simulator,
                                                        bot_env: dict[str, str]) -> None:
    """wait_price(sec_type="OPT", expiry, strike, right) streams the put's own conid."""
    sim_reset.set_price(AAPL_OPTION_CONID + 1, 7.5)  # 20300118 200 P follows the call
    with TradingClient.from_env() as ib:
        out = ib.wait_price("last <= 8", symbol="AAPL", sec_type="OPT", expiry="20300118",
                            strike=200, right="P", timeout=10)
    assert out.condition_met and out.conid == AAPL_OPTION_CONID + 1
    assert out.quote is not None and out.quote["last"] == 7.5
    assert (out.sec_type, out.right, out.strike) == ("OPT", "P", 200.0)
