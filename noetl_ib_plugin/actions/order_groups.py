"""Placing several orders in one request (a bracket or an OCA group) exactly once, and each leg's
outcome as IBKR holds it.

Source: IBKR Web API `POST /iserver/account/{accountId}/orders` with an `orders` array: a
bracket's children carry `parentId` = the parent's `cOID`, OCA members `isSingleGroup: true`
(IBKR Campus, "How to Code a Bracket/OCA Order in the Web API"); questions are answered by id
as for one order (order_questions.submit_tickets). IBKR answers one item per leg in the order
sent [guess: the order is not documented], so each placed leg is read back by its order id
(`/iserver/account/order/status/{id}`) and its `order_ref` must be the leg's cOID; otherwise
every leg is looked up by cOID.

Every leg has its own cOID, so whatever went wrong is resolved leg by leg, all legs in one
polling window (order_lookup.find_orders_by_coids): found -> placed (or inactive; a found order
must be the leg asked for, orders.check_same_order), proven absent -> refused, lookup
inconclusive -> unknown. The request is sent again (once, same cOIDs)
only when every leg was proven absent within one brokerage session.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from ..client import IBClient
from ..errors import AuthError, IBPluginError, OutcomeUnknown, RateLimited
from .confirm import ConfirmPolicy
from .order_fills import apply_status
from .order_lookup import find_orders_by_coids, order_status_record
from .order_questions import DuplicateCoid, submit_tickets
from .order_states import INACTIVE
from .orders import OrderSettings, check_same_order, record_from_answer

__all__ = ["Leg", "LegResult", "place_group"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Leg:
    """One order of the group: its role (parent, take_profit, stop_loss, oca) and IBKR ticket."""

    role: str
    ticket: dict[str, Any]

    @property
    def coid(self) -> str:
        """The leg's own cOID."""
        return str(self.ticket["cOID"])


@dataclass(frozen=True)
class LegResult:
    """How one leg ended: placed | inactive | refused | unknown, with IBKR's record when held."""

    leg: Leg
    outcome: str
    record: dict[str, Any] | None = None
    reason: str | None = None
    reconciled: bool = False


def _held(leg: Leg, record: dict[str, Any], *, reconciled: bool,
          reason: str | None = None) -> LegResult:
    """A leg IBKR holds: inactive when its status says so, else placed."""
    outcome = "inactive" if record.get("status") in INACTIVE else "placed"
    return LegResult(leg, outcome, record, reason, reconciled)


def _lookup(client: IBClient, legs: list[Leg], settings: OrderSettings, why: str,
            sent_in: float) -> list[LegResult]:
    """Find the legs by their cOIDs in one polling window. Absence is a refusal only when proven
    in the session the group was sent in (live orders are session-scoped: a new session cannot
    list an Inactive leg of the old one); an inconclusive lookup leaves a leg unknown."""
    log.warning("group %s: %s; looking its legs up by client_order_id", legs[0].coid, why)
    try:
        found, settled, last = find_orders_by_coids(
            client, [leg.coid for leg in legs], settings, str(legs[0].ticket["acctId"]))
        cause = f"{why} (last error: {last.message})" if last else why
    except IBPluginError as exc:  # the legs may be held whatever stopped the lookup
        found, settled, cause = {}, False, f"{why}; looking the legs up failed: {exc.message}"
    if settled and client.brokerage().opened_at != sent_in:
        settled, cause = False, f"{why}; the brokerage session changed before absence could " \
            "be proven"
    out: list[LegResult] = []
    for leg in legs:
        record = found.get(leg.coid)
        if record is not None:
            check_same_order(leg.ticket, record)
            out.append(_held(leg, record, reconciled=True))
        else:
            out.append(LegResult(leg, "refused" if settled else "unknown",
                                 reason=why if settled else cause))
    return out


def _read_back(client: IBClient, leg: Leg, item: dict[str, Any]) -> dict[str, Any] | None:
    """The placed leg as IBKR's order status holds it; None when that order is not this leg
    (its order_ref is another cOID), so the answer's order cannot be trusted."""
    record = record_from_answer(item, leg.ticket)
    try:
        found = order_status_record(client, record["order_id"])
    except IBPluginError as exc:
        log.warning("order %s: placed; reading it back failed (%s)", leg.coid, exc.message)
        found = None
    if found is not None and found.get("client_order_id") not in (None, "", leg.coid):
        return None
    return apply_status(record, found)


