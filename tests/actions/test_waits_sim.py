"""wait_order and wait_price on the simulator's stream: conditions, REST confirmation, timeouts."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from noetl_ib_plugin.errors import InputError
from noetl_ib_plugin.simulator import Simulator
from tests.fixtures.simulators import act

AAPL = 265598
CRED = "sim_oauth2"


@pytest.fixture
def quick_sim(sim_reset: Simulator) -> Iterator[Simulator]:
    """The module simulator with short stream periods."""
    sim_reset.stream.heartbeat_s, sim_reset.stream.quote_interval_s = 0.2, 0.05
    yield sim_reset
    sim_reset.stream.heartbeat_s, sim_reset.stream.quote_interval_s = 10.0, 0.5


def _limit_buy(sim: Simulator, **extra: object) -> dict[str, object]:
    """A working LMT BUY of 1 AAPL at 188 while the price is 190."""
    sim.set_price(AAPL, 190.0)
    return act(sim, CRED, "place_order", symbol="AAPL", side="BUY", quantity=1,
               order_type="LMT", limit_price=188.0, **extra)


def test_wait_order_until_filled_returns_the_filled_order(quick_sim: Simulator) -> None:
    """The fill arrives on the stream; the answer is IBKR's order (REST) with condition_met."""
    placed = _limit_buy(quick_sim)
    threading.Timer(0.6, quick_sim.set_price, (AAPL, 187.0)).start()
    out = act(quick_sim, CRED, "wait_order", order_id=placed["order_id"], timeout=10)
    assert out["condition_met"] is True and out["timed_out"] is False
    assert out["order"]["status"] == "Filled" and out["order"]["avg_price"] == 187.0
    assert out["stream_events"] >= 1 and out["waited_seconds"] < 10


def test_wait_order_by_client_order_id_until_working(quick_sim: Simulator) -> None:
    """By client_order_id, until=working holds at once for a submitted order."""
    placed = _limit_buy(quick_sim, client_order_id="wait-coid-1")
    out = act(quick_sim, CRED, "wait_order", client_order_id="wait-coid-1", until="working",
              timeout=5)
    assert out["condition_met"] is True
    assert out["order"]["order_id"] == placed["order_id"]


def test_wait_order_timeout_is_an_outcome(quick_sim: Simulator) -> None:
    """A working order that does not fill in time: timed_out true, the order as IBKR holds it."""
    placed = _limit_buy(quick_sim)
    out = act(quick_sim, CRED, "wait_order", order_id=placed["order_id"], timeout=1)
    assert out["timed_out"] is True and out["condition_met"] is False
    assert out["order"]["status"] in ("Submitted", "PreSubmitted")


def test_wait_order_until_done_sees_a_cancel(quick_sim: Simulator) -> None:
    """until=done holds once the order is cancelled."""
    placed = _limit_buy(quick_sim)
    threading.Timer(0.5, act, (quick_sim, CRED, "cancel_order"),
                    {"order_id": placed["order_id"]}).start()
    out = act(quick_sim, CRED, "wait_order", order_id=placed["order_id"], until="done",
              timeout=10)
    assert out["condition_met"] is True and out["order"]["status"] == "Cancelled"


def test_wait_order_needs_exactly_one_key(quick_sim: Simulator) -> None:
    """Neither or both of order_id and client_order_id: an input error naming the fix."""
    with pytest.raises(InputError, match="exactly one of order_id and client_order_id"):
        act(quick_sim, CRED, "wait_order", timeout=1)


def test_wait_price_returns_the_quote_that_met_the_condition(quick_sim: Simulator) -> None:
    """`last >= 195` holds once the price moves there; the quote is typed."""
    quick_sim.set_price(AAPL, 190.0)
    threading.Timer(0.5, quick_sim.set_price, (AAPL, 196.0)).start()
    out = act(quick_sim, CRED, "wait_price", symbol="AAPL", condition="last >= 195", timeout=10)
    assert out["condition_met"] is True and out["quote"]["last"] == 196.0
    assert out["conid"] == AAPL and out["quote"]["delayed"] is False


def test_wait_price_timeout_is_an_outcome(quick_sim: Simulator) -> None:
    """A condition that never holds: timed_out with the last quote seen."""
    quick_sim.set_price(AAPL, 190.0)
    out = act(quick_sim, "sim_oauth1a", "wait_price", conid=AAPL, condition="bid <= 100",
              timeout=1)
    assert out["timed_out"] is True and out["quote"]["bid"] == 189.99


def test_wait_price_refuses_a_condition_it_cannot_read(quick_sim: Simulator) -> None:
    """A condition that is not FIELD OP NUMBER is an input error with a copyable example."""
    with pytest.raises(InputError, match="last >= 190"):
        act(quick_sim, CRED, "wait_price", symbol="AAPL", condition="price up", timeout=1)
