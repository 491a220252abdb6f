"""Pure helpers: IBKR number/flag parsing, the confirm policy, and input-model normalisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from noetl_ib_plugin.actions.confirm import DEFAULT_AUTO_CONFIRM, ConfirmPolicy
from noetl_ib_plugin.actions.models import PlaceOrderInput, SnapshotInput
from noetl_ib_plugin.common.quote_fields import as_float, as_int, parse_field, parse_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("168.42", 168.42), ("1,300", 1300), ("1.2K", 1200), ("3.45M", 3_450_000),
        ("950", 950), ("-0.35", -0.35), ("0.52%", 0.52), ("", None), ("RpB", None),
        (12.5, 12.5), (None, None), (True, None),
    ],
)
def test_parse_number(text: object, value: object) -> None:
    """Strings with separators, K/M suffixes and percent signs become numbers; junk becomes None."""
    assert parse_number(text) == value


def test_parse_field_prefixes() -> None:
    """`C` marks a prior close and `H` a halted last price; the number is kept."""
    prior = parse_field("C168.42")
    assert prior.value == 168.42 and prior.prior_close and not prior.halted
    halted = parse_field("H12.00")
    assert halted.value == 12.0 and halted.halted
    text = parse_field("CLOSED")
    assert text.value == "CLOSED" and not text.prior_close


def test_as_int_and_float() -> None:
    """Ids arrive as numbers or numeric strings; prices as strings ("457.00") or empty."""
    assert as_int("265598") == 265598 and as_int(8314) == 8314 and as_int("x") is None
    assert as_float("457.00") == 457.0 and as_float("") is None


@given(st.integers(min_value=0, max_value=10**12))
def test_thousands_separators_round_trip(n: int) -> None:
    """Any integer formatted with thousands separators parses back to itself."""
    assert parse_number(f"{n:,}") == n


def test_confirm_policy_defaults() -> None:
    """Generic warnings are confirmed by default; risk questions and unknown ids are not."""
    policy = ConfirmPolicy.build()
    assert {"o10151", "o10152", "o10331", "p12", "o354"} == DEFAULT_AUTO_CONFIRM
    assert policy.refused(["o10151", "p12"]) == []
    for risky in ("o163", "o383", "o451", "o403", "o10153", "p6", "o99999"):
        assert policy.refused([risky]) == [risky]
    assert policy.refused([]) == ["<no message id>"]


def test_confirm_policy_caller_lists() -> None:
    """`confirm` adds ids, `decline` removes ids even from the defaults (case-insensitive)."""
    policy = ConfirmPolicy.build(confirm=["O163"], decline=["o354"])
    assert policy.refused(["o163"]) == []
    assert policy.refused(["o354"]) == ["o354"]
    assert "price exceeds" in ConfirmPolicy.describe("o163")


def test_place_order_normalisation() -> None:
    """Side, order type and TIF are case-insensitive; 'STOP LIMIT' and 'stp lmt' both mean STOP_LIMIT."""
    for spelling in ("STP LMT", "stop limit", "STOP_LIMIT", "stp-lmt"):
        order = PlaceOrderInput(symbol="aapl", side="sell", quantity=1, order_type=spelling,
                                limit_price=1, stop_price=2, tif="gtc")
        assert (order.order_type, order.side, order.tif, order.symbol) == (
            "STOP_LIMIT", "SELL", "GTC", "AAPL")
    order = PlaceOrderInput(conid=1, side="BUY", quantity=1, order_type="MKT", confirm="o163, o383")
    assert order.confirm == ["o163", "o383"]


def test_place_order_requires_a_contract() -> None:
    """Neither symbol nor conid is an error that names symbol."""
    with pytest.raises(ValidationError, match="symbol"):
        PlaceOrderInput(side="BUY", quantity=1, order_type="MKT")


def test_snapshot_fields() -> None:
    """Field names map to ids, raw ids are accepted, unknown names are rejected."""
    assert SnapshotInput(conids="1,2", fields="last,84").fields == ["last", "84"]
    with pytest.raises(ValidationError, match="unknown field"):
        SnapshotInput(conids=[1], fields=["lastt"])
    with pytest.raises(ValidationError, match="symbols"):
        SnapshotInput()
