"""The one account-id rule, applied wherever an account id enters the plugin.

IBKR account ids are one to three capital letters and five to ten digits: `U1234567` (live),
`DU1234567` (paper), `F1234567`/`DF1234567` (advisor master), `I1234567`. The rule is a
character set and a length, nothing more: whether an account is paper is decided by what
IBKR's `/iserver/accounts` says, never by the prefix (shared/ibkr-web-api.md §4).
"""

from __future__ import annotations

import re

from ..errors import InputError

__all__ = ["ACCOUNT_ID_PATTERN", "account_id_problem", "check_account_id"]

#: Regular expression for an IBKR account id (full match).
ACCOUNT_ID_PATTERN = r"^[A-Z]{1,3}[0-9]{5,10}$"
_ACCOUNT_ID = re.compile(r"[A-Z]{1,3}[0-9]{5,10}")


def account_id_problem(value: object) -> str | None:
    """Why `value` is not an IBKR account id, or None when it is one; never repeats the value."""
    if not isinstance(value, str):
        return "must be a string such as DU1234567"
    if _ACCOUNT_ID.fullmatch(value):
        return None
    if value.strip() != value:
        return "must not have surrounding spaces"
    if value.isascii() and _ACCOUNT_ID.fullmatch(value.upper()):
        return "must be written in capital letters, e.g. DU1234567"
    return "is not an IBKR account id (1-3 capital letters then 5-10 digits, e.g. DU1234567)"


def check_account_id(value: object, field: str = "account_id") -> str:
    """Return `value` when it is an IBKR account id; else raise InputError naming `field`."""
    problem = account_id_problem(value)
    if problem is not None:
        raise InputError(
            problem,
            field=field,
            fix="use the account id exactly as IBKR shows it (Client Portal, top right), "
            "e.g. DU1234567.",
        )
    assert isinstance(value, str)
    return value
