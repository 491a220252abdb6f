"""TradingClient.stream: iterate events, callbacks per topic, live subscribe, last_quote, REST beside."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from noetl_ib_plugin import TradingClient
from noetl_ib_plugin.errors import InputError
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.streaming import OrderEvent, QuoteEvent, StreamEvent

AAPL, MSFT = 265598, 272093


@pytest.fixture
def ticking_sim(sim_reset: Simulator) -> Iterator[Simulator]:
    """The module simulator with short stream periods."""
    sim_reset.stream.heartbeat_s, sim_reset.stream.quote_interval_s = 0.2, 0.05
    yield sim_reset
    sim_reset.stream.heartbeat_s, sim_reset.stream.quote_interval_s = 10.0, 0.5


@pytest.mark.parametrize("cred", ["sim_oauth2", "sim_oauth1a"])
def test_iterate_quotes_by_symbol_and_last_quote(ticking_sim: Simulator, cred: str) -> None:
    """Quotes subscribed by symbol arrive typed; last_quote(symbol) gives the merged state."""
    ticking_sim.set_price(AAPL, 190.0)
    with TradingClient(cred, credentials_file=ticking_sim.credentials_file) as ib, \
            ib.stream(quotes=["AAPL"], fields=["last", "bid"]) as live:
        event = next(e for e in live if isinstance(e, QuoteEvent))
        assert event.conid == AAPL and event.last == 190.0
        quote = live.last_quote("AAPL")
        assert quote is not None and quote.bid == 189.99


def test_callbacks_per_topic_and_rest_beside_the_stream(ticking_sim: Simulator) -> None:
    """An order placed over REST by the same client reaches the `order` callback."""
    ticking_sim.set_price(AAPL, 190.0)
    seen: list[StreamEvent] = []
    got = threading.Event()

    def on_order(event: StreamEvent) -> None:
        seen.append(event)
        got.set()

    with TradingClient("sim_oauth2", credentials_file=ticking_sim.credentials_file) as ib, \
            ib.stream(topics=["orders"]) as live:
        live.on("order", on_order)
        placed = ib.place_order(symbol="AAPL", side="BUY", quantity=1, order_type="LMT",
                                limit_price=188.0)
        assert got.wait(5)
        assert isinstance(seen[0], OrderEvent) and str(seen[0].order_id) == placed.order_id


def test_subscribe_and_unsubscribe_while_running(ticking_sim: Simulator) -> None:
    """A quote subscription added while running delivers; unsubscribed, it stops."""
    ticking_sim.set_price(MSFT, 410.0)
    with TradingClient("sim_oauth2", credentials_file=ticking_sim.credentials_file) as ib, \
            ib.stream() as live:
        live.subscribe_quotes([MSFT], ["last"])
        deadline = time.monotonic() + 5
        while live.last_quote(MSFT) is None and time.monotonic() < deadline:
            live.get(0.1)
        assert live.last_quote(MSFT) is not None
        live.unsubscribe_quotes([MSFT])
        # Subscriptions are sent and read in order: AAPL's first quote proves MSFT's umd was read.
        live.subscribe_quotes([AAPL], ["last"])
        deadline = time.monotonic() + 30
        while live.last_quote(AAPL) is None and time.monotonic() < deadline:
            live.get(0.1)
        assert live.last_quote(AAPL) is not None
        while live.get(0.05) is not None:
            pass
        ticking_sim.set_price(MSFT, 420.0)
        time.sleep(0.3)
        assert all(not (isinstance(e, QuoteEvent) and e.conid == MSFT)
                   for e in iter(lambda: live.get(0.05), None))


def test_unknown_callback_topic_is_an_input_error(ticking_sim: Simulator) -> None:
    """A misspelled topic names the valid ones."""
    with TradingClient("sim_oauth2", credentials_file=ticking_sim.credentials_file) as ib, \
            ib.stream() as live, pytest.raises(InputError, match="quote, order"):
        live.on("orders_typo", print)


@pytest.mark.parametrize("item", ["\u00b2", "9" * 5000, -5, 0, 2**31])
def test_a_conid_that_is_not_one_is_an_input_error(ticking_sim: Simulator, item: object) -> None:
    """subscribe_quotes('²' / 5000 digits / -5): InputError naming quotes, not ValueError."""
    with TradingClient("sim_oauth2", credentials_file=ticking_sim.credentials_file) as ib, \
            ib.stream() as live, pytest.raises(InputError) as info:
        live.subscribe_quotes([item])  # type: ignore[list-item]
    assert info.value.field == "quotes" and "265598" in str(info.value)


def test_callbacks_run_in_the_step_they_were_registered_in() -> None:
    """A callback registered inside a NoETL step runs in that step (its orders use the step's client)."""
    from types import SimpleNamespace
    from typing import Any, cast

    from noetl_ib_plugin.common.step_context import StepContext, current_step, running_step
    from noetl_ib_plugin.streaming import StreamClosed, StreamSettings
    from noetl_ib_plugin.trading_stream import TradingStream

    class OneEvent:
        """The StreamClient surface callbacks use: a reader thread (outside the step) delivers."""

        settings = StreamSettings()

        def __init__(self) -> None:
            self.events = [SimpleNamespace(topic="order")]

        def set_delivery(self, deliver: Any, call: Any, *, budget: float | None,
                         on_handoff: Any) -> None:
            threading.Thread(target=deliver).start()

        def get(self, timeout: float) -> object:
            if not self.events:
                raise StreamClosed("done")
            return self.events.pop()

    seen: list[StepContext | None] = []
    done = threading.Event()

    def callback(event: StreamEvent) -> None:
        seen.append(current_step())
        done.set()

    step = StepContext(execution_id="1", step="s", server_url="http://noetl:8082", catalog_id="111")
    live = TradingStream(cast(Any, None), cast(Any, OneEvent()))
    with running_step(step):
        live.on("order", callback)
    assert done.wait(5) and seen == [step]
