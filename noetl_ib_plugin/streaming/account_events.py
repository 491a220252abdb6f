"""Account topics of IBKR's WebSocket (ibkr-web-api.md s.12): account summary (`ssd`), ledger
(`sld`), the server-initiated `act`, `blt` and `ntf`, and the unsubscribe confirmations that
come without a topic (`{"result":"unsubscribed from summary"}`). Typed events and their decoder;
the StreamClient hands every message its own decoder does not know to `decode_other`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import Field

from ..errors import ConfigurationError
from .events import ErrorEvent, StreamEvent

__all__ = [
    "ACCOUNT_TOPICS",
    "AccountEvent",
    "AccountSummaryEvent",
    "BulletinEvent",
    "LedgerEvent",
    "NotificationEvent",
    "UnsubscribedEvent",
    "account_subscription",
    "decode_other",
]

#: Stream topic -> (IBKR's subscribe prefix, unsubscribe prefix).
ACCOUNT_TOPICS = {"summary": ("ssd", "usd"), "ledger": ("sld", "uld")}
#: Keys of `act` that are a session's identity, never passed on (events are printed by the CLI).
_PRIVATE = frozenset({"sessionId", "session", "sessionid"})


class AccountSummaryEvent(StreamEvent):
    """`ssd+<acct>`: account summary values by IBKR's key (`NetLiquidation`, `AvailableFunds`,
    `AccountCode`, ...), each `{"monetaryValue": number, "currency": "USD"}` or `{"value": text}`
    (the key's fields this message carried; amounts in the account's base currency)."""

    topic: Literal["summary"] = "summary"
    account_id: str
    values: dict[str, dict[str, Any]]

    def amount(self, key: str) -> float | None:
        """A key's `monetaryValue` (None when this message did not carry it)."""
        found = self.values.get(key, {}).get("monetaryValue")
        return float(found) if isinstance(found, (int, float)) else None


class LedgerEvent(StreamEvent):
    """`sld+<acct>`: ledger rows by currency (`BASE` holds the totals in the base currency),
    IBKR's field names (`cashbalance`, `netliquidationvalue`, `unrealizedpnl`, ...)."""

    topic: Literal["ledger"] = "ledger"
    account_id: str
    rows: dict[str, dict[str, Any]]


class AccountEvent(StreamEvent):
    """`act`: the login's accounts, the selected one and whether it is paper."""

    topic: Literal["account"] = "account"
    accounts: list[str] = Field(default_factory=list)
    selected_account: str = ""
    is_paper: bool | None = None
    args: dict[str, Any] = Field(default_factory=dict)


class BulletinEvent(StreamEvent):
    """`blt`: exchange or IBKR bulletins (`id`, `message`, ...)."""

    topic: Literal["bulletin"] = "bulletin"
    bulletins: list[dict[str, Any]]


class NotificationEvent(StreamEvent):
    """`ntf`: notifications (`id`, `title`, `text`, `url`, ...)."""

    topic: Literal["notification"] = "notification"
    notifications: list[dict[str, Any]]


class UnsubscribedEvent(StreamEvent):
    """IBKR confirmed an unsubscribe (`summary`, `ledger`, or a market history server id)."""

    topic: Literal["unsubscribed"] = "unsubscribed"
    what: str


def account_subscription(topic: str, account_id: str,
                         keys: Iterable[str] = ()) -> tuple[str, str]:
    """IBKR's (subscribe, unsubscribe) texts for `summary` or `ledger` of `account_id`.
    Raises ConfigurationError for another topic or an account id that is not one (it becomes
    part of a protocol text)."""
    if topic not in ACCOUNT_TOPICS:
        raise ConfigurationError(f"unknown account stream topic {topic!r}", field="topic",
                                 fix=f"use one of: {', '.join(ACCOUNT_TOPICS)}.")
    if not account_id or not account_id.replace("-", "").isalnum():
        raise ConfigurationError(f"{topic} needs an account id such as DU1234567",
                                 field="account_id", fix="pass account_id=DU1234567.")
    sub, unsub = ACCOUNT_TOPICS[topic]
    args: dict[str, Any] = {}
    wanted = list(keys)
    if wanted:
        args["keys"] = wanted
    return (f"{sub}+{account_id}+" + json.dumps(args, separators=(",", ":")),
            f"{unsub}+{account_id}+{{}}")


def _dicts(value: Any) -> list[dict[str, Any]]:
    """A dict or a list of dicts as a list of dicts (IBKR sends both for `blt`/`ntf`)."""
    if isinstance(value, dict):
        return [value]
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _summary(account_id: str, result: list[dict[str, Any]], now: float) -> AccountSummaryEvent:
    """`ssd` entries keyed by IBKR's key (timestamps dropped)."""
    values: dict[str, dict[str, Any]] = {}
    for entry in result:
        key = entry.get("key")
        if isinstance(key, str) and key:
            values[key] = {k: v for k, v in entry.items() if k not in ("key", "timestamp")}
    code = values.get("AccountCode", {}).get("value")
    return AccountSummaryEvent(account_id=str(code or account_id), values=values,
                               received_at=now)


def _ledger(account_id: str, result: list[dict[str, Any]], now: float) -> LedgerEvent:
    """`sld` rows keyed by currency (`LedgerListBASE` -> `BASE`)."""
    rows: dict[str, dict[str, Any]] = {}
    for entry in result:
        key = str(entry.get("key", ""))
        currency = str(entry.get("currency") or key.removeprefix("LedgerList"))
        if currency:
            rows[currency] = {k: v for k, v in entry.items() if k != "key"}
            account_id = str(entry.get("acctCode") or account_id)
    return LedgerEvent(account_id=account_id, rows=rows, received_at=now)


def decode_other(topic: str, msg: dict[str, Any], now: float) -> StreamEvent | None:
    """The typed event of an account topic message, else None (a topic this module does not
    know). Raises nothing: a message in an unexpected shape is None."""
    prefix, _, account_id = topic.partition("+")
    if prefix in ("ssd", "sld"):
        if "error" in msg:
            return ErrorEvent(kind="account", message=str(msg["error"])[:300], received_at=now)
        result = _dicts(msg.get("result", msg.get("args")))
        if not result:
            return None
        return (_summary if prefix == "ssd" else _ledger)(account_id, result, now)
    if topic == "act":
        raw = msg.get("args")
        args: dict[str, Any] = raw if isinstance(raw, dict) else {}
        accounts = [str(a) for a in args.get("accounts") or [] if isinstance(a, str)]
        paper = args.get("isPaper")
        return AccountEvent(accounts=accounts, selected_account=str(args.get("selectedAccount")
                                                                    or ""),
                            is_paper=paper if isinstance(paper, bool) else None,
                            args={k: v for k, v in args.items() if k not in _PRIVATE},
                            received_at=now)
    if topic == "blt":
        return BulletinEvent(bulletins=_dicts(msg.get("args", msg.get("data"))),
                             received_at=now)
    if topic == "ntf":
        return NotificationEvent(notifications=_dicts(msg.get("args")), received_at=now)
    if not topic:
        done, message = msg.get("result"), msg.get("message")
        if isinstance(done, str) and done.startswith("unsubscribed from "):
            return UnsubscribedEvent(what=done.removeprefix("unsubscribed from "),
                                     received_at=now)
        if isinstance(message, str) and message.startswith("Unsubscribed "):
            return UnsubscribedEvent(what=message.removeprefix("Unsubscribed ")[:64],
                                     received_at=now)
    return None
