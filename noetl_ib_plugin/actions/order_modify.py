"""`modify_order`: change a working order's prices, quantity, tif or trailing amount in place.

Source: IBKR Web API `POST /iserver/account/{accountId}/order/{orderId}`: the body is the whole
order ticket carrying the new values (conid, side and order type as they are; IBKR cannot
change them); it answers like a placement (the order id and status, a question answered by id
through `POST /iserver/reply/{replyId}`, or `{"error": ...}`). The order is read before and
after with `GET /iserver/account/order/status/{orderId}` (any state, any brokerage session);
a size that status prints fractional (one decimal) is read exactly from
`GET /iserver/account/orders`, and a cash-quantity order is resent as its `cashQty`.

A modification carries target values, never deltas, so sending it again cannot apply it twice.
When its answer is lost the order is read back: it shows the new values (applied), it shows the
old values and is still working after a settle wait (not applied: sent once more), it is no
longer working (OrderNotWorking, nothing modified), or anything else (ModifyUnconfirmed, exit 6).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..client import IBClient
from ..credentials.urls import path_segment
from ..errors import (
    AuthError,
    BrokerError,
    IBPluginError,
    InputError,
    ModifyUnconfirmed,
    OrderNotWorking,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
)
from .confirm import ConfirmPolicy
from .field_errors import field_error
from .models import (
    ACCOUNT_PATTERN,
    MAX_CONID,
    MAX_LIST_ITEMS,
    MAX_PRICE,
    MAX_QUANTITY,
    MIN_PRICE,
    MIN_QUANTITY,
    ORDER_ID_PATTERN,
    MessageId,
    TrailingType,
    _id_list,
    _not_bool,
    _trailing_word,
)
from .order_lookup import live_orders_once, normalize_order, order_status_record
from .order_questions import Wording, answer_questions, post_order_call
from .order_states import LIMIT_PRICED, ORDER_TYPES, STOP_PRICED, TRAILING, WORKING, fold_order_type
from .outputs.base import load_output
from .outputs.orders import ModifyOrderOutput

__all__ = ["MODIFIABLE", "ModifyOrderInput", "ModifySettings", "modify_order"]

log = logging.getLogger(__name__)

#: The fields a modification sets (this package's names), in the order they are reported.
MODIFIABLE = ("quantity", "limit_price", "stop_price", "tif", "trailing_amount", "trailing_type",
              "limit_offset")
#: Which order types each price field applies to.
_APPLIES = {
    "limit_price": LIMIT_PRICED,
    "stop_price": STOP_PRICED,
    "trailing_amount": TRAILING,
    "trailing_type": TRAILING,
    "limit_offset": frozenset({"TRAILLMT"}),
}
_WORDING = Wording(
    noun="the modification", undone="the order was not modified",
    again="modify the order again",
    refused_fix="the order keeps its present values: correct what IBKR's message names and "
    "modify it again (order_status shows what IBKR holds).",
)


class ModifyOrderInput(BaseModel):
    """New target values for one working order; fields left out keep their present values."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    order_id: str = Field(min_length=1, max_length=19, pattern=ORDER_ID_PATTERN,
                          description="IBKR order id (digits) of a working order")
    account_id: str | None = Field(default=None, max_length=32, pattern=ACCOUNT_PATTERN,
                                   description="override the credential's account")
    quantity: float | None = Field(
        default=None, ge=MIN_QUANTITY, le=MAX_QUANTITY, allow_inf_nan=False,
        description="new total quantity (filled shares included), not a change by")
    limit_price: float | None = Field(default=None, ge=MIN_PRICE, le=MAX_PRICE,
                                      allow_inf_nan=False,
                                      description="new limit price (LMT, STOP_LIMIT)")
    stop_price: float | None = Field(default=None, ge=MIN_PRICE, le=MAX_PRICE,
                                     allow_inf_nan=False,
                                     description="new stop trigger price (STP, STOP_LIMIT)")
    tif: Literal["DAY", "GTC", "IOC", "OPG", "FOK"] | None = Field(
        default=None, description="new time in force")
    trailing_amount: float | None = Field(default=None, gt=0, le=MAX_PRICE, allow_inf_nan=False,
                                          description="new trailing amount (TRAIL, TRAILLMT)")
    trailing_type: TrailingType | None = Field(
        default=None, description="'amt' or '%' (TRAIL, TRAILLMT; default: the order's)")
    limit_offset: float | None = Field(default=None, ge=0, le=MAX_PRICE, allow_inf_nan=False,
                                       description="new limit offset (TRAILLMT)")
    confirm: list[MessageId] = Field(
        default_factory=list, max_length=MAX_LIST_ITEMS,
        description="question message ids to confirm, e.g. ['o163']")
    decline: list[MessageId] = Field(
        default_factory=list, max_length=MAX_LIST_ITEMS,
        description="message ids to decline even if confirmed by default")
    # What names the order: optional, and refused when it differs (IBKR cannot change it).
    side: Literal["BUY", "SELL"] | None = Field(
        default=None, description="the order's side, if given checked (cannot change)")
    conid: int | None = Field(default=None, gt=0, le=MAX_CONID,
                              description="the order's contract, if given checked (cannot change)")
    order_type: str | None = Field(
        default=None, max_length=32,
        description="the order's type, if given checked (cannot change)")

    @field_validator("quantity", "limit_price", "stop_price", "trailing_amount", "limit_offset",
                     mode="before")
    @classmethod
    def _numbers(cls, value: Any) -> Any:
        return _not_bool(value)

    @field_validator("conid", mode="before")
    @classmethod
    def _whole(cls, value: Any) -> Any:
        return _not_bool(value, whole=True)

    @field_validator("order_id", mode="before")
    @classmethod
    def _digits(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("side", "tif", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("trailing_type", mode="before")
    @classmethod
    def _trailing_type(cls, value: Any) -> Any:
        return _trailing_word(value)

    @field_validator("order_type", mode="after")
    @classmethod
    def _order_type(cls, value: str | None) -> str | None:
        return ORDER_TYPES.get(fold_order_type(value), value.upper()) if value else value

    @field_validator("confirm", "decline", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        return _id_list(value)

    @model_validator(mode="after")
    def _something(self) -> ModifyOrderInput:
        if all(getattr(self, name) is None for name in MODIFIABLE):
            raise field_error(
                "quantity", "nothing to modify",
                f"pass at least one of {', '.join(MODIFIABLE)}, e.g. "
                f"order_id={self.order_id} limit_price=101.5.")
        if self.trailing_type == "%" and (self.trailing_amount or 0) >= 100:
            raise field_error("trailing_amount", "must be below 100 for trailing_type=%",
                              "pass a percentage such as trailing_amount=1.5 trailing_type=%.")
        return self


@dataclass(frozen=True)
class ModifySettings:
    """How long to read an order back after a lost answer; injectable for deterministic tests."""

    #: Order-status reads at most while deciding a lost modification.
    reconcile_polls: int = 8
    #: Shows the old values (still working) this long (seconds) after the loss = not applied.
    settle_seconds: float = 1.0
    #: Pause between reads.
    poll_interval: float = 0.25


DEFAULT_MODIFY_SETTINGS = ModifySettings()


def _same(name: str, want: Any, have: Any) -> bool:
    """Whether the broker's `have` is the target `want` (prices within IBKR's print rounding)."""
    if have is None or want is None:
        return False
    if name in ("tif", "trailing_type"):
        return str(have).upper() == str(want).upper()
    tolerance = 1e-9 if name == "quantity" else \
        (0.005 if max(abs(float(want)), abs(float(have))) >= 1 else 0.00005)
    return abs(float(want) - float(have)) <= tolerance + 1e-9


def _shows(record: dict[str, Any], values: dict[str, Any]) -> bool:
    """The broker's order carries every one of `values`."""
    return all(_same(name, want, record.get(name)) for name, want in values.items())


def _read(client: IBClient, order_id: str, *, not_found: bool = False) -> dict[str, Any] | None:
    """The order as IBKR holds it now (order status), or None when IBKR cannot say."""
    return order_status_record(client, order_id, not_found=not_found)


def _not_working(record: dict[str, Any], why: str) -> OrderNotWorking:
    """The typed refusal for an order that is filled, cancelled or inactive (nothing modified)."""
    order_id = str(record.get("order_id"))
    status = record.get("status")
    filled = record.get("filled_quantity")
    done = f", {filled:g} filled at {record.get('avg_price')}" if filled else ""
    return OrderNotWorking(f"order {order_id} is {status}{done}: {why}", order_id=order_id,
                           order_status=status, filled_quantity=filled,
                           avg_price=record.get("avg_price"))


def _refuse_input(inp: ModifyOrderInput, before: dict[str, Any], account: str) -> None:
    """InputError (nothing sent) for a request IBKR would refuse or that cannot mean this order."""
    order_id = inp.order_id
    owner = before.get("account_id")
    if owner and owner != account:
        raise InputError(f"order {order_id} belongs to account {owner}, not {account}",
                         field="account_id", fix=f"pass account_id={owner}.")
    kind = before.get("order_type")
    for name, given, have in (("side", inp.side, before.get("side")),
                              ("conid", inp.conid, before.get("conid")),
                              ("order_type", inp.order_type, kind)):
        if given is not None and have is not None and str(given).upper() != str(have).upper():
            raise InputError(
                f"order {order_id} is {name} {have}; IBKR cannot change an order's {name} "
                f"(asked: {given}); nothing was sent", field=name,
                fix=f"leave {name} out to modify order {order_id}, or cancel it "
                f"(cancel_order order_id={order_id}) and place the order you want.")
    for name, types in _APPLIES.items():
        if getattr(inp, name) is not None and kind not in types:
            raise InputError(
                f"{name} does not apply to order {order_id}, a {kind} order; nothing was sent",
                field=name, fix=f"leave {name} out; a {kind} order takes "
                f"{', '.join(n for n, t in _APPLIES.items() if kind in t) or 'quantity and tif'}"
                " (and quantity, tif).")
    # The order's trailing amount and type combine with the new ones: 2 % + 150 = 150 %.
    percent = (inp.trailing_type or before.get("trailing_type")) == "%"
    amount = inp.trailing_amount if inp.trailing_amount is not None else \
        before.get("trailing_amount")
    if percent and amount is not None and amount >= 100 and \
            (inp.trailing_amount is not None or inp.trailing_type is not None):
        raise InputError(
            f"trailing_amount {amount:g} with trailing_type=% would trail by {amount:g} % "
            f"(order {order_id}); nothing was sent", field="trailing_amount",
            fix=f"pass a percentage below 100, e.g. order_id={order_id} trailing_amount=1.5 "
            "trailing_type=%, or trailing_type=amt for an amount in currency.")
    filled = before.get("filled_quantity") or 0.0
    if inp.quantity is not None and inp.quantity <= filled:
        raise InputError(
            f"quantity {inp.quantity:g} must exceed the {filled:g} already filled of order "
            f"{order_id}; nothing was sent", field="quantity",
            fix=f"pass quantity above {filled:g} (the new total, filled shares included), or "
            f"cancel_order order_id={order_id} to stop the rest.")


def _exact_size(client: IBClient, account: str, before: dict[str, Any]) -> dict[str, Any]:
    """`before` with the order's exact total size when order status shows a fractional one.

    Order status prints sizes with one decimal (1.25 shares read 1.2), and the modify ticket
    carries the quantity, so a re-priced fractional order would be resized. The live-order list
    (`GET /iserver/account/orders`) carries `totalSize` unrounded; without it nothing is sent.
    """
    shown = before.get("quantity")
    if shown is None or before.get("cash_quantity") is not None or float(shown).is_integer():
        return before
    order_id = str(before.get("order_id"))
    try:
        orders, _ = live_orders_once(client, account=account)
    except IBPluginError:
        orders = []
    for order in orders:
        record = normalize_order(order)
        size = record.get("quantity")
        if record["order_id"] == order_id and size is not None and abs(size - shown) < 0.05 + 1e-9:
            return {**before, "quantity": size}
    raise InputError(
        f"order {order_id} shows its size rounded ({shown:g}) and its exact size could not be "
        "read; nothing was sent", field="quantity",
        fix=f"pass the order's total size as quantity, e.g. order_id={order_id} "
        f"quantity={shown:g} if that is exact.")


def _target(inp: ModifyOrderInput, before: dict[str, Any]) -> dict[str, Any]:
    """The values the modification sets (only those asked for)."""
    target = {name: getattr(inp, name) for name in MODIFIABLE if getattr(inp, name) is not None}
    if "trailing_amount" in target and "trailing_type" not in target and \
            before.get("trailing_type"):
        target["trailing_type"] = before["trailing_type"]
    return target


def _ticket(account: str, before: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """IBKR's modify body: the whole ticket with the target values (as `build_ticket` words it)."""
    now = {name: before.get(name) for name in MODIFIABLE}
    now.update(target)
    kind = str(before.get("order_type"))
    ticket: dict[str, Any] = {"acctId": account, "conid": before.get("conid"),
                              "orderType": kind, "side": before.get("side"),
                              "tif": now["tif"]}
    if "quantity" not in target and before.get("cash_quantity") is not None:
        # IBKR sized it from cashQty; order status prints the share count rounded (one
        # decimal), so resending that count would resize an order the user only re-priced.
        ticket["cashQty"] = before["cash_quantity"]
    elif now["quantity"] is not None:
        ticket["quantity"] = now["quantity"]
    if kind == "LMT":
        ticket["price"] = now["limit_price"]
    elif kind == "STP":
        ticket["price"] = now["stop_price"]
    elif kind == "STOP_LIMIT":
        ticket.update(price=now["limit_price"], auxPrice=now["stop_price"])
    if kind in TRAILING:
        ticket.update(trailingAmt=now["trailing_amount"], trailingType=now["trailing_type"])
    if kind == "TRAILLMT":
        ticket["auxPrice"] = now["limit_offset"]
    return {k: v for k, v in ticket.items() if v is not None}


def _reconcile(client: IBClient, order_id: str, old: dict[str, Any], target: dict[str, Any],
               settings: ModifySettings) -> tuple[str, dict[str, Any] | None]:
    """("applied" | "not_working" | "not_applied" | "unknown", the order read) after a loss.

    applied: the order shows every target value. not_working: it is filled, cancelled or
    inactive with the old values (IBKR modifies only working orders). not_applied: it shows
    every old value and is working, in reads for `settle_seconds`. unknown: no read, or values
    that are neither.
    """
    started = client.clock()
    last: dict[str, Any] | None = None
    for poll in range(settings.reconcile_polls):
        if poll:
            client.sleep(settings.poll_interval)
        asked_at = client.clock()
        record = _read(client, order_id)
        if record is None:
            continue
        last = record
        if _shows(record, target):
            return "applied", record
        if not _shows(record, old):
            return "unknown", record
        if record.get("status") not in WORKING:
            return "not_working", record
        if asked_at - started >= settings.settle_seconds:
            return "not_applied", record
    return "unknown", last


@dataclass(frozen=True)
class _Modification:
    """One modification: where it goes, its body, and the values before and after."""

    order_id: str
    path: str
    ticket: dict[str, Any]
    policy: ConfirmPolicy
    old: dict[str, Any]
    target: dict[str, Any]


def _send(client: IBClient, mod: _Modification, confirmed: list[str],
          settings: ModifySettings) -> tuple[bool, bool]:
    """Send the modification; after a lost answer decide by reading the order back.

    Returns (reconciled, resent). Sends at most twice, the second time only after the order
    showed its old values while working for `settings.settle_seconds`.
    """
    order_id, path, ticket, policy = mod.order_id, mod.path, mod.ticket, mod.policy
    resent = rate_limited = False
    while True:
        try:
            try:
                body = post_order_call(client, path, ticket)
            except OrderRejected as exc:
                raise OrderRejected(f"IBKR refused the modification: {exc.message}",
                                    status=exc.status, fix=_WORDING.refused_fix) from None
            answer_questions(client, body, policy, confirmed, _WORDING)
            return False, resent
        except OutcomeUnknown as exc:
            verdict, record = _reconcile(client, order_id, mod.old, mod.target, settings)
            log.warning("modification of order %s: %s; read back: %s", order_id, exc.message,
                        verdict)
            if verdict == "applied":
                return True, resent
            if verdict == "not_working" and record is not None:
                raise _not_working(record, "it stopped working before the modification "
                                   "applied, so nothing was modified") from None
            if verdict != "not_applied" or resent:
                raise ModifyUnconfirmed(
                    f"the modification of order {order_id} got no usable answer ({exc.message})"
                    f" and reading the order back could not tell whether it applied"
                    f"{' (it was already sent twice)' if resent else ''}",
                    order_id=order_id, status=exc.status) from None
        except RateLimited as exc:
            # A 429 was not processed: the order keeps what it had; wait once, then resend.
            if rate_limited or resent or not exc.retryable:
                raise
            rate_limited = True
            client.wait(min(exc.retry_after or 1.0, 5.0),
                        f"IBKR's rate limit before resending the modification of {order_id}")
            continue
        except AuthError:
            if resent:
                raise ModifyUnconfirmed(
                    f"the modification of order {order_id} was resent after a lost answer and "
                    "the resend failed to authenticate", order_id=order_id) from None
            raise
        except OrderRejected as exc:
            record = _read(client, order_id)
            if record is not None and record.get("status") not in WORKING:
                raise _not_working(record, f"IBKR refused the modification ({exc.message})") \
                    from None
            raise
        resent = True
        log.info("order %s shows its old values and is working: resending the modification once",
                 order_id)


def _settled(client: IBClient, order_id: str, target: dict[str, Any],
             settings: ModifySettings) -> dict[str, Any] | None:
    """The order read back after IBKR accepted the modification (waits for it to show)."""
    record = None
    for poll in range(settings.reconcile_polls):
        if poll:
            client.sleep(settings.poll_interval)
        record = _read(client, order_id) or record
        if record is not None and (_shows(record, target) or record.get("status") not in WORKING):
            break
    return record


def modify_order(client: IBClient, inp: ModifyOrderInput,
                 settings: ModifySettings | None = None) -> ModifyOrderOutput:
    """Modify one working order (`POST /iserver/account/{acct}/order/{orderId}`).

    Returns ModifyOrderOutput: the order as IBKR holds it after the modification, read back
    with `GET /iserver/account/order/status/{orderId}` (`read_back` false when that read failed
    and the values are IBKR's accept plus the targets), with `outcome` "applied" or
    "unchanged" (it already held every target value: nothing was sent), `changed` (the fields
    asked for), `reconciled` (decided by reading back after a lost answer), `resent`.
    Raises OrderNotFound (exit 4) for an id IBKR does not know; OrderNotWorking (exit 4) for a
    filled, cancelled or inactive order (also when it filled before a lost modification
    applied); InputError (exit 2, nothing sent) for a field the order type does not take, a
    side/contract/type change, or a quantity not above the filled part; OrderRejected (exit 4)
    when IBKR or the confirm policy refused; ModifyUnconfirmed (exit 6) when a lost answer
    could not be resolved.
    """
    settings = settings or DEFAULT_MODIFY_SETTINGS
    account = client.ensure_trading_allowed(inp.account_id)
    order_id = inp.order_id
    before = _read(client, order_id, not_found=True)
    if before is None:
        raise BrokerError(f"could not read order {order_id} before modifying it; nothing was sent",
                          field="order_id", fix="try again; order_status shows the order.")
    if before.get("status") not in WORKING:
        raise _not_working(before, "only a working order can be modified; nothing was sent")
    _refuse_input(inp, before, account)
    exact = True
    try:
        before = _exact_size(client, account, before)
    except InputError:
        if inp.quantity is None:
            raise
        exact = False  # the new quantity is sent as given; "unchanged" cannot be told
    target = _target(inp, before)
    old = {name: before.get(name) for name in target}
    common: dict[str, Any] = {"account_id": account,
                              "changed": sorted(target, key=MODIFIABLE.index)}
    if exact and _shows(before, target):
        return _output(before, common, outcome="unchanged")
    path = f"/iserver/account/{path_segment(account)}/order/{path_segment(order_id)}"
    mod = _Modification(order_id, path, _ticket(account, before, target),
                        ConfirmPolicy.build(inp.confirm, inp.decline), old, target)
    confirmed: list[str] = []
    reconciled, resent = _send(client, mod, confirmed, settings)
    after = _settled(client, order_id, target, settings)
    common.update(confirmed_message_ids=confirmed, reconciled=reconciled, resent=resent)
    if after is None:
        return _output({**before, **target}, common, outcome="applied", read_back=False)
    return _output(after, common, outcome="applied")


def _output(record: dict[str, Any], common: dict[str, Any], **extra: Any) -> ModifyOrderOutput:
    """The action's output from an order record (IBKR's values) and the call's facts."""
    keys = ("order_id", "client_order_id", "status", "conid", "symbol", "side", "order_type",
            "quantity", "filled_quantity", "remaining_quantity", "avg_price", "limit_price",
            "stop_price", "tif", *MODIFIABLE[4:], "cash_quantity")
    return load_output(ModifyOrderOutput, {**{k: record.get(k) for k in keys}, **common,
                                           **extra}, "modify_order")
