"""The output boundaries: the runner returns the output model, the edge its JSON dump; no result is lost."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pydantic import BaseModel

from noetl_ib_plugin.actions.outputs import (
    PlaceOrderOutput,
    Quote,
    load_output,
    output_json,
    typed_output,
)
from noetl_ib_plugin.actions.spec import Action
from noetl_ib_plugin.runner import default_host, list_actions, output_schema

PLACED = {"order_id": "1370093239", "client_order_id": "nib-1", "status": "Submitted",
          "conid": 265598, "quantity": 5.0, "reconciled": False}


def test_dump_keeps_unknown_fields_and_fills_defaults() -> None:
    """Extra fields another engineer adds survive the dump; missing optional ones become null."""
    typed = typed_output(PlaceOrderOutput, {**PLACED, "new_field": [1, 2]}, "place_order")
    assert isinstance(typed, PlaceOrderOutput)
    out = output_json(typed)
    assert out["new_field"] == [1, 2] and out["order_id"] == "1370093239"
    assert out["limit_price"] is None and out["confirmed_message_ids"] == []


def test_a_placed_order_survives_a_schema_mismatch(caplog: pytest.LogCaptureFixture) -> None:
    """A result the model refuses is returned as it came (logged), never turned into an error."""
    broken = {**PLACED, "order_id": ["not", "a", "string"]}
    with caplog.at_level(logging.ERROR, logger="noetl_ib_plugin.actions.outputs"):
        out = output_json(typed_output(PlaceOrderOutput, broken, "place_order"))
        typed = load_output(PlaceOrderOutput, broken, "place_order")
    assert out is broken
    assert typed.order_id == ["not", "a", "string"]  # type: ignore[comparison-overlap]
    assert "place_order: result does not match PlaceOrderOutput" in caplog.text


def test_no_output_model_means_the_raw_result() -> None:
    """A third-party action without an output model returns its dict unchanged."""
    result: dict[str, Any] = {"x": 1}
    assert typed_output(None, result, "x") is result and output_json(result) is result
    action = Action("x", BaseModel, lambda c, a: {}, "no model")
    assert action.output_model is None and output_schema(action) is None
    assert "output_model=None" in repr(action)


def test_every_builtin_action_publishes_an_output_schema() -> None:
    """list_actions() carries each action's output JSON schema next to its input schema."""
    listed = {a["name"]: a for a in list_actions()}
    assert set(listed) == set(default_host().registry.actions)
    for name, entry in listed.items():
        schema = entry["output_schema"]
        assert schema is not None and schema["type"] == "object", name
        assert schema["properties"], name


def test_output_model_is_imported_on_first_use() -> None:
    """The registry names output models by import path; reading the field imports the class."""
    action = default_host().registry.actions["place_order"]
    assert "outputs:PlaceOrderOutput" in repr(action)
    assert action.output_model is PlaceOrderOutput


def test_quote_typed_fields_read_requested_fields() -> None:
    """Quote's typed fields give a requested snapshot field, None when it was not requested."""
    quote = Quote.model_validate({"conid": 1, "last": 10.5, "bid": None})
    assert quote.last == 10.5 and quote.bid is None and quote.ask is None


def test_a_run_function_may_return_its_model_itself() -> None:
    """A model the action built is the typed result as it is (not re-validated), JSON at the edge."""
    built = PlaceOrderOutput.model_validate(PLACED)
    assert typed_output(PlaceOrderOutput, built, "place_order") is built
    out = output_json(built)
    assert out["order_id"] == "1370093239" and out["quantity"] == 5.0
    assert out["confirmed_message_ids"] == [] and out["limit_price"] is None
