"""The parts that name an option or future are read into IBKR's forms or refused naming the
field, before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from noetl_ib_plugin.actions.models import PlaceOrderInput

ORDER = {"symbol": "AAPL", "side": "BUY", "quantity": 1, "order_type": "MKT"}


def _order(**args: Any) -> PlaceOrderInput:
    return PlaceOrderInput(**{**ORDER, **args})


@pytest.mark.parametrize("text", ["JAN30", "jan30", "JAN2030", "2030-01", "203001", 203001])
def test_month_spellings_become_ibkrs_mmmyy(text: Any) -> None:
    """JAN30, jan2030, 2030-01 and 203001 (a CLI number too) all read as JAN30."""
    assert _order(sec_type="OPT", month=text).month == "JAN30"


@pytest.mark.parametrize(("text", "right"), [("C", "C"), ("call", "C"), ("Put", "P"), ("p", "P")])
def test_right_spellings_become_c_or_p(text: str, right: str) -> None:
    """C/CALL and P/PUT in any case read as IBKR's C and P."""
    assert _order(sec_type="OPT", right=text).right == right


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"sec_type": "OPT", "month": "JAX30"}, "month"),
        ({"sec_type": "OPT", "month": "2030-13"}, "month"),
        ({"sec_type": "OPT", "expiry": "20300230"}, "expiry"),
        ({"sec_type": "OPT", "right": "CP"}, "right"),
        ({"sec_type": "OPT", "strike": 0}, "strike"),
        ({"sec_type": "OPT", "strike": True}, "strike"),
        ({"sec_type": "OPT", "strike": "2_00"}, "strike"),
        ({"sec_type": "OPT", "month": "FEB30", "expiry": "20300118"}, "expiry"),
        ({"strike": 200}, "sec_type"),
        ({"sec_type": "FUT", "right": "C"}, "sec_type"),
        ({"month": "MAR30"}, "sec_type"),
    ],
)
def test_bad_parts_are_refused_naming_the_field(args: dict[str, Any], field: str) -> None:
    """A month, date, right or strike that is not one, or a part for a type without it."""
    with pytest.raises(ValidationError) as info:
        _order(**args)
    assert field in str(info.value)


def test_parts_change_the_derived_client_order_id() -> None:
    """Two strikes in one step derive two cOIDs (a re-run step re-sends neither)."""
    from noetl_ib_plugin.actions.order_ticket import derive_client_order_id

    base = {**ORDER, "sec_type": "OPT", "month": "JAN30", "right": "C"}
    first = derive_client_order_id("e1", "s1", {**base, "strike": 200})
    assert first == derive_client_order_id("e1", "s1", {**base, "strike": "200.0"})
    assert first != derive_client_order_id("e1", "s1", {**base, "strike": 210})
    assert first != derive_client_order_id("e1", "s1", {**base, "strike": 200, "right": "P"})
