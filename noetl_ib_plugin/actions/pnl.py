"""The account's P&L: IBKR's partitioned P&L row of the account asked for, never another's.

`GET /iserver/account/pnl/partitioned` answers every account of the login:
`{"upnl": {"DU1234567.Core": {"rowType": 1, "dpl": 15.7, "nl": 10000.0, "upl": 607.0,
"uel": 10000.0, "el": 10000.0, "mv": 0.0}}}` (IBKR Web API reference, "Account Profit and Loss";
ibkr-web-api.md s.11 pacing: 1 request per 5 s).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..client import IBClient
from ..client.refusals import invalid_account_error
from ..common.quote_fields import as_float
from ..credentials.accounts import ACCOUNT_ID_PATTERN
from ..errors import TransientError
from .account_scope import another_account
from .outputs.base import load_output
from .outputs.pnl import PnlOutput
from .shapes import RETRY_FIX, expect_dict, get_json

__all__ = ["PNL_ENDPOINT", "GetPnlInput", "get_pnl", "pnl_row"]

PNL_ENDPOINT = "/iserver/account/pnl/partitioned"
#: Output name -> IBKR's key in the account's row.
_FIGURES = {"daily_pnl": "dpl", "unrealized_pnl": "upl", "net_liquidation": "nl",
            "excess_liquidity": "el"}


class GetPnlInput(BaseModel):
    """Daily and unrealized P&L of one account."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    account_id: str | None = Field(
        default=None, max_length=32, pattern=ACCOUNT_ID_PATTERN,
        description="override the credential's account",
    )


def pnl_row(body: Any, account: str) -> dict[str, Any]:
    """The `upnl` row of `account` (key `<account>.Core`).

    Raises BrokerError when the answer has rows but none of `account` (they are other
    accounts' figures), TransientError when it has no rows at all or is no P&L answer.
    """
    rows = expect_dict(body, PNL_ENDPOINT).get("upnl")
    if not isinstance(rows, dict) or not rows:
        raise TransientError(
            f"GET {PNL_ENDPOINT}: IBKR answered no P&L rows "
            f"({' '.join(str(body).split())[:160]!r})", status=200, fix=RETRY_FIX)
    row = rows.get(f"{account}.Core")
    if not isinstance(row, dict):
        raise another_account(f"GET {PNL_ENDPOINT}", account, "P&L")
    return row


def get_pnl(client: IBClient, inp: GetPnlInput) -> PnlOutput:
    """Daily and unrealized P&L of the account (`GET /iserver/account/pnl/partitioned`).

    Returns PnlOutput `{account_id, daily_pnl, unrealized_pnl, net_liquidation,
    excess_liquidity, values}` (base currency; null where IBKR's row lacks the figure). Only the
    `<account>.Core` row is read. Raises InputError (field account_id) for an account
    `/iserver/accounts` does not list, BrokerError when IBKR's answer lacks the account's row
    (it answered for other accounts), TransientError when it has no rows.
    """
    account = inp.account_id or client.account_id
    listed = client.listed_accounts()
    if account not in listed:
        # IBKR answers every account of the login here: one it does not list has no row.
        raise invalid_account_error("GET", PNL_ENDPOINT, listed)
    row = pnl_row(get_json(client, PNL_ENDPOINT), account)
    out: dict[str, Any] = {"account_id": account}
    for name, key in _FIGURES.items():
        out[name] = as_float(row.get(key))
    out["values"] = {str(k): as_float(v) for k, v in sorted(row.items())}
    return load_output(PnlOutput, out, "get_pnl")
