"""The stream's incremental quote merge and the plain-number fast path, against slow references."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from noetl_ib_plugin.common.quote_fields import parse_number
from noetl_ib_plugin.streaming import EventBuffer, QuoteEvent
from noetl_ib_plugin.streaming.events import quote_from_fields
from noetl_ib_plugin.streaming.quotes import QuoteState, new_quote, with_merged

#: Values IBKR sends for quote fields, including the prefixes, suffixes and blanks it uses.
VALUES = ["168.42", "C168.40", "H168.41", "", None, "1.2K", "1,300", "300", "0", "5.", ".5",
          "007", "R", "D", "Z", "N", "AAPL", "12.0", "-3.5", "1e3", 42, 1.5]
IDS = ["31", "84", "86", "85", "88", "87", "7059", "55", "6509", "7295", "9999"]


def _reference(number_text: str) -> int | float:
    """A plain decimal read through Decimal, independently of parse_number's code."""
    dec = Decimal(number_text)
    return float(dec) if "." in number_text else int(dec)


def test_plain_numbers_parse_as_the_decimal_reference() -> None:
    """Plain decimals (the fast path) give the same type and value as an exact Decimal read."""
    rng = random.Random(7)
    texts = ["0", "007", "5.", "0.1", "168.42", "999999999999999", "123456789.123456789012345"]
    for _ in range(2000):
        whole = str(rng.randrange(10 ** rng.randrange(1, 15)))
        texts.append(whole)
        texts.append(f"{whole}.{rng.randrange(10 ** rng.randrange(1, 15))}")
    for text in texts:
        got = parse_number(text)
        want = _reference(text)
        assert type(got) is type(want) and got == want, text


@pytest.mark.parametrize("text", ["1,300", " 12 ", "12\n", "+5", "-0.5", "1e3", "1.2K", "5%",
                                  "\u0663", "1" * 16 + ".5", "nan", "inf", "1_000"])
def test_other_numbers_keep_the_general_rules(text: str) -> None:
    """Anything not plain still goes through the general rules (separators, suffixes, refusals)."""
    expected = {"1,300": 1300, " 12 ": 12, "12\n": 12, "+5": 5, "-0.5": -0.5, "1e3": 1000.0,
                "1.2K": 1200, "5%": 5, "\u0663": 3, "nan": None, "inf": None, "1_000": None,
                "1" * 16 + ".5": float("1" * 16 + ".5")}[text]
    assert parse_number(text) == expected


def test_incremental_merge_equals_a_full_reparse() -> None:
    """Message after message, QuoteState's event equals quote_from_fields over all fields so far."""
    rng = random.Random(3)
    state, raw = QuoteState(265598), {}
    for n in range(3000):
        msg: dict[str, Any] = {"topic": "smd+265598", "conid": 265598, "server_id": "q0"}
        if rng.random() < 0.8:
            msg["_updated"] = 1_700_000_000_000 + n
        for fid in rng.sample(IDS, rng.randrange(0, 4)):
            msg[fid] = rng.choice(VALUES)
        changed = [k for k in msg if k.isdigit()]
        raw.update({k: msg[k] for k in changed})
        if "_updated" in msg:
            raw["_updated"] = msg["_updated"]
        got = state.apply(msg, float(n))
        want = quote_from_fields(265598, dict(raw), changed, float(n))
        assert got.model_dump() == want.model_dump(), (n, msg)


def test_built_events_are_frozen_models_equal_to_validated_ones() -> None:
    """new_quote/with_merged give real, frozen QuoteEvents equal to validated ones."""
    values = {"topic": "quote", "received_at": 1.5, "conid": 1, "fields": {"last": 2.0},
              "changed": ["last"], "last_is_prior_close": False, "halted": False,
              "delayed": None, "updated": 7, "merged": 0}
    event = new_quote(dict(values))
    assert event == QuoteEvent.model_validate(values)
    assert event.model_fields_set == set(QuoteEvent.model_fields)
    with pytest.raises(Exception, match="frozen"):
        event.merged = 3
    later = with_merged(event, 4)
    assert later.merged == 4 and event.merged == 0
    assert later.model_dump() == {**values, "merged": 4}


def test_conflated_quotes_count_what_they_merged() -> None:
    """Three quotes of one conid while nobody reads: one event, merged=2, the newest values."""
    buffer = EventBuffer(10)
    state = QuoteState(1)
    for n, price in enumerate(["1.00", "1.01", "1.02"]):
        buffer.put(state.apply({"31": price, "_updated": n}, float(n)))
    event = buffer.get(0)
    assert isinstance(event, QuoteEvent)
    assert (event.merged, event.last, event.updated) == (2, 1.02, 2)
    assert buffer.get(0) is None
