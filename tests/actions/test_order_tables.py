"""One table of order states and one of order-type names in the whole package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import noetl_ib_plugin
from noetl_ib_plugin.actions import models, order_states
from noetl_ib_plugin.actions.models import PlaceOrderInput

PACKAGE = Path(noetl_ib_plugin.__file__).resolve().parent
#: Written out here (not read from order_states) so a changed table fails this test.
STATUSES = {"PendingSubmit", "PreSubmitted", "Submitted", "Filled", "PendingCancel",
            "PreCancelled", "Cancelled", "Inactive"}
TYPES = {"MKT", "LMT", "STP", "STOP_LIMIT", "TRAIL", "TRAILLMT"}


def _literal_collections(path: Path) -> list[set[str]]:
    """String members of every tuple/list/set literal with two or more strings in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            words = {e.value for e in node.elts
                     if isinstance(e, ast.Constant) and isinstance(e.value, str)}
            if len(words) >= 2:
                found.append(words)
    return found


def test_no_second_table_of_states_or_types() -> None:
    """Outside order_states.py (and the simulator) no literal lists two statuses or two types."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "simulator" or rel.name == "order_states.py":
            continue
        for words in _literal_collections(path):
            if len(words & STATUSES) >= 2 or len(words & TYPES) >= 2:
                offenders.append(f"{rel}: {sorted(words)}")
    assert offenders == []


def test_states_table_holds_inactive_as_neither_working_nor_filled() -> None:
    """Inactive is a known status, never working, never filled, never cancelled."""
    assert set(order_states.STATES) == STATUSES
    assert "Inactive" in order_states.INACTIVE
    assert "Inactive" not in order_states.WORKING | order_states.FILLED | order_states.CANCELLED
    assert {"PendingSubmit", "PreSubmitted", "Submitted"} == order_states.WORKING


def test_input_validation_uses_the_same_type_table() -> None:
    """models' ORDER_TYPE_ALIASES is order_states.ORDER_TYPES, not a copy."""
    assert models.ORDER_TYPE_ALIASES is order_states.ORDER_TYPES
    assert set(order_states.ORDER_TYPES.values()) == TYPES


@pytest.mark.parametrize(
    ("spelling", "ticket"),
    [("Limit", "LMT"), ("market", "MKT"), ("STP LMT", "STOP_LIMIT"), ("stop-limit", "STOP_LIMIT"),
     ("Stop Limit", "STOP_LIMIT"), ("STOP", "STP")],
)
def test_every_spelling_means_the_same_type_for_input_and_answers(spelling: str, ticket: str) -> None:
    """IBKR's answers and the caller's input map a spelling to the same ticket type."""
    assert order_states.order_type_name(spelling) == ticket
    args = {"symbol": "AAPL", "side": "BUY", "quantity": 1, "order_type": spelling}
    if ticket in order_states.LIMIT_PRICED:
        args["limit_price"] = 10.0
    if ticket in order_states.STOP_PRICED:
        args["stop_price"] = 9.0
    assert PlaceOrderInput.model_validate(args).order_type == ticket


def test_unknown_type_from_ibkr_is_kept() -> None:
    """A type outside the table (TRAIL) is reported upper-cased, not dropped; empty is None."""
    assert order_states.order_type_name("trail") == "TRAIL"
    assert order_states.order_type_name("") is None
