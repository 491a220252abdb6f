"""Client-level outcomes the actions must tell apart: "maybe processed" is not "failed"."""

from __future__ import annotations

from ..errors import TransientError

__all__ = ["OutcomeUnknown"]


class OutcomeUnknown(TransientError):
    """A non-idempotent request was sent but no usable answer came back (reset, timeout, 5xx).

    IBKR may or may not have processed it; callers reconcile (e.g. look the order's cOID up)
    instead of resending blindly.
    """
