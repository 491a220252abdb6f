"""Typed errors: every failure a user can meet names its field or cause and the fix, never a secret."""

from __future__ import annotations

from typing import Any, ClassVar

from .redaction import redact

__all__ = [
    "AmbiguousContract",
    "AuthError",
    "BrokerError",
    "ConfigurationError",
    "ContractNotFound",
    "CredentialError",
    "CredentialNotFound",
    "IBPluginError",
    "IdempotencyKeyConflict",
    "InputError",
    "LiveTradingRefused",
    "OrderInactive",
    "OrderOutcomeUnknown",
    "OrderRejected",
    "OrderUnconfirmed",
    "RateLimited",
    "TransientError",
]


class IBPluginError(Exception):
    """Base of every error the plugin raises on purpose, so callers can catch one type."""

    #: Coarse category the CLI maps to an exit code: input, auth, broker, transient, unknown.
    category: ClassVar[str] = "broker"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        fix: str | None = None,
        status: int | None = None,
    ) -> None:
        # Redacted here, once, so every path (Python, entry.main, CLI) shows the same safe text.
        self.message = redact(message)
        self.field = redact(field) if field else field
        self.fix = redact(fix) if fix else fix
        #: HTTP status of IBKR's answer, when there was one.
        self.status = status
        super().__init__(self._render())

    def _render(self) -> str:
        text = self.message
        if self.field and self.field not in text:
            text = f"{self.field}: {text}"
        if self.fix:
            text = f"{text} Fix: {self.fix}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON shape the CLI prints on stderr; safe because messages never carry secrets."""
        out: dict[str, Any] = {"type": type(self).__name__, "message": str(self)}
        if self.field:
            out["field"] = self.field
        return out


class InputError(IBPluginError, ValueError):
    """The caller's arguments are wrong; retrying the same call cannot help."""

    category = "input"


class CredentialError(InputError):
    """A credential record is missing a field, has a bad value, or has an unusable key."""


