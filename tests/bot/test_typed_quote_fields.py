"""Typed quote fields for bots: the snapshot's Quote and the stream's QuoteEvent read IBKR's
stringly fields as floats (None when absent or not a number), through the one shared parser.

Expected numbers are typed in from IBKR's texts (and the simulator's pinned price), not computed
by the parser under test.
"""

from __future__ import annotations

from typing import Any

import pytest

from noetl_ib_plugin import TradingClient
from noetl_ib_plugin.actions.outputs import Quote
from noetl_ib_plugin.common.quote_fields import FIELD_IDS
from noetl_ib_plugin.simulator import Simulator
from noetl_ib_plugin.streaming import QuoteEvent
from noetl_ib_plugin.streaming.events import quote_from_fields

AAPL = 265598
#: IBKR's texts for one quote (field ids) and what each typed field must read.
RAW: dict[str, Any] = {"31": "C168.42", "84": "168.41", "86": "168.43", "88": "1,300",
                       "85": "200", "87": "3.45M", "7059": "12", "7295": "167.00", "70": "169.5",
                       "71": "166.25", "7296": "168.00", "7741": "167.90", "82": "-0.52",
                       "83": "-0.31%", "6509": "DPB", "_updated": 1712596911593}
TYPED = {"last": 168.42, "bid": 168.41, "ask": 168.43, "bid_size": 1300.0, "ask_size": 200.0,
         "volume": 3_450_000.0, "last_size": 12.0, "open": 167.0, "high": 169.5, "low": 166.25,
         "close": 168.0, "prior_close": 167.9, "change": -0.52, "change_pct": -0.31}
NUMERIC = tuple(TYPED)


def test_stream_quote_event_fields_are_typed_floats() -> None:
    """A QuoteEvent from IBKR's texts: every named number a float, availability text, flags set."""
    event = quote_from_fields(AAPL, RAW, list(RAW), received_at=0.0)
    for name, expected in TYPED.items():
        value = getattr(event, name)
        assert type(value) is float and value == pytest.approx(expected), name
    assert event.availability == "DPB" and event.delayed is True
    assert event.last_is_prior_close is True


def test_snapshot_quote_fields_are_typed_floats() -> None:
    """A Quote as the snapshot action builds it (fields by name) reads the same floats."""
    parsed = quote_from_fields(AAPL, RAW, list(RAW), received_at=0.0).fields
    quote = Quote.model_validate({"conid": AAPL, **parsed})
    assert {name: getattr(quote, name) for name in NUMERIC} == pytest.approx(TYPED)
    assert all(type(getattr(quote, name)) is float for name in NUMERIC)
    assert quote.availability == "DPB"


def test_absent_or_non_numeric_fields_are_none() -> None:
    """Not requested, not sent yet, empty, or text where a number belongs: None, never text."""
    quote = Quote.model_validate({"conid": AAPL, "last": "N/A", "bid": None, "ask": True,
                                  "volume": float("nan")})
    assert (quote.last, quote.bid, quote.ask, quote.volume, quote.bid_size) == (
        None, None, None, None, None)
    assert quote.availability is None
    event = quote_from_fields(AAPL, {"31": "", "84": "x"}, [], received_at=0.0)
    assert (event.last, event.bid, event.ask, event.availability) == (None, None, None, None)


def test_every_numeric_field_name_has_a_typed_field() -> None:
    """Each snapshot field name except symbol and availability is a typed number on both models."""
    assert set(FIELD_IDS) - {"symbol", "availability"} == set(NUMERIC)
    for name in NUMERIC:
        assert isinstance(getattr(Quote, name), property)
        assert isinstance(getattr(QuoteEvent, name), property)


def test_typed_fields_stay_out_of_the_published_json() -> None:
    """The typed fields read the requested ones; the JSON keeps only what was requested."""
    quote = Quote.model_validate({"conid": AAPL, "last": 10.5})
    assert quote.model_dump(mode="json") == {
        "conid": AAPL, "symbol": None, "last_is_prior_close": False, "halted": False,
        "delayed": None, "updated": None, "missing": [], "last": 10.5}


def test_trading_client_market_data_is_typed(sim_reset: Simulator) -> None:
    """get_market_data's quote: last/bid/ask at the pinned price, sizes and volume as floats."""
    sim_reset.set_price(AAPL, 100.0)
    with TradingClient("sim_oauth2", credentials_file=sim_reset.credentials_file) as ib:
        quote = ib.get_market_data("AAPL", fields=["last", "bid", "ask", "bid_size", "volume",
                                                   "availability"]).snapshots[0]
    assert (quote.last, quote.bid, quote.ask) == (100.0, 99.99, 100.01)
    assert type(quote.bid_size) is float and quote.bid_size >= 100
    assert type(quote.volume) is float and quote.volume > 0
    assert quote.availability == "RpB" and quote.delayed is False
    assert quote.change is None  # not requested
