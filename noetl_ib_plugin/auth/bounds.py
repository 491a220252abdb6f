"""Bounds on numbers that come from servers and cache files: finite, in range, or refused."""

from __future__ import annotations

import math
from typing import Any

from ..errors import AuthError

__all__ = ["MAX_EPOCH_SECONDS", "MAX_TOKEN_LIFETIME", "finite_number", "token_lifetime"]

#: No IBKR token lives longer than a day; a month leaves room and still bounds a bad answer.
MAX_TOKEN_LIFETIME = 31 * 86400.0
#: Epoch seconds past the year 2500 are not a real expiry (and not a real clock).
MAX_EPOCH_SECONDS = 16_725_225_600.0


def finite_number(value: Any) -> float | None:
    """`value` as a finite float; None for NaN, infinities, booleans, non-numbers and bad text."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def token_lifetime(value: Any, *, what: str, field: str, status: int | None = None) -> float:
    """Seconds a server says a token lives (RFC 6749 §5.1 `expires_in`): in (0, 31 days] or AuthError."""
    seconds = finite_number(value)
    if seconds is None or not 0 < seconds <= MAX_TOKEN_LIFETIME:
        raise AuthError(
            f"{what} has an unusable {field} (must be a number of seconds between 0 and "
            f"{MAX_TOKEN_LIFETIME:.0f})",
            field=field,
            status=status,
            fix="check that the URL in the credential record points at IBKR's endpoint; a "
            "token with no usable lifetime is refused rather than trusted forever or never.",
        )
    return seconds
