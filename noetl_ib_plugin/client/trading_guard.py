"""The trading guard: which account a call trades, and whether it may (paper, or live twice opted in).

Decided by what IBKR's `GET /iserver/accounts` answers this process for this credential's
current token (its account list, `selectedAccount` and `isPaper`:
`BrokerageSessionManager.verified`), never by an account id's `DU` prefix nor by state a token
cache or a NoETL keychain holds.
"""

from __future__ import annotations

import logging

from ..credentials.accounts import account_id_problem, check_account_id
from ..errors import BrokerError, LiveTradingRefused
from .brokerage_session import BrokerageSessionManager
from .brokerage_state import BrokerageSession

__all__ = ["TradingGuard", "paper_by_ibkr"]

log = logging.getLogger(__name__)


def paper_by_ibkr(session: BrokerageSession, account_id: str) -> bool:
    """The one paper rule (the guard's and the `accounts` action's): IBKR lists `account_id`
    for this credential and its `/iserver/accounts` answer says `isPaper: true`. No prefix."""
    listed = [a for a in session.accounts if account_id_problem(a) is None]
    return account_id in listed and session.is_paper is True


class TradingGuard:
    """Account selection and the paper guard over one credential's brokerage session."""

    def __init__(self, brokerage: BrokerageSessionManager, explicit_account_id: str | None) -> None:
        self.brokerage = brokerage
        self.explicit_account_id = explicit_account_id

    def account_id(self) -> str:
        """The credential's account, else IBKR's selected account; both must be IBKR account ids."""
        if self.explicit_account_id:
            return check_account_id(self.explicit_account_id, "data.account_id")
        selected = self.brokerage.verified().selected_account
        if not selected:
            raise BrokerError(
                "IBKR did not say which account to use",
                fix="set data.account_id in the credential record.",
            )
        if account_id_problem(selected) is not None:
            raise BrokerError(
                "IBKR's selectedAccount is not an account id this client accepts",
                field="selectedAccount",
                fix="set data.account_id in the credential record to the account to use.",
            )
        listed = self.listed_accounts()
        if listed and selected not in listed:
            # The broker contradicts itself: reading or trading that account would describe (or
            # move) an account the credential is not shown to hold.
            raise BrokerError(
                f"IBKR's selectedAccount {selected} is not one of the accounts it lists for this "
                f"credential ({', '.join(listed)})",
                field="selectedAccount",
                fix=f"set data.account_id in the credential record to one of them, e.g. "
                f"\"account_id\": \"{listed[0]}\".",
            )
        return selected

    def listed_accounts(self) -> list[str]:
        """The well-formed account ids `GET /iserver/accounts` lists for this credential."""
        return [a for a in self.brokerage.verified().accounts if account_id_problem(a) is None]

    def is_paper(self, account_id: str | None = None) -> bool:
        """Whether IBKR says `account_id` (default: `account_id()`) is a paper account.

        An id IBKR does not list for this credential raises LiveTradingRefused, and an answer
        without `isPaper` counts as live.
        """
        acct = check_account_id(account_id or self.account_id())
        session = self.brokerage.verified()
        listed = [a for a in session.accounts if account_id_problem(a) is None]
        if acct not in listed:
            known = ", ".join(listed) if listed else "none"
            raise LiveTradingRefused(
                f"account {acct} is not one IBKR lists for this credential (its accounts: "
                f"{known})",
                field="account_id",
                fix=f"pass account_id={listed[0] if listed else 'YOUR_ACCOUNT_ID'} (one of its "
                "accounts; `noetl-ib run accounts --credential NAME` lists them), or leave "
                "account_id out to use IBKR's selected account.",
            )
        return paper_by_ibkr(session, acct)

    def ensure_trading_allowed(self, account_id: str | None, *, environment: str,
                               allow_live: bool) -> str:
        """The account to trade, or LiveTradingRefused: a live account needs both the record's
        `environment: live` and `allow_live=True` (exactly True, not merely truthy)."""
        acct = check_account_id(account_id or self.account_id())
        if self.is_paper(acct):
            return acct
        if environment == "live" and allow_live is True:
            log.warning("trading on LIVE account %s (credential environment=live, allow_live)",
                        acct)
            return acct
        missing = []
        if environment != "live":
            missing.append('set "environment": "live" in the credential record\'s data')
        if allow_live is not True:
            missing.append("pass allow_live=True (CLI: --allow-live)")
        raise LiveTradingRefused(
            f"refusing to trade on account {acct}: IBKR does not report it as a paper account",
            field="account_id",
            fix="to trade a live account on purpose, " + " and ".join(missing) + ".",
        )
