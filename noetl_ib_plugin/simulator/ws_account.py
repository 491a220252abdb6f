"""Account topics of the simulator's `/v1/api/ws` (ibkr-web-api.md s.12, shapes as ibind's
router reads them): account summary `ssd+<acct>+{"keys":[..]}` / `usd+<acct>`, ledger
`sld+<acct>+{"keys":["LedgerListBASE"]}` / `uld+<acct>`, the `act` message after the greeting,
and the unsubscribe confirmations IBKR sends without a topic.

`ssd`: `{"topic":"ssd+DU..","result":[{"key":"AccountCode","value":"DU..","timestamp":ms},
{"key":"NetLiquidation","currency":"USD","monetaryValue":..,"severity":0,"timestamp":ms},..]}`,
all keys first, then only the changed ones (AccountCode always). `sld`: `{"topic":"sld+DU..",
"result":[{"key":"LedgerListBASE","acctCode":"DU..","currency":"BASE","cashbalance":..,..}]}`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from .auth import Principal
from .engine import Engine
from .ledger import ledger
from .portfolio import summary

__all__ = ["AccountStreams", "Session", "act_message"]


class Session(Protocol):
    """What these topics need of a stream session (ws.StreamSession)."""

    engine: Engine
    principal: Principal

    def send(self, message: Mapping[str, Any]) -> None:
        """Send one message (faults apply)."""

#: IBKR's `ssd` keys -> the simulator's summary figures (portfolio.summary).
SUMMARY_KEYS = {
    "NetLiquidation": "netliquidation", "TotalCashValue": "totalcashvalue",
    "AvailableFunds": "availablefunds", "ExcessLiquidity": "excessliquidity",
    "BuyingPower": "buyingpower", "GrossPositionValue": "grosspositionvalue",
    "EquityWithLoanValue": "equitywithloanvalue", "InitMarginReq": "initmarginreq",
    "MaintMarginReq": "maintmarginreq", "SettledCash": "settledcash",
}
CONFIRM = {"usd": "unsubscribed from summary", "uld": "unsubscribed from ledger"}


def act_message(session: Session) -> dict[str, Any]:
    """`act`: the login's accounts and the selected one (no session identity)."""
    accounts = session.engine.broker.login_accounts(session.principal)
    selected = session.principal.account_id
    return {"topic": "act", "args": {"accounts": accounts, "selectedAccount": selected,
                                     "isPaper": selected.startswith("DU"),
                                     "allowFeatures": {"showGFIS": False},
                                     "serverInfo": {"serverName": "ibsim"}}}


class AccountStreams:
    """One socket's `ssd`/`sld` subscriptions: account -> (keys wanted, what was sent)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.summary: dict[str, tuple[frozenset[str], dict[str, Any]]] = {}
        self.ledger: dict[str, tuple[frozenset[str], dict[str, Any]]] = {}
        #: The reader thread (a new subscription) and the session's push loop both push: one at
        #: a time, or both would send the "all keys" first message.
        self._lock = threading.Lock()

    def command(self, topic: str, rest: str) -> bool:
        """Handle `ssd`/`sld`/`usd`/`uld`; False for any other topic."""
        if topic not in ("ssd", "sld", "usd", "uld"):
            return False
        account, _, args = rest.partition("+")
        table = self.summary if topic in ("ssd", "usd") else self.ledger
        if topic in CONFIRM:
            table.pop(account, None)
            self.session.send({"result": CONFIRM[topic]})
            return True
        if account not in self.session.engine.broker.login_accounts(self.session.principal):
            self.session.send({"topic": f"{topic}+{account[:16]}",
                               "error": f"Account {account[:16]!r} is not one of this login's"})
            return True
        try:
            keys = json.loads(args or "{}").get("keys") or []
        except (ValueError, AttributeError):
            self.session.send({"topic": "error", "error": f"bad {topic} arguments"})
            return True
        table[account] = (frozenset(str(k) for k in keys), {})
        self.push()
        return True

    def push(self) -> None:
        """Send what changed since the last message of each subscription."""
        with self._lock:
            self._push()

    def _push(self) -> None:
        """`push` under its lock."""
        for account, (keys, sent) in list(self.summary.items()):
            rows = self._summary_rows(account)
            self._send("ssd", account, rows, keys, sent, always="AccountCode")
        for account, (keys, sent) in list(self.ledger.items()):
            self._send("sld", account, self._ledger_rows(account), keys, sent, always=None)

    def _send(self, prefix: str, account: str, rows: dict[str, dict[str, Any]],
              keys: frozenset[str], sent: dict[str, Any], *, always: str | None) -> None:
        """One `result` message of the rows that changed (and the `always` key with them)."""
        wanted = {k: v for k, v in rows.items() if not keys or k in keys or k == always}
        changed = [k for k, v in wanted.items() if k != always and sent.get(k) != v]
        if not changed:
            return
        sent.update({k: wanted[k] for k in changed})
        ms = int(self.session.engine.market.clock() * 1000)
        result = [{"key": k, **wanted[k], "timestamp": ms}
                  for k in ([always] if always in wanted else []) + changed]
        self.session.send({"topic": f"{prefix}+{account}", "result": result})

    def _summary_rows(self, account: str) -> dict[str, dict[str, Any]]:
        """`ssd` rows from the simulator's summary figures."""
        broker = self.session.engine.broker
        with broker.lock:
            acct = broker.accounts.get(account)
            if acct is None:
                return {}
            figures = summary(acct, self.session.engine.market, broker.account_rules)
        rows: dict[str, dict[str, Any]] = {"AccountCode": {"value": account}}
        for key, name in SUMMARY_KEYS.items():
            entry = figures.get(name)
            if entry is not None:
                rows[key] = {"currency": entry["currency"], "monetaryValue": entry["amount"],
                             "severity": 0}
        return rows

    def _ledger_rows(self, account: str) -> dict[str, dict[str, Any]]:
        """`sld` rows: the REST ledger's entries keyed `LedgerList<currency>`."""
        broker = self.session.engine.broker
        with broker.lock:
            acct = broker.accounts.get(account)
            if acct is None:
                return {}
            base = broker.account_rules.base_currency(account)
            book = ledger(acct, self.session.engine.market, base)
        rows = {}
        for currency, entry in book.items():
            row = {k: v for k, v in entry.items()
                   if k not in ("key", "timestamp", "acctcode", "secondkey", "sessionid")}
            rows[f"LedgerList{currency}"] = {"acctCode": account, **row}
        return rows
