"""One order POST and its question chain, with every answer sorted into accept, refusal,
question or unknown (`POST /iserver/account/{acct}/orders`, `POST /iserver/reply/{id}`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..client import IBClient
from ..credentials.urls import path_segment
from ..errors import AuthError, BrokerError, IBPluginError, OrderRejected, OutcomeUnknown, RateLimited
from .confirm import ConfirmPolicy

__all__ = [
    "DEFINITE_REFUSAL_STATUS",
    "DUPLICATE_COID_MARKER",
    "MAX_QUESTIONS",
    "PLACEMENT",
    "DuplicateCoid",
    "Wording",
    "answer_chain",
    "answer_questions",
    "classify",
    "post_order_call",
    "submit_tickets",
    "submit_with_questions",
]

log = logging.getLogger(__name__)

DUPLICATE_COID_MARKER = "local order id="
MAX_QUESTIONS = 12
#: Statuses that say IBKR refused the request without acting on it (bad input, no such account).
#: Everything else without a parseable answer (408, 501, 524, an HTML 200...) may have been
#: processed: outcome unknown.
DEFINITE_REFUSAL_STATUS = frozenset({400, 403, 404, 405, 415, 422})


class DuplicateCoid(Exception):
    """IBKR refused the ticket because its cOID is already registered: the order exists."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def classify(body: Any) -> tuple[str, dict[str, Any]]:
    """("placed" | "question" | "refused" | "unknown", item) for an order or reply answer.

    placed: an item with an `order_id` (any item: a bracket's answer may list a refused leg
    first); question: `id` plus `message`/`messageIds`; refused: `{"error": "<text>"}`;
    anything else (empty, `{"foo": 1}`, a string) is unknown.
    """
    items = [i for i in (body if isinstance(body, list) else [body]) if isinstance(i, dict)]
    placed = next((i for i in items if i.get("order_id") not in (None, "")), None)
    if placed is not None:
        return "placed", placed
    for item in items:
        if item.get("id") not in (None, "") and ("message" in item or "messageIds" in item):
            return "question", item
        if isinstance(item.get("error"), str) and item["error"].strip():
            return "refused", item
    return "unknown", {"answer": " ".join(str(body).split())[:200]}


def post_order_call(client: IBClient, path: str, body: dict[str, Any]) -> Any:
    """POST that may place an order; any answer that is not a definite refusal or decodable
    answer becomes OutcomeUnknown (the caller reconciles by cOID)."""
    try:
        return client.post(path, json=body)
    except (OutcomeUnknown, RateLimited, AuthError):
        raise
    except BrokerError as exc:
        if exc.status in DEFINITE_REFUSAL_STATUS:
            raise OrderRejected(
                f"IBKR refused the request: {exc.message}", status=exc.status,
                fix="the order was not placed: check the account id, conid and order fields "
                "IBKR's message names, then place the order again.") from None
        raise OutcomeUnknown(
            f"POST {path}: no usable answer ({exc.message}); IBKR may have placed the order",
            status=exc.status,
        ) from None


def _decline(client: IBClient, reply_id: str) -> None:
    """Answer a question with `confirmed: false` so nothing is left hanging."""
    try:
        client.post(f"/iserver/reply/{reply_id}", json={"confirmed": False})
    except IBPluginError as exc:
        log.warning("declining question %s failed: %s", reply_id, exc.message)


@dataclass(frozen=True)
class Wording:
    """How refusals name the request: a placement (the default) or a modification."""

    noun: str = "the order"
    undone: str = "the order was not placed"
    again: str = "place the order again"
    #: The fix of IBKR's own refusal (None: OrderRejected's default, about a placement).
    refused_fix: str | None = None


PLACEMENT = Wording()


def submit_with_questions(
    client: IBClient,
    account: str,
    ticket: dict[str, Any],
    policy: ConfirmPolicy,
    confirmed: list[str],
) -> dict[str, Any]:
    """POST the ticket and walk the question chain; returns the placed item.

    Raises OrderRejected (definite refusal or a question the policy declines), DuplicateCoid,
    OutcomeUnknown (no usable answer: the order may exist), RateLimited (not processed).
    """
    return classify(submit_tickets(client, account, [ticket], policy, confirmed))[1]


def submit_tickets(
    client: IBClient,
    account: str,
    tickets: list[dict[str, Any]],
    policy: ConfirmPolicy,
    confirmed: list[str],
) -> Any:
    """POST the tickets (one order, or a bracket / OCA group in one request) and walk the
    question chain; returns IBKR's accepting answer (a list with an item per leg, at least one
    with an `order_id`). Raises as `submit_with_questions`.
    """
    body = post_order_call(client, f"/iserver/account/{path_segment(account)}/orders", {"orders": tickets})
    return answer_chain(client, body, policy, confirmed)


def answer_questions(
    client: IBClient,
    body: Any,
    policy: ConfirmPolicy,
    confirmed: list[str],
    wording: Wording = PLACEMENT,
) -> dict[str, Any]:
    """Walk the question chain that starts with `body` (an order, modify or reply answer),
    answering each question by id with `policy`; returns the accepted item (with `order_id`).

    Raises as `submit_with_questions`; `wording` names what was asked in the messages.
    """
    return classify(answer_chain(client, body, policy, confirmed, wording))[1]


def answer_chain(
    client: IBClient,
    body: Any,
    policy: ConfirmPolicy,
    confirmed: list[str],
    wording: Wording = PLACEMENT,
) -> Any:
    """`answer_questions`, returning IBKR's whole accepting answer (every leg's item)."""
    for _ in range(MAX_QUESTIONS):
        kind, item = classify(body)
        if kind == "placed":
            return body
        if kind == "unknown":
            raise OutcomeUnknown(
                f"IBKR's answer to {wording.noun} is not an accept, a refusal or a question: "
                f"{item['answer']!r}"
            )
        if kind == "refused":
            message = str(item["error"])
            if DUPLICATE_COID_MARKER in message.lower():
                raise DuplicateCoid(message)
            raise OrderRejected(f"IBKR rejected {wording.noun}: {message}", status=200,
                                fix=wording.refused_fix)
        reply_id = str(item["id"])
        ids = [str(m) for m in item.get("messageIds") or []]
        refused = policy.refused(ids)
        if refused:
            _decline(client, reply_id)
            text = " ".join(str(m) for m in item.get("message") or [])[:300]
            described = ", ".join(ConfirmPolicy.describe(m) for m in refused)
            allow = ", ".join(f'"{m}"' for m in refused if not m.startswith("<"))
            raise OrderRejected(
                f"IBKR asked to confirm {described}: {text!r}; the confirm policy declined it, "
                f"so {wording.undone}",
                fix=f"if this is intended, pass confirm=[{allow}] (CLI: confirm="
                f"{','.join(m for m in refused if not m.startswith('<'))}).",
            )
        confirmed.extend(ids)
        try:
            body = post_order_call(client, f"/iserver/reply/{reply_id}", {"confirmed": True})
        except OrderRejected as exc:
            raise OrderRejected(
                f"IBKR did not accept the confirmation ({exc.message}); {wording.undone}",
                status=exc.status,
                fix=f"the question expired or was answered elsewhere; {wording.again}.",
            ) from None
    kind, item = classify(body)
    if kind == "question":
        _decline(client, str(item["id"]))
    raise OrderRejected(
        f"IBKR asked more than {MAX_QUESTIONS} questions about {wording.noun}; it was declined",
        fix="check the order's parameters in IBKR's client portal.",
    )
