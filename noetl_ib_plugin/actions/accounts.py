"""The accounts action: what the credential can trade, paper or live, with currency and type.

Sources: `GET /iserver/accounts` (ids, `selectedAccount`, `isPaper`, aliases) and
`GET /portfolio/accounts` (currency, type, title). Actions use `account_id` when given, else the
credential's `data.account_id`, else IBKR's `selectedAccount`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from ..client import IBClient
from ..client.brokerage_state import BrokerageSession
from ..client.trading_guard import paper_by_ibkr
from ..errors import BrokerError
from .outputs.base import load_output
from .outputs.portfolio import AccountsOutput

__all__ = ["AccountsInput", "accounts"]


class AccountsInput(BaseModel):
    """No arguments: the accounts come from the credential."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


def _portfolio_accounts(client: IBClient) -> dict[str, dict[str, Any]]:
    """`GET /portfolio/accounts` by account id (IBKR paces it to 1 per 5 s)."""
    body = client.get("/portfolio/accounts")
    if isinstance(body, dict) and body.get("error"):
        raise BrokerError(f"listing portfolio accounts failed: {body['error']}")
    items = body if isinstance(body, list) else []
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        if isinstance(item, dict):
            acct = item.get("accountId") or item.get("id")
            if acct:
                out[str(acct)] = item
    return out


def accounts(client: IBClient, inp: AccountsInput) -> AccountsOutput:
    """Every account of `/iserver/accounts`, merged with `/portfolio/accounts` details."""
    body = client.get("/iserver/accounts")
    if not isinstance(body, dict) or body.get("error"):
        detail = body.get("error") if isinstance(body, dict) else str(body)[:200]
        raise BrokerError(f"listing accounts failed: {detail}")
    ids = [str(a) for a in body.get("accounts") or [] if isinstance(a, (str, int))]
    selected = body.get("selectedAccount")
    selected = str(selected) if selected else (ids[0] if ids else None)
    aliases = body.get("aliases") if isinstance(body.get("aliases"), dict) else {}
    session = BrokerageSession.from_accounts(body, 0.0)
    details = _portfolio_accounts(client)
    # The account actions use: never a selectedAccount IBKR itself does not list (the client
    # refuses to read or trade it).
    default = client.guard.explicit_account_id or (selected if selected in ids else None)
    out = []
    for acct in ids + [a for a in details if a not in ids]:
        info = details.get(acct, {})
        out.append({
            "account_id": acct,
            "paper": paper_by_ibkr(session, acct),  # the trading guard's rule, not the prefix
            "currency": info.get("currency"),
            "type": info.get("type"),
            "alias": (aliases or {}).get(acct) or info.get("accountAlias"),
            "title": info.get("accountTitle") or info.get("desc"),
            "selected": acct == selected,
            "default": acct == default,
        })
    return load_output(AccountsOutput, {"accounts": out, "selected_account": selected,
                                        "default_account": default}, "accounts")