def _from_answer_items(client: IBClient, legs: list[Leg], body: Any, settings: OrderSettings,
                       sent_in: float) -> list[LegResult]:
    """Each leg from IBKR's accepting answer (one item per leg, in order), checked by read-back;
    a leg answered with an error is a refusal only once its cOID is proven absent."""
    items = [i for i in (body if isinstance(body, list) else [body]) if isinstance(i, dict)]
    if len(items) != len(legs):
        why = f"IBKR's answer lists {len(items)} items for {len(legs)} legs"
        return _lookup(client, legs, settings, why, sent_in)
    out: dict[str, LegResult] = {}
    errors: dict[str, str] = {}
    for leg, item in zip(legs, items, strict=True):
        if item.get("order_id") in (None, ""):
            errors[leg.coid] = str(item.get("error") or item.get("text") or "no order id")[:300]
            continue
        record = _read_back(client, leg, item)
        if record is None:
            why = "IBKR's answer does not list the legs in the order sent"
            return _lookup(client, legs, settings, why, sent_in)
        reason = item.get("text") or item.get("order_status_message") or None
        out[leg.coid] = _held(leg, record, reconciled=False, reason=reason)
    refused = [leg for leg in legs if leg.coid in errors]
    if refused:
        why = "IBKR refused " + "; ".join(f"{leg.coid}: {errors[leg.coid]}" for leg in refused)
        for found in _lookup(client, refused, settings, why, sent_in):
            text = errors[found.leg.coid]
            out[found.leg.coid] = replace(found, reason=text) \
                if found.outcome != "unknown" else found
    return [out[leg.coid] for leg in legs]


def _all_unknown(results: list[LegResult], why: str) -> list[LegResult]:
    """Every leg not proven held becomes unknown (absence could not be proven)."""
    return [r if r.outcome in ("placed", "inactive") else
            LegResult(r.leg, "unknown", reason=why) for r in results]


def place_group(client: IBClient, account: str, legs: list[Leg], policy: ConfirmPolicy,
                settings: OrderSettings) -> tuple[list[LegResult], list[str]]:
    """Send every leg in one request, exactly once; (a result per leg in order, confirmed ids).

    Raises OrderRejected (IBKR refused the whole request, or the confirm policy declined a
    question: nothing placed) and IdempotencyKeyConflict (a leg's cOID names another order).
    Everything else ends as per-leg results, `unknown` where IBKR may hold a leg.
    """
    tickets = [leg.ticket for leg in legs]
    resent = False
    while True:
        confirmed: list[str] = []
        sent_in = client.brokerage().opened_at
        try:
            body = submit_tickets(client, account, tickets, policy, confirmed)
        except OutcomeUnknown as exc:
            results = _lookup(client, legs, settings, exc.message, sent_in)
            if any(r.outcome != "refused" for r in results):
                return results, confirmed
            if resent:
                return _all_unknown(results, "resent once and again no usable answer, and IBKR "
                                    f"shows no leg under its cOID ({exc.message})"), confirmed
            log.info("group %s confirmed absent; resending once with the same cOIDs",
                     legs[0].coid)
        except (RateLimited, AuthError) as exc:
            if resent:
                # The first send may have reached IBKR (lost answer, not found yet).
                return _all_unknown([LegResult(leg, "refused") for leg in legs],
                                    f"the resend failed: {exc.message}"), confirmed
            if not isinstance(exc, RateLimited) or not exc.retryable:
                raise
            wait = min(exc.retry_after or 1.0, settings.max_rate_limit_wait)
            client.wait(wait, f"IBKR's rate limit before resending group {legs[0].coid}")
        except DuplicateCoid as dup:
            # IBKR holds at least one of these cOIDs: never advise new ids; report what it holds.
            results = _lookup(client, legs, settings, dup.message, sent_in)
            if all(r.outcome == "refused" for r in results):
                return _all_unknown(results, f"IBKR refused the group as a duplicate "
                                    f"({dup.message}) but lists none of its legs"), confirmed
            return results, confirmed
        else:
            return _from_answer_items(client, legs, body, settings, sent_in), confirmed
        resent = True
