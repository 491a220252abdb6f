"""Which entries of an account-scoped IBKR answer belong to the account asked for.

A login can hold several accounts; IBKR answers live orders, trades and positions for the
account asked for (`accountId=`, the path), but an answer that names another account was not
answered for it (ibkr-web-api.md s.13): it proves nothing about the account asked for.
"""

from __future__ import annotations

from typing import Any

from ..errors import BrokerError

__all__ = ["another_account", "entries_of", "held_account", "names_another"]

#: What to do when IBKR answers for another account than the one asked for.
_ANOTHER_ACCOUNT_FIX = (
    "run `noetl-ib run accounts --credential NAME`: the "
    "credential's account_id must be one of the listed accounts; if it is, retry, since IBKR "
    "answered for its selected account instead.")

#: The account field of live orders (acct), trades (account, accountCode), positions (acctId).
_ACCOUNT_KEYS = ("acct", "account", "accountCode", "acctId")


def held_account(entry: dict[str, Any]) -> str | None:
    """The account an entry names: None when it names none (missing, empty, 0, null); a value
    that is not an id (an object, a list, a boolean) names an unknown account, never ours."""
    held = next((entry[k] for k in _ACCOUNT_KEYS if entry.get(k)), None)
    if held is None:
        return None
    return str(held) if isinstance(held, (str, int)) and not isinstance(held, bool) else "?"


def entries_of(entries: list[Any], account: str) -> tuple[list[dict[str, Any]], bool]:
    """(the entries of `account`, honest): `honest` is False when an entry names another account;
    then the answer says nothing about `account` and an entry naming no account is not its."""
    honest = not any(isinstance(e, dict) and held_account(e) not in (None, account)
                     for e in entries)
    ours = (account, None) if honest else (account,)
    return [e for e in entries if isinstance(e, dict) and held_account(e) in ours], honest


def names_another(value: Any, account: str) -> bool:
    """True when an account field's value names an account other than `account` (or is no id)."""
    return held_account({"acct": value}) not in (None, account)


def another_account(what: str, account: str, data: str) -> BrokerError:
    """The error for an answer about another account: `account`'s `data` are unknown."""
    return BrokerError(f"{what}: IBKR answered with another account's {data}, so {account}'s "
                       "are unknown", fix=_ANOTHER_ACCOUNT_FIX)
