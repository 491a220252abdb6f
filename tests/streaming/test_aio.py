"""`async for` over a stream: the sync buffer read from an asyncio loop, nothing lost, loop free."""

from __future__ import annotations

import asyncio
import threading

import pytest

from noetl_ib_plugin.errors import SessionTakenOver
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.streaming import (
    ErrorEvent,
    EventBuffer,
    QuoteEvent,
    StreamClient,
    StreamEvent,
    StreamOverflow,
)
from noetl_ib_plugin.streaming.aio import aiter_events
from tests.fixtures.simulators import client_for
from tests.streaming.test_stream_client import AAPL, FAST, stream_sim  # noqa: F401


def _error(n: int) -> ErrorEvent:
    """A distinguishable non-quote event."""
    return ErrorEvent(kind="x", message=str(n), received_at=0.0)


async def _collect(buffer: EventBuffer, cause: BaseException | None = None) -> list[StreamEvent]:
    """Every event of `buffer` through the async iterator."""
    return [event async for event in aiter_events(buffer, lambda: cause, poll=0.05)]


def test_async_for_yields_events_in_order_and_ends_quietly() -> None:
    """Events queued by another thread arrive in order; a clean end stops the loop."""
    buffer = EventBuffer(capacity=10)

    def produce() -> None:
        for n in range(3):
            buffer.put(_error(n))
        buffer.end()

    threading.Timer(0.1, produce).start()
    events = asyncio.run(_collect(buffer))
    assert [e.message for e in events] == ["0", "1", "2"]  # type: ignore[attr-defined]


def test_async_for_raises_why_the_stream_stopped() -> None:
    """A stream that stopped for good raises its typed error from the async loop too."""
    buffer = EventBuffer(capacity=10)
    buffer.put(_error(0))
    buffer.end()
    with pytest.raises(SessionTakenOver):
        asyncio.run(_collect(buffer, SessionTakenOver("taken")))


def test_async_for_reports_overflow() -> None:
    """Lost events surface as StreamOverflow, as in the sync iterator."""
    buffer = EventBuffer(capacity=1)
    buffer.put(_error(0))
    buffer.put(_error(1))
    with pytest.raises(StreamOverflow):
        asyncio.run(_collect(buffer))


def test_cancelled_waiter_loses_no_event() -> None:
    """Cancelling an idle `async for` consumes nothing: the next event is still in the buffer."""
    buffer = EventBuffer(capacity=10)

    async def cancel_while_waiting() -> None:
        task = asyncio.create_task(_collect(buffer))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_while_waiting())
    buffer.put(_error(7))
    event = buffer.get(1.0)
    assert isinstance(event, ErrorEvent) and event.message == "7"


def test_async_for_over_a_live_stream_keeps_the_loop_free(stream_sim: Simulator) -> None:  # noqa: F811
    """`async for` over a StreamClient gets typed quotes while other tasks keep running."""
    stream_sim.set_price(AAPL, 190.0)
    ib = client_for(stream_sim, "sim_oauth2")

    async def main() -> tuple[QuoteEvent, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1
                if ticks == 5:  # only a loop left free by `async for` gets here
                    stream_sim.set_price(AAPL, 191.0)

        with StreamClient(ib, settings=FAST) as stream:
            stream.subscribe_quotes([AAPL], ["last"])
            side = asyncio.create_task(ticker())
            async with asyncio.timeout(10):
                async for event in stream:
                    if isinstance(event, QuoteEvent) and event.last == 191.0:
                        side.cancel()
                        return event, ticks
        raise AssertionError("the stream ended without a quote")

    quote, ticks = asyncio.run(main())
    assert quote.last == 191.0
    assert ticks >= 5  # the loop ran the ticker while `async for` waited for the quote


def test_trading_stream_async_for(stream_sim: Simulator) -> None:  # noqa: F811
    """`async for` over TradingClient.stream() gives the same typed events."""
    from noetl_ib_plugin import TradingClient

    stream_sim.set_price(AAPL, 190.0)

    async def first_quote() -> QuoteEvent:
        with TradingClient("sim_oauth2", credentials_file=stream_sim.credentials_file) as ib, \
                ib.stream(quotes=[AAPL], fields=["last"], settings=FAST) as live:
            async with asyncio.timeout(10):
                async for event in live:
                    if isinstance(event, QuoteEvent):
                        return event
        raise AssertionError("no quote")

    assert asyncio.run(first_quote()).last == 190.0
