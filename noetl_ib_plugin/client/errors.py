"""Client-level outcomes the actions must tell apart; the class lives in the one error tree."""

from __future__ import annotations

from ..errors import OutcomeUnknown

__all__ = ["OutcomeUnknown"]
