"""The base of every output model, and the one boundary that applies them (the runner's dump)."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["Number", "dump_output", "load_output"]

log = logging.getLogger(__name__.rpartition(".")[0])

Number = int | float

# defer_build: a CLI step validates one action's output, so only that model builds its schema.
_OUT = ConfigDict(extra="allow", defer_build=True)


class _Output(BaseModel):
    """Base of every output: unknown fields are kept (forward compatible)."""

    model_config = _OUT


_M = TypeVar("_M", bound=BaseModel)


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


def dump_output(model: type[BaseModel] | None, result: dict[str, Any], action: str) -> dict[str, Any]:
    """The JSON dump of the typed result (the raw dict when there is no model or it refuses)."""
    if model is None:
        return result
    try:
        return model.model_validate(result).model_dump(mode="json")
    except ValidationError as exc:
        log.error("%s: result does not match %s (%d problems); returned unvalidated",
                  action, model.__name__, exc.error_count())
        return result
