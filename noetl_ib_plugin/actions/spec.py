"""What an action is: a name playbooks call, a validated input model, and a function of a client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from ..client import IBClient

__all__ = ["Action"]


@dataclass(frozen=True)
class Action:
    """A named trading job; `trading=True` puts it behind the paper guard."""

    name: str
    input_model: type[BaseModel]
    run: Callable[[IBClient, Any], dict[str, Any]]
    description: str
    trading: bool = False
