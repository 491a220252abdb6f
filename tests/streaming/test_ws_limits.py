"""Market data limits and lifetimes: lines per account (a typed refusal, not silence), IBKR's
stream end after a configurable time and the client's renewal before it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest

from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.simulator.ws_limits import MarketDataLines
from noetl_ib_plugin.streaming import ErrorEvent, QuoteEvent, StreamClient
from tests.streaming.test_stream_client import FAST, _next, _stream, stream_sim  # noqa: F401

AAPL, MSFT, SPY = 265598, 272093, 756733


@pytest.fixture
def limited(stream_sim: Simulator) -> Iterator[Simulator]:  # noqa: F811
    """Two market data lines per account, subscriptions ending after 0.8 s unless renewed."""
    stream_sim.stream.market_data_lines, stream_sim.stream.market_data_lifetime_s = 2, 0.8
    yield stream_sim
    stream_sim.stream.market_data_lines, stream_sim.stream.market_data_lifetime_s = 100, 600.0


def _quotes_for(stream: StreamClient, seconds: float) -> set[int]:
    """Conids that sent quotes during the next `seconds`."""
    seen: set[int] = set()
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        event = stream.get(left)
        if isinstance(event, QuoteEvent):
            seen.add(event.conid)
    return seen


def test_lines_per_account_refuse_the_next_subscription_typed(limited: Simulator) -> None:
    """A third conid over two lines: an ErrorEvent kind market_data_lines; a freed line is reused."""
    stream = _stream(limited, "sim_oauth2", dataclasses.replace(FAST, renew_quotes_after=60))
    with stream:
        stream.subscribe_quotes([AAPL, MSFT], ["last"])
        assert stream.wait_ready(5)
        _next(stream, lambda e: isinstance(e, QuoteEvent) and e.conid == MSFT)
        stream.subscribe_quotes([SPY], ["last"])
        refused = _next(stream, lambda e: isinstance(e, ErrorEvent))
        assert isinstance(refused, ErrorEvent) and refused.kind == "market_data_lines"
        assert "2 market data lines" in refused.message
        stream.unsubscribe_quotes([AAPL])
        stream.subscribe_quotes([SPY], ["last"])
        _next(stream, lambda e: isinstance(e, QuoteEvent) and e.conid == SPY)


def test_lines_count_across_the_accounts_sockets() -> None:
    """Lines are the account's, not the socket's: a second holder is refused at the limit."""
    lines = MarketDataLines()
    assert lines.take("DU1", "a", AAPL, 1) and lines.take("DU1", "a", AAPL, 1)
    assert not lines.take("DU1", "b", MSFT, 1)
    assert lines.take("DU2", "b", MSFT, 1)  # another account has its own lines
    lines.release("DU1", "a")
    assert lines.take("DU1", "b", MSFT, 1) and lines.in_use("DU1") == 1


def test_market_data_stream_ends_without_renewal(limited: Simulator) -> None:
    """Without renewal the simulator ends the market data stream after its lifetime."""
    stream = _stream(limited, "sim_oauth2", dataclasses.replace(FAST, renew_quotes_after=60))
    with stream:
        stream.subscribe_quotes([AAPL], ["last", "volume"])
        assert stream.wait_ready(5)
        _next(stream, lambda e: isinstance(e, QuoteEvent))
        time.sleep(1.2)  # past the 0.8 s lifetime
        while stream.buffer.get(0) is not None:
            pass
        limited.set_price(AAPL, 201.0)
        assert AAPL not in _quotes_for(stream, 1.0)


def test_client_renews_market_data_before_the_stream_end(limited: Simulator) -> None:
    """Renewing every 0.5 s (before the 0.8 s end) keeps quotes coming for several lifetimes."""
    stream = _stream(limited, "sim_oauth2", dataclasses.replace(FAST, renew_quotes_after=0.5))
    with stream:
        stream.subscribe_quotes([AAPL], ["last"])
        assert stream.wait_ready(5)
        _next(stream, lambda e: isinstance(e, QuoteEvent))
        time.sleep(2.0)  # two and a half lifetimes
        for price in (202.0, 203.0):
            limited.set_price(AAPL, price)
            _next(stream, lambda e, p=price: isinstance(e, QuoteEvent)  # type: ignore[misc]
                  and e.last == p, 3)


def test_simulator_cli_sets_lines_and_lifetime() -> None:
    """`--ws-md-lines` / `--ws-md-lifetime` parse; 0 lines is refused with an example."""
    from noetl_ib_plugin.simulator.cli import build_parser

    args = build_parser().parse_args(["--ws-md-lines", "3", "--ws-md-lifetime", "540"])
    assert (args.ws_md_lines, args.ws_md_lifetime) == (3, 540.0)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--ws-md-lines", "0"])
