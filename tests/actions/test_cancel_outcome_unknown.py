"""A cancel whose answer is lost and whose order cannot be found ends as exit 6, not exit 5."""

from __future__ import annotations

import json

import pytest

from noetl_ib_plugin.cli._io import error_exit_code
from noetl_ib_plugin.entry import main
from noetl_ib_plugin.errors import OutcomeUnknown
from noetl_ib_plugin.simulator import Simulator
from tests.fixtures.simulators import act


def test_lost_cancel_answer_is_outcome_unknown_exit_6(sim_reset: Simulator) -> None:
    """DELETE answer lost and no live order to reconcile: OutcomeUnknown, not retryable, exit 6."""
    sim_reset.set_faults({"reset_after": 1.0, "methods": ["DELETE"]})
    with pytest.raises(OutcomeUnknown) as info:
        act(sim_reset, "sim_oauth2", "cancel_order", order_id="987654321")
    assert info.value.retryable is False
    assert info.value.to_dict()["category"] == "unknown"
    assert error_exit_code(info.value) == 6


def test_lost_cancel_answer_in_a_step_is_category_unknown(sim_reset: Simulator) -> None:
    """entry.main reports the same lost cancel with category unknown (not transient)."""
    sim_reset.set_faults({"reset_after": 1.0, "methods": ["DELETE"]})
    out = main(action="cancel_order", credential="sim_oauth2", order_id="987654321",
               credentials_file=str(sim_reset.credentials_file))
    assert out["ok"] is False, json.dumps(out)
    assert (out["error"]["type"], out["error"]["category"]) == ("OutcomeUnknown", "unknown")
