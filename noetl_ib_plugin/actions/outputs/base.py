"""The base of every output model, and the two boundaries: the typed result, its JSON at the edge."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["ActionResult", "Number", "load_output", "output_json", "typed_output"]

log = logging.getLogger(__name__.rpartition(".")[0])

Number = int | float

# defer_build: a CLI step validates one action's output, so only that model builds its schema.
_OUT = ConfigDict(extra="allow", defer_build=True)


class _Output(BaseModel):
    """Base of every output: unknown fields are kept (forward compatible)."""

    model_config = _OUT


_M = TypeVar("_M", bound=BaseModel)

#: What running an action gives: its output model, or a dict when the action declares no output
#: model or the model refused the result (kept as it came, so a placed order is never lost).
ActionResult = BaseModel | dict[str, Any]


def load_output(model: type[_M], result: dict[str, Any], action: str) -> _M:
    """The typed result; a result the model refuses is kept unvalidated (logged), never lost.

    An order IBKR accepted must reach the caller even if its dict grew a surprising field type,
    so a schema mismatch is a logged bug, not an exception after the order was placed.
    """
    try:
        return model.model_validate(result)
    except ValidationError as exc:
        log.error("%s: result does not match %s (%d problems); returned unvalidated",
                  action, model.__name__, exc.error_count())
        return model.model_construct(**result)


def typed_output(model: type[BaseModel] | None, result: ActionResult, action: str) -> ActionResult:
    """The action's result as its output model: a model is kept as it is, a dict is validated.

    The dict comes back unchanged when there is no model or the model refuses it (logged),
    so a schema mismatch after IBKR accepted an order is a logged bug, never an exception.
    """
    if model is None or isinstance(result, BaseModel):
        return result
    try:
        return model.model_validate(result)
    except ValidationError as exc:
        log.error("%s: result does not match %s (%d problems); returned unvalidated",
                  action, model.__name__, exc.error_count())
        return result


def output_json(result: ActionResult) -> dict[str, Any]:
    """The JSON object at the edge (CLI line, `entry.main` dict, `run_action`): a model's
    `model_dump(mode="json")` (numbers stay numbers, times ISO-8601 UTC), a dict as it is."""
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    return result
