"""entry.main with a non-text action says what it got instead of claiming none was given."""

from __future__ import annotations

from noetl_ib_plugin.entry import main


def test_non_string_action_is_named_as_wrong_type() -> None:
    """action=5 is reported as the wrong type (field action, category input), not as missing."""
    out = main(action=5, credential="x")  # type: ignore[arg-type]
    assert out["ok"] is False
    error = out["error"]
    assert (error["type"], error["field"], error["category"]) == ("InputError", "action", "input")
    assert error["message"] != "is required"
    assert "int" in error["message"]


def test_missing_action_is_required() -> None:
    """No action at all still reads "is required"."""
    out = main(credential="x")
    assert out["error"]["message"] == "is required"
