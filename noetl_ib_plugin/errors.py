"""Typed errors: every failure a user can meet names its field or cause and the fix, never a secret.

The one error tree of the package (as httpx's ``_exceptions.py``); ``category`` is what the CLI
maps to an exit code (2 input, 3 auth, 4 broker, 5 transient, 6 unknown) and ``retryable`` says
whether the same call may work later. "We do not know what the broker holds" is its own branch,
beside BrokerError rather than under it, so `except TransientError: retry` and
`except BrokerError: give up` never swallow it::

    IBPluginError                      base: message, field, fix, status; to_dict(); retryable
    ├── InputError (ValueError)        "input"     the caller's arguments are wrong
    │   ├── CredentialError            a record misses a field or has an unusable value
    │   │   └── CredentialNotFound     no store holds a record by that name
    │   ├── ConfigurationError         an env variable or option the plugin cannot use
    │   ├── LiveTradingRefused         a live account without the two opt-ins
    │   ├── IdempotencyKeyConflict     the client_order_id names another order
    │   ├── AmbiguousContract (LookupError)  several contracts matched the symbol
    │   ├── ContractMismatch (LookupError)   the contract found is not the one asked for
    │   └── UsageError                 a bad `noetl-ib` command line
    ├── AuthError                      "auth"      keys, consumer, clock skew, revoked session
    ├── BrokerError                    "broker"    IBKR (or a server we call) said no
    │   ├── OrderRejected              IBKR refused the order
    │   │   └── OrderInactive          accepted but held Inactive: a refusal in disguise
    │   ├── OrderGroupIncomplete       a bracket / OCA group IBKR holds only in part (`legs`)
    │   ├── ContractNotFound (LookupError)  no contract matched
    │   ├── OrderNotFound (LookupError)     IBKR knows no order with that order_id
    │   ├── OrderNotWorking            the order to modify is filled, cancelled or inactive
    │   ├── SessionTakenOver           another session of the username holds the brokerage session
    │   ├── RedirectRefused            a 3xx: credentials are never sent after a redirect
    │   ├── ResponseTooLarge           an answer past the byte cap
    │   ├── RegistrationFailed         a NoETL server refused a credential record
    │   └── TransientError             "transient" may work later (retryable)
    │       └── RateLimited            429 past the retry budget; retry_after in seconds
    └── OutcomeUnknownError            "unknown"   IBKR may hold what we sent: reconcile first
        ├── OutcomeUnknown             a non-idempotent request got no usable answer
        ├── OrderUnconfirmed           IBKR may hold the order; its cOID lookup could not tell
        │   └── OrderGroupUnconfirmed  a leg of a bracket / OCA group is unknown (`legs`)
        └── ModifyUnconfirmed          a modification may be applied; reading it back could not tell

`transport.DeadlineExceeded` stays beside the transport: it subclasses `requests.ReadTimeout` so
requests' own retry and timeout handling treat it as one, and this base module imports nothing
but `redaction`. Internal signals that never reach a caller (`order_questions.DuplicateCoid`,
`credentials.files.NotARegularFile`/`TooLarge`, `credentials.urls.UnsafeURL`) stay with the
code that turns them into one of these errors.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .common.redaction import redact

__all__ = [
    "AmbiguousContract",
    "AuthError",
    "BrokerError",
    "ConfigurationError",
    "ContractMismatch",
    "ContractNotFound",
    "CredentialError",
    "CredentialNotFound",
    "IBPluginError",
    "IdempotencyKeyConflict",
    "InputError",
    "LiveTradingRefused",
    "ModifyUnconfirmed",
    "OrderGroupIncomplete",
    "OrderGroupUnconfirmed",
    "OrderInactive",
    "OrderNotFound",
    "OrderNotWorking",
    "OrderRejected",
    "OrderUnconfirmed",
    "OutcomeUnknown",
    "OutcomeUnknownError",
    "RateLimited",
    "RedirectRefused",
    "RegistrationFailed",
    "ResponseTooLarge",
    "SessionTakenOver",
    "TransientError",
    "UsageError",
]


class IBPluginError(Exception):
    """Base of every error the plugin raises on purpose, so callers can catch one type."""

    #: Coarse category the CLI maps to an exit code: input, auth, broker, transient, unknown.
    category: ClassVar[str] = "broker"
    #: Attributes `to_dict` adds to the JSON shape (structured fields scripts branch on).
    details: ClassVar[tuple[str, ...]] = ()

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

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take keyword-only fields, so the default `cls(*args)` cannot rebuild them
        # (a process pool would turn OrderUnconfirmed into a pickling error): restore the state.
        return (_restore, (type(self), self.args), self.__dict__)

    def _render(self) -> str:
        text = self.message
        if self.field and self.field not in text:
            text = f"{self.field}: {text}"
        if self.fix:
            text = f"{text} Fix: {self.fix}"
        return text

    @property
    def retryable(self) -> bool:
        """True when the same call may work later unchanged (category "transient")."""
        return self.category == "transient"

    def to_dict(self) -> dict[str, Any]:
        """JSON shape the CLI prints on stderr; safe because messages never carry secrets.

        `{"type", "message", "category", "field"?, "status"?, **details}`: field and status
        only when set, each name in `details` always (null when unknown).
        """
        out: dict[str, Any] = {"type": type(self).__name__, "message": str(self),
                               "category": self.category}
        if self.field:
            out["field"] = self.field
        if self.status is not None:
            out["status"] = self.status
        for name in self.details:
            out[name] = _redacted(getattr(self, name, None))
        return out


def _restore(cls: type[IBPluginError], args: tuple[Any, ...]) -> IBPluginError:
    """Unpickle without `__init__`; `__setstate__` then puts the fields back."""
    return cls.__new__(cls, *args)


def _redacted(value: Any) -> Any:
    """Structured fields quote IBKR's text (a reason, candidates): mask strings at any depth."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(item) for item in value]
    return value


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


