"""Preview an order (IBKR's what-if): commission, margin and equity change, warnings.

`POST /iserver/account/{accountId}/orders/whatif` takes the placement's ticket and answers
`{"amount": {"amount", "commission", "total"}, "equity"|"initial"|"maintenance"|"position":
{"current", "change", "after"}, "warn": text|null, "error": text|null}` with figures as text
("1,000.00 USD (10 Shares)", "-1,001"); see IBKR's Web API reference, "Preview Order / WhatIf".
A preview never places anything: it sends exactly one request, to the whatif path, without a
cOID, and never answers a question (an answer to a question may submit the order).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ConfigDict, model_validator

from ..client import IBClient
from ..common.quote_fields import parse_number
from ..credentials.urls import path_segment
from ..errors import OrderRejected, TransientError
from .field_errors import field_error
from .models import PlaceOrderInput
from .order_states import LIMIT_PRICED
from .order_ticket import prepare_ticket
from .outputs.base import load_output
from .outputs.preview import PreviewOrderOutput

__all__ = ["WHATIF_PATH", "PreviewOrderInput", "preview_order", "read_preview", "whatif_path"]

#: IBKR's preview endpoint (`{account}` is the account id, one path segment).
WHATIF_PATH = "/iserver/account/{account}/orders/whatif"
#: place_order arguments a preview has no use for: it places nothing and answers no question.
_PLACEMENT_ONLY = ("client_order_id", "confirm", "decline")
#: IBKR's what-if sections holding `current`/`change`/`after`, by this package's names.
_CHANGES = {"equity": "equity", "initial_margin": "initial", "maintenance_margin": "maintenance",
            "position": "position"}
#: "1,000.00 USD (10 Shares)", "-1,001", "1.5 USD": one number, an optional currency, an
#: optional note in brackets. Anything else (a range "1.00 - 1.05 USD") is not one number.
_FIGURE = re.compile(
    r"^\s*(?P<number>[+-]?(?:[0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+))\s*(?P<currency>[A-Z]{3})?"
    r"\s*(?:\([^()]*\))?\s*$")


def _without_placement_only(schema: dict[str, Any]) -> None:
    """The published input schema lists only what a preview takes."""
    for name in _PLACEMENT_ONLY:
        schema.get("properties", {}).pop(name, None)


class PreviewOrderInput(PlaceOrderInput):
    """The order to preview: place_order's arguments and checks, without client_order_id,
    confirm and decline."""

    model_config = ConfigDict(json_schema_extra=_without_placement_only)

    @model_validator(mode="before")
    @classmethod
    def _no_placement_arguments(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in _PLACEMENT_ONLY:
                if name in data:
                    raise field_error(name, "is not taken by preview_order, which places "
                                      f"nothing; remove {name}= (place_order takes it)")
        return data


def whatif_path(account: str) -> str:
    """The preview endpoint of `account`."""
    return WHATIF_PATH.format(account=path_segment(account))


def _figure(text: Any) -> tuple[float | None, str | None]:
    """(number, currency) of one what-if text; (None, None) when it is not one number."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        number = parse_number(text)
        return (None if number is None else float(number)), None
    if not isinstance(text, str):
        return None, None
    found = _FIGURE.match(text)
    if found is None:
        return None, None
    number = parse_number(found.group("number"))
    return (None if number is None else float(number)), found.group("currency")


def _questions(items: list[Any]) -> tuple[list[str], list[str]]:
    """(message ids, texts) of the questions IBKR answered with."""
    ids: list[str] = []
    texts: list[str] = []
    for item in items:
        if isinstance(item, dict) and item.get("id") not in (None, ""):
            ids.extend(str(m) for m in item.get("messageIds") or [])
            texts.extend(str(m) for m in item.get("message") or [])
    return ids, texts


def read_preview(body: Any, endpoint: str) -> dict[str, Any]:
    """The output fields IBKR's what-if answer gives (figures, warnings, question ids).

    Raises OrderRejected when IBKR's answer is an error (the order would be rejected; nothing
    was placed), TransientError when it is neither a preview, a question nor an error.
    """
    items = body if isinstance(body, list) else [body]
    ids, texts = _questions(items)
    if ids or texts:
        return {"question_ids": ids, "warnings": texts, "texts": {"questions": body}}
    answer = items[0] if len(items) == 1 and isinstance(items[0], dict) else None
    if answer is None:
        raise TransientError(f"POST {endpoint}: expected a preview object, IBKR answered "
                             f"{' '.join(str(body).split())[:160]!r}", status=200,
                             fix="retry the preview; nothing was placed.")
    error = answer.get("error")
    if isinstance(error, str) and error.strip():
        raise OrderRejected(f"IBKR's preview says the order would be rejected: {error[:300]}; "
                            "nothing was placed", status=200)
    amounts = answer.get("amount")
    if not isinstance(amounts, dict) and not any(isinstance(answer.get(k), dict)
                                                 for k in _CHANGES.values()):
        raise TransientError(f"POST {endpoint}: IBKR's answer holds no preview figures: "
                             f"{' '.join(str(body).split())[:160]!r}", status=200,
                             fix="retry the preview; nothing was placed.")
    out: dict[str, Any] = {"texts": answer}
    currency = None
    for name in ("amount", "commission", "total"):
        number, named = _figure((amounts or {}).get(name))
        out[name] = number
        currency = currency or named
    out["currency"] = currency
    for name, key in _CHANGES.items():
        section = answer.get(key)
        section = section if isinstance(section, dict) else {}
        out[name] = {part: _figure(section.get(part))[0] for part in ("current", "change", "after")}
    warn = answer.get("warn")
    out["warnings"] = [warn.strip()] if isinstance(warn, str) and warn.strip() else []
    return out


def preview_order(client: IBClient, inp: PreviewOrderInput) -> PreviewOrderOutput:
    """What placing this order would do (`POST /iserver/account/{acct}/orders/whatif`).

    Returns PreviewOrderOutput: the order previewed, `amount`/`commission`/`total` in `currency`,
    `equity`, `initial_margin`, `maintenance_margin` (base currency) and `position` as
    `{current, change, after}` numbers, `warnings` (IBKR's texts), `question_ids` (questions
    IBKR asked instead of previewing: never answered here), `placed: false`.
    Refused before any request exactly where place_order would be (input checks, the trading
    guard, ContractMismatch/AmbiguousContract/ContractNotFound). Raises OrderRejected when IBKR
    says the order would be rejected, TransientError for an answer that is no preview.
    Places nothing: one request to the whatif path, no cOID, no reply to a question.
    """
    account, contract, ticket = prepare_ticket(client, inp, coid="")
    ticket.pop("cOID", None)  # a preview registers no client order id: the real order may use it
    endpoint = whatif_path(account)
    # Re-sending a preview is harmless (it places nothing), so transport retries are allowed.
    body = client.post(endpoint, json={"orders": [ticket]}, idempotent=True)
    figures = read_preview(body, endpoint)
    kind = ticket["orderType"]
    return load_output(PreviewOrderOutput, {
        "account_id": account,
        "conid": contract.conid,
        "symbol": contract.symbol or inp.symbol,
        "side": ticket["side"],
        "quantity": ticket.get("quantity"),  # absent when IBKR sizes it from cashQty
        "order_type": kind,
        "limit_price": inp.limit_price if kind in LIMIT_PRICED else None,
        "stop_price": inp.stop_price,
        "tif": ticket["tif"],
        **figures,
        "placed": False,
    }, "preview_order")
