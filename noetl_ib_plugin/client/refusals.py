"""IBKR answers that refuse the caller's input, some of them with a 5xx: never retried.

IBKR answers an account id the session does not hold with HTTP 500 `{"error": "Invalid account:
X"}` on `/portfolio/*` and with HTTP 400 `{"error": "accountId is not valid"}` on the order
endpoints, and an unknown conid on `/iserver/contract/{conid}/info` with HTTP 500 naming the
conid (IBKR Web API: portfolio, order and contract endpoints). Retrying cannot help: the
account case becomes an `InputError` on `account_id`, the others reach the action as a
`BrokerError` it classifies.
"""

from __future__ import annotations

from collections.abc import Sequence

import requests

from ..errors import InputError

__all__ = ["invalid_account_error", "is_invalid_account", "is_invalid_input"]

_ACCOUNT_MARKERS = ("invalid account", "accountid is not valid", "account id is not valid")
_CONTRACT_MARKERS = ("invalid conid", "no contracts retrieved", "contract not found")


def is_invalid_account(resp: requests.Response) -> bool:
    """True for a 400/500 whose body says the account id is not one the session holds."""
    if resp.status_code not in (400, 500):
        return False
    text = (resp.text or "")[:2000].lower()
    return any(marker in text for marker in _ACCOUNT_MARKERS)


def is_invalid_input(resp: requests.Response) -> bool:
    """True for an answer (even a 500) that refuses the account or conid the caller gave."""
    if is_invalid_account(resp):
        return True
    if resp.status_code not in (400, 404, 500):
        return False
    text = (resp.text or "")[:2000].lower()
    return any(marker in text for marker in _CONTRACT_MARKERS)


def invalid_account_error(method: str, path: str, accounts: Sequence[str]) -> InputError:
    """The InputError for an account IBKR refused, listing the accounts the credential holds."""
    known = ", ".join(accounts) if accounts else "none reported by IBKR"
    example = accounts[0] if accounts else "YOUR_ACCOUNT_ID"
    return InputError(
        f"{method} {path}: IBKR does not know this account for the credential "
        f"(its accounts: {known})",
        field="account_id",
        fix=f"pass account_id={example} (one of its accounts), or leave account_id out to use "
        "the credential's own account.",
    )
