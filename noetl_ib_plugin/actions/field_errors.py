"""The validation error a model-level check raises so the error still names its field."""

from __future__ import annotations

from pydantic_core import PydanticCustomError

__all__ = ["field_error"]


def field_error(field: str, message: str, fix: str | None = None) -> PydanticCustomError:
    """A validation error that names its field even when raised by a model-level check;
    `fix` (copyable as written) replaces the generic one."""
    ctx = {"field": field, "detail": message, **({"fix": fix} if fix else {})}
    return PydanticCustomError("field_error", "{field}: {detail}", ctx)