class OutcomeUnknownError(IBPluginError):
    """We do not know what the broker holds: a request may or may not have taken effect.

    Category "unknown" (CLI exit 6), never `retryable`: resending could do the request twice.
    Not a BrokerError (IBKR did not say no) nor a TransientError (the same call is not safe
    later); reconcile first (look the order up by `client_order_id`, or read the state back).
    """

    category = "unknown"


class OrderRejected(BrokerError):
    """IBKR refused the order (or a confirmation question was declined by the confirm policy).

    Always carries a fix: the raiser's, else DEFAULT_FIX (the order is not at IBKR).
    """

    DEFAULT_FIX: ClassVar[str] = (
        "the order was not placed and nothing needs cancelling: correct what IBKR's message "
        "names (price, quantity, order type, time in force, or the account's trading "
        "permissions) and place the order again.")

    def __init__(self, message: str, *, field: str | None = None, fix: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(message, field=field, fix=fix or self.DEFAULT_FIX, status=status)


class OrderUnconfirmed(OutcomeUnknownError):
    """Outcome unknown: IBKR may hold the order; looking it up by cOID could not tell.

    Category "unknown" (CLI exit 6): do not retry blindly; look the order up by
    `client_order_id` (get_open_orders, or IBKR's portal) first.
    """

    details: ClassVar[tuple[str, ...]] = ("client_order_id",)

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


#: The name the issue tracker and README use for `OrderUnconfirmed`.


class OrderInactive(OrderRejected):
    """IBKR accepted the ticket but holds it `Inactive` (not working): a refusal in disguise."""

    details = ("order_id", "client_order_id", "reason")

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


class OrderGroupIncomplete(BrokerError):
    """A bracket or OCA group that IBKR holds only in part: some legs placed, others refused or
    held Inactive (none unknown). `legs` lists every leg as IBKR holds it: `role`,
    `client_order_id`, `outcome` (placed | inactive | refused), `order_id`, `status`, `reason`.
    """

    details = ("client_order_id", "legs")

    def __init__(self, message: str, *, client_order_id: str, legs: list[dict[str, Any]],
                 fix: str) -> None:
        self.client_order_id = client_order_id
        self.legs = legs
        super().__init__(message, field="client_order_id", fix=fix)


class OrderGroupUnconfirmed(OrderUnconfirmed):
    """Outcome unknown for at least one leg of a bracket or OCA group (category "unknown", exit 6).

    `legs` lists every leg (`outcome` placed | inactive | refused | unknown); look the unknown
    ones up by their `client_order_id` before anything else, never resend with new ids.
    """

    details = ("client_order_id", "legs")

    def __init__(self, message: str, *, client_order_id: str,
                 legs: list[dict[str, Any]] | None = None, status: int | None = None) -> None:
        self.legs = legs or []
        super().__init__(message, client_order_id=client_order_id, status=status)


class IdempotencyKeyConflict(InputError):
    """A `client_order_id` already belongs to a different order at IBKR; nothing was placed."""

    details = ("client_order_id", "order_id")

    def __init__(self, message: str, *, client_order_id: str, order_id: str | None) -> None:
        self.client_order_id = client_order_id
        self.order_id = order_id
        super().__init__(
            message,
            field="client_order_id",
            fix=f"client_order_id {client_order_id} already names order {order_id}; to place a "
            "different order, pass a client_order_id you have not used in the last 24 h.",
        )


class ContractNotFound(BrokerError, LookupError):
    """No contract matched the symbol and filters."""


class ContractMismatch(InputError, LookupError):
    """The contract a symbol or conid resolves to differs from the one asked for (security type,
    symbol, exchange or currency); nothing was sent. `requested` and `resolved` say how."""

    details = ("requested", "resolved")

    def __init__(self, message: str, *, field: str, fix: str,
                 requested: dict[str, Any], resolved: dict[str, Any]) -> None:
        self.requested = requested
        self.resolved = resolved
        super().__init__(message, field=field, fix=fix)


class OrderNotFound(BrokerError, LookupError):
    """IBKR knows no order with this `order_id` for the account (cancel, order status)."""

    details = ("order_id",)

    def __init__(self, message: str, *, order_id: str, status: int | None = None) -> None:
        self.order_id = order_id
        super().__init__(
            message,
            field="order_id",
            status=status,
            fix="list the day's orders with `noetl-ib run get_open_orders --credential NAME` and "
            "pass one of their order_id values (a client_order_id is not an order_id).",
        )


class AmbiguousContract(InputError, LookupError):
    """Several contracts matched; the caller must narrow by exchange, currency or conid."""

    details = ("candidates",)

    def __init__(
        self, message: str, *, candidates: list[dict[str, Any]], conid_argument: str = "conid",
        field: str = "symbol", fix: str | None = None,
    ) -> None:
        self.candidates = candidates
        # Name the argument of the action that raised it: place_order takes conid=, snapshot conids=.
        first = next((c for c in candidates if c.get("conid")), {})
        pick = f"{conid_argument}={first['conid']}" if first else f"{conid_argument}=CONID"
        narrow = " or ".join(
            f"{key}={first[key]}" for key in ("exchange", "currency") if first.get(key)
        ) or "exchange=EXCHANGE or currency=CURRENCY"
        # A derivative is narrowed by its own field (expiry, multiplier): the caller says which.
        super().__init__(
            message,
            field=field,
            fix=fix or f"pick one candidate: pass {pick} (its conid), or narrow with {narrow}.",
        )


class UsageError(InputError):
    """Bad `noetl-ib` command line (unknown option, malformed key=value): always exit 2."""

    def _render(self) -> str:
        # The CLI's own words already say what is wrong; no field prefix, no fix suffix.
        return self.message


class SessionTakenOver(BrokerError):
    """Another session of the same IBKR username holds the brokerage session.

    Raised instead of opening it again, so two clients never kick each other back and forth.
    """


class RedirectRefused(BrokerError):
    """A server answered 3xx; the plugin never follows redirects with credentials attached."""


class ResponseTooLarge(BrokerError):
    """A server's answer exceeded the byte cap; reading stopped there."""


class RegistrationFailed(BrokerError):
    """The NoETL server refused a credential record (exit 4: the remote side said no)."""


class OutcomeUnknown(OutcomeUnknownError):
    """A non-idempotent request was sent but no usable answer came back (reset, timeout, 5xx).

    IBKR may or may not have processed it; callers reconcile (e.g. look the order's cOID up)
    instead of resending blindly.
    """


class OrderNotWorking(BrokerError):
    """The order to modify is no longer working (filled, cancelled, inactive): nothing changed.

    `status`, `filled_quantity` and `avg_price` are the order as IBKR holds it.
    """

    details = ("order_id", "order_status", "filled_quantity", "avg_price")

    def __init__(self, message: str, *, order_id: str, order_status: str | None,
                 filled_quantity: float | None = None, avg_price: float | None = None) -> None:
        self.order_id = order_id
        self.order_status = order_status
        self.filled_quantity = filled_quantity
        self.avg_price = avg_price
        super().__init__(
            message,
            field="order_id",
            fix=f"order {order_id} is {order_status} and cannot be modified; check it with "
            f"`noetl-ib run order_status order_id={order_id} --credential NAME`, and place a new "
            "order if you still want one.",
        )


class ModifyUnconfirmed(OutcomeUnknownError):
    """Outcome unknown: a modification may or may not be applied, and reading the order back
    could not tell. Category "unknown" (CLI exit 6). Modifications carry target values, so
    sending the same modification again cannot apply it twice, but read the order first."""

    details = ("order_id",)

    def __init__(self, message: str, *, order_id: str, status: int | None = None) -> None:
        self.order_id = order_id
        super().__init__(
            message,
            field="order_id",
            status=status,
            fix=f"read the order with `noetl-ib run order_status order_id={order_id} "
            "--credential NAME`; if it still shows the old values and is working, run the same "
            "modify_order again (same target values, so it is never applied twice).",
        )
