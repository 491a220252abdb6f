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
    "InputError",
    "LiveTradingRefused",
    "OrderRejected",
    "OrderUnconfirmed",
    "RateLimited",
    "TransientError",
]


class IBPluginError(Exception):
    """Base of every error the plugin raises on purpose, so callers can catch one type."""

    #: Coarse category the CLI maps to an exit code: input, auth, broker, transient.
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
            fix="store it for local runs with `noetl credential set NAME < record.json`, register "
            "it on a NoETL server with `noetl register credential -f FILE`, pass "
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


class OrderUnconfirmed(TransientError):
    """The order may or may not exist: the connection dropped and reconciliation could not tell."""


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
