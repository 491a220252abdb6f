"""The validation error a model-level check raises so the error still names its field."""

from __future__ import annotations

from pydantic_core import PydanticCustomError

__all__ = ["field_error"]


def field_error(field: str, message: str) -> PydanticCustomError:
    """A validation error that names its field even when raised by a model-level check."""
    return PydanticCustomError("field_error", "{field}: {detail}", {"field": field, "detail": message})