class CredentialNotFound(CredentialError):
    """No store holds a record by that name; the message lists every place searched."""

    def __init__(self, name: str, searched: list[str], known: list[str] | None = None) -> None:
        import difflib
        import re

        # Only a well-formed record name goes into a command to copy (shell-safe, and never a
        # pasted record whose secrets quoting would hide from redaction).
        shown = name if re.fullmatch(r"[A-Za-z0-9_.:@+-]{1,128}", name) else "NAME"

        self.name = name
        self.searched = list(searched)
        #: Record names the searched stores do hold (files and alias directory), sorted.
        self.known = sorted(set(known or []))
        where = "; ".join(searched) if searched else "no store was configured"
        close = difflib.get_close_matches(name, self.known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        names = f" Names found: {', '.join(self.known)}{hint}" if self.known else ""
        super().__init__(
            f"credential {name!r} was not found (looked in: {where}).{names}",
            field="credential",
            fix=f"store it for local runs with `noetl credential set {shown} < "
            "record.json`, register it on a NoETL server with `noetl register credential -f "
            "FILE`, pass "
            "--credentials-file FILE, or set NOETL_IB_CREDENTIALS to a JSON file that holds it.",
        )


class ConfigurationError(InputError):
    """An environment variable or option has a value the plugin cannot use."""


class LiveTradingRefused(InputError):
    """A trading action met a live account without the two explicit opt-ins."""


class AuthError(IBPluginError):
    """Authentication failed: bad keys, unregistered consumer, clock skew, revoked session."""

    category = "auth"


class BrokerError(IBPluginError):
    """IBKR answered with an error; carries the HTTP status and IBKR's own message."""

    category = "broker"

    def to_dict(self) -> dict[str, Any]:
        """Adds the HTTP status so scripts can branch on it."""
        out = super().to_dict()
        if self.status is not None:
            out["status"] = self.status
        return out


class TransientError(BrokerError):
    """A network error or 5xx that outlasted the retry budget; the same call may work later."""

    category = "transient"


class RateLimited(TransientError):
    """IBKR answered 429 past the retry budget; `retry_after` is its hint in seconds."""

    def __init__(self, message: str, *, status: int | None = 429, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(
            message,
            status=status,
            fix="slow down; the client paces itself below IBKR's limits unless pacing was disabled.",
        )


class OrderRejected(BrokerError):
    """IBKR refused the order (or a confirmation question was declined by the confirm policy)."""


class OrderUnconfirmed(BrokerError):
    """Outcome unknown: IBKR may hold the order; looking it up by cOID could not tell.

    Category "unknown" (CLI exit 6): do not retry blindly; look the order up by
    `client_order_id` (get_open_orders, or IBKR's portal) first.
    """

    category = "unknown"

    def __init__(self, message: str, *, client_order_id: str, status: int | None = None) -> None:
        self.client_order_id = client_order_id
        if client_order_id not in message:
            message = f"{message} (client_order_id {client_order_id})"
        super().__init__(
            message,
            field="client_order_id",
            status=status,
            fix=f"do not retry blindly; look it up by client_order_id {client_order_id} "
            "(get_open_orders lists it as client_order_id); if it is absent, place it again "
            f"with client_order_id={client_order_id}, never with a new id.",
        )

    def to_dict(self) -> dict[str, Any]:
        """Adds `client_order_id` so scripts can look the order up without parsing text."""
        out = super().to_dict()
        out["client_order_id"] = self.client_order_id
        return out


#: The name the issue tracker and README use for `OrderUnconfirmed`.
OrderOutcomeUnknown = OrderUnconfirmed


class OrderInactive(OrderRejected):
    """IBKR accepted the ticket but holds it `Inactive` (not working): a refusal in disguise."""

    def __init__(self, message: str, *, order_id: str, client_order_id: str | None,
                 reason: str | None = None) -> None:
        self.order_id = order_id
        self.client_order_id = client_order_id
        self.reason = reason
        super().__init__(
            message,
            field="order_id",
            fix=f"order {order_id} will not execute; check IBKR's reason, fix the order and "
            "place it with a new client_order_id (cancel_order on it is a no-op).",
        )

    def to_dict(self) -> dict[str, Any]:
        """Adds the order id, cOID and IBKR's reason."""
        out = super().to_dict()
        out.update(order_id=self.order_id, client_order_id=self.client_order_id,
                   reason=self.reason)
        return out


class IdempotencyKeyConflict(InputError):
    """A `client_order_id` already belongs to a different order at IBKR; nothing was placed."""

    def __init__(self, message: str, *, client_order_id: str, order_id: str | None) -> None:
        self.client_order_id = client_order_id
        self.order_id = order_id
        super().__init__(
            message,
            field="client_order_id",
            fix=f"client_order_id {client_order_id} already names order {order_id}; to place a "
            "different order, pass a client_order_id you have not used in the last 24 h.",
        )

    def to_dict(self) -> dict[str, Any]:
        """Adds the cOID and the id of the order that holds it."""
        out = super().to_dict()
        out.update(client_order_id=self.client_order_id, order_id=self.order_id)
        return out


class ContractNotFound(BrokerError, LookupError):
    """No contract matched the symbol and filters."""


class AmbiguousContract(BrokerError, LookupError):
    """Several contracts matched; the caller must narrow by exchange, currency or conid."""

    category = "input"

    def __init__(
        self, message: str, *, candidates: list[dict[str, Any]], conid_argument: str = "conid"
    ) -> None:
        self.candidates = candidates
        # Name the argument of the action that raised it: place_order takes conid=, snapshot conids=.
        first = next((c for c in candidates if c.get("conid")), {})
        pick = f"{conid_argument}={first['conid']}" if first else f"{conid_argument}=CONID"
        narrow = " or ".join(
            f"{key}={first[key]}" for key in ("exchange", "currency") if first.get(key)
        ) or "exchange=EXCHANGE or currency=CURRENCY"
        super().__init__(
            message,
            field="symbol",
            fix=f"pick one candidate: pass {pick} (its conid), or narrow with {narrow}.",
        )

    def to_dict(self) -> dict[str, Any]:
        """Includes the candidates so a playbook can show them."""
        out = super().to_dict()
        out["candidates"] = self.candidates
        return out
