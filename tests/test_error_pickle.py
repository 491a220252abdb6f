"""Errors survive pickling (process pools, task queues) with their type, text and fields intact."""

from __future__ import annotations

import copy
import pickle

import pytest

from noetl_ib_plugin import errors

SAMPLES: list[errors.IBPluginError] = [
    errors.IBPluginError("x", field="f", fix="do y.", status=500),
    errors.OrderUnconfirmed("no answer", client_order_id="c-1", status=502),
    errors.OrderInactive("held", order_id="7", client_order_id="c-2", reason="margin"),
    errors.IdempotencyKeyConflict("taken", client_order_id="c-3", order_id="8"),
    errors.AmbiguousContract("two", candidates=[{"conid": 1, "exchange": "ASX"}]),
    errors.CredentialNotFound("ib_paper", ["file a"], known=["ib_live"]),
    errors.RateLimited("429", retry_after=2.0),
    errors.OutcomeUnknown("reset after POST", status=None),
    errors.OutcomeUnknownError("lost", status=None),
    errors.UsageError("bad option"),
    errors.ModifyUnconfirmed("lost modification", order_id="9", status=None),
    errors.OrderNotWorking("filled", order_id="9", order_status="Filled", filled_quantity=2.0,
                           avg_price=100.0),
    errors.OrderGroupIncomplete("part", client_order_id="g-1", fix="cancel 9.",
                                legs=[{"role": "parent", "outcome": "placed", "order_id": "9"}]),
    errors.OrderGroupUnconfirmed("lost", client_order_id="g-2",
                                 legs=[{"role": "stop_loss", "outcome": "unknown"}]),
]


@pytest.mark.parametrize("exc", SAMPLES, ids=lambda e: type(e).__name__)
def test_error_round_trips_through_pickle(exc: errors.IBPluginError) -> None:
    """pickle.loads(pickle.dumps(e)) is the same class with the same str, to_dict and retryable."""
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc)
    assert str(back) == str(exc)
    assert back.to_dict() == exc.to_dict()
    assert back.retryable is exc.retryable
    assert back.args == exc.args


@pytest.mark.parametrize("exc", SAMPLES, ids=lambda e: type(e).__name__)
def test_error_survives_copy_and_deepcopy(exc: errors.IBPluginError) -> None:
    """copy.copy and copy.deepcopy (which use __reduce__) keep class, text, fields and category."""
    for back in (copy.copy(exc), copy.deepcopy(exc)):
        assert type(back) is type(exc)
        assert back.to_dict() == exc.to_dict()
        assert back.category == exc.category and back.retryable is exc.retryable
