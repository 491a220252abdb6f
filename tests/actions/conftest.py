"""The order tests' simulator state: AAPL at a known price, IBKR's cOID uniqueness on."""

from __future__ import annotations

import pytest

from noetl_ib_plugin.simulator import Simulator

AAPL = 265598


@pytest.fixture
def priced(sim_reset: Simulator) -> Simulator:
    """The simulator with AAPL pinned at 100 and IBKR's cOID uniqueness on."""
    sim_reset.set_price(AAPL, 100.0)
    sim_reset.set_order_options(enforce_coid_unique=True)
    return sim_reset
