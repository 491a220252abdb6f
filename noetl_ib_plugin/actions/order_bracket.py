"""place_bracket and place_oca: a parent with take-profit / stop-loss children, or a free OCA group.

IBKR's terms (IBKR Campus, "How to Code a Bracket Order" / "an OCA Order in the Web API"): a
bracket is one `POST /iserver/account/{acct}/orders` whose children carry `parentId` = the
parent's `cOID` (they are one OCA group and wait until the parent fills); an OCA group is
orders that each carry `isSingleGroup: true` (one fills, the others are cancelled). Every leg
here gets its own cOID derived from the group's key (`<key>-tp`, `<key>-sl`, `<key>-1`...), so
a re-run step re-sends none of them and a lost answer is resolved leg by leg (order_groups).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from ..client import IBClient
from ..common.jsonbounds import nests_within
from ..errors import OrderGroupIncomplete, OrderGroupUnconfirmed, OrderRejected
from .confirm import ConfirmPolicy
from .field_errors import field_error
from .models import (
    _BASE,
    ACCOUNT_PATTERN,
    MAX_PRICE,
    MIN_PRICE,
    MessageId,
    PlaceOrderInput,
    _id_list,
    _not_bool,
)
from .order_groups import Leg, LegResult, place_group
from .order_ticket import (
    ORDER_PARAMETERS,
    _ticket_prices,
    build_ticket,
    derive_client_order_id,
    order_contract,
)
from .orders import DEFAULT_SETTINGS, OrderSettings
from .outputs.base import load_output
from .outputs.order_groups import OrderGroupOutput

__all__ = [
    "GROUP_KEY_MAX",
    "PlaceBracketInput",
    "PlaceOcaInput",
    "derive_group_client_order_id",
    "place_bracket",
    "place_oca",
]

#: A leg's cOID is the key plus a suffix of at most 4 characters; cOIDs here stay within 64.
GROUP_KEY_MAX = 60
_KEY = Field(default=None, min_length=1, max_length=GROUP_KEY_MAX, pattern=r"^[A-Za-z0-9._:\-]+$",
             description="the group's key (the parent's cOID for a bracket); each leg's cOID is "
             "derived from it; generated (or derived from the NoETL step) when absent")
_EXIT_TIFS = Literal["DAY", "GTC"]
#: `orders=` as JSON text: ten orders of every field fit many times over.
_MAX_ORDERS_CHARS = 65_536


def _entry_prices(inp: PlaceOrderInput) -> list[float]:
    """The prices the entry can fill near (its limit and/or stop); none for a market order."""
    return [p for p in (inp.limit_price, inp.stop_price) if p is not None]


class PlaceBracketInput(PlaceOrderInput):
    """A parent order plus a take-profit (LMT) and/or stop-loss (STP) child on the other side."""

    client_order_id: str | None = _KEY
    take_profit_price: float | None = Field(
        default=None, ge=MIN_PRICE, le=MAX_PRICE, allow_inf_nan=False,
        description="limit price of the take-profit child (above the entry for a BUY)")
    stop_loss_price: float | None = Field(
        default=None, ge=MIN_PRICE, le=MAX_PRICE, allow_inf_nan=False,
        description="stop price of the stop-loss child (below the entry for a BUY)")
    exit_tif: _EXIT_TIFS | None = Field(
        default=None, description="time in force of the children (default: the entry's tif)")

    @field_validator("take_profit_price", "stop_loss_price", mode="before")
    @classmethod
    def _exit_numbers(cls, value: Any) -> Any:
        return _not_bool(value)

    @field_validator("exit_tif", mode="before")
    @classmethod
    def _exit_tif(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _bracket(self) -> PlaceBracketInput:
        tp, sl = self.take_profit_price, self.stop_loss_price
        buy = self.side == "BUY"
        if tp is None and sl is None:
            raise field_error("take_profit_price", "a bracket needs a take-profit and/or a "
                              "stop-loss child", "add take_profit_price=PRICE and/or "
                              "stop_loss_price=PRICE (or use place_order for a lone order).")
        if self.exit_tif is None and self.tif not in ("DAY", "GTC"):
            raise field_error("exit_tif", f"is needed with tif={self.tif}: the children wait for "
                              f"the entry to fill, and a {self.tif} child would end at once",
                              "pass exit_tif=GTC (or exit_tif=DAY).")
        if self.cash_quantity is not None:
            raise field_error("cash_quantity", "cannot size a bracket: its children close the "
                              "entry's share quantity", "pass quantity=N (shares) instead of "
                              "cash_quantity.")
        entry = _entry_prices(self)
        high, low = (max(entry), min(entry)) if entry else (None, None)
        word, other = ("above", "below") if buy else ("below", "above")
        if tp is not None and sl is not None and (tp <= sl if buy else tp >= sl):
            raise field_error("stop_loss_price", f"must be {other} take_profit_price {tp:g} for "
                              f"a {self.side} bracket", f"pass stop_loss_price={_beyond(tp, not buy)}"
                              f" or a take_profit_price {word} {sl:g}.")
        if tp is not None and high is not None and low is not None and \
                (tp <= high if buy else tp >= low):
            edge = high if buy else low
            raise field_error("take_profit_price", f"must be {word} the entry price {edge:g} of a "
                              f"{self.side} bracket (the take-profit closes at a gain)",
                              f"pass take_profit_price={_beyond(edge, buy)} or further {word}.")
        if sl is not None and high is not None and low is not None and \
                (sl >= low if buy else sl <= high):
            edge = low if buy else high
            raise field_error("stop_loss_price", f"must be {other} the entry price {edge:g} of a "
                              f"{self.side} bracket (the stop-loss closes at a loss)",
                              f"pass stop_loss_price={_beyond(edge, not buy)} or further {other}.")
        return self


def _beyond(price: float, up: bool) -> str:
    """A price 1 % beyond `price` (up or down), as a value the user can paste."""
    value = price * (1.01 if up else 0.99)
    return f"{value:.2f}" if value >= 1 else f"{value:.6f}"


class PlaceOcaInput(BaseModel):
    """Several independent orders in one OCA group: the first to fill cancels the others."""

    model_config = _BASE

    orders: list[PlaceOrderInput] = Field(
        min_length=2, max_length=10,
        description="the group's orders, each as place_order takes it (without account_id, "
        "confirm, decline)")
    client_order_id: str | None = _KEY
    confirm: list[MessageId] = Field(default_factory=list, max_length=100,
                                     description="question message ids to confirm")
    decline: list[MessageId] = Field(default_factory=list, max_length=100,
                                     description="message ids to decline")
    account_id: str | None = Field(default=None, max_length=32, pattern=ACCOUNT_PATTERN,
                                   description="override the credential's account")

    @field_validator("orders", mode="before")
    @classmethod
    def _orders_json(cls, value: Any) -> Any:
        """The CLI passes `orders=` as JSON text."""
        if isinstance(value, str):
            # A playbook or run_action hands the text over unbounded: deep nesting would raise
            # RecursionError (an internal error) instead of a typed one naming the field.
            try:
                if len(value) > _MAX_ORDERS_CHARS:
                    raise ValueError
                parsed = json.loads(value)
                if not nests_within(parsed, 8):
                    raise ValueError
                return parsed
            except (ValueError, RecursionError):
                raise field_error("orders", "is not a JSON list of at most 10 orders", 'pass '
                                  'orders=\'[{"symbol": "AAPL", "side": "BUY", "quantity": 1, '
                                  '"order_type": "LMT", "limit_price": 100}, {...}]\'') from None
        return value

    @field_validator("confirm", "decline", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        return _id_list(value)

    @model_validator(mode="after")
    def _legs(self) -> PlaceOcaInput:
        seen: dict[str, int] = {}  # each leg's cOID -> its index
        for n, leg in enumerate(self.orders):
            for name in ("account_id", "confirm", "decline"):
                if getattr(leg, name):
                    raise field_error(f"orders.{n}.{name}", "is set on the group, not per order",
                                      f"move {name} out of orders[{n}] to the action's own "
                                      "arguments.")
            # A leg without its own id gets `<client_order_id>-<n>`: it must not be another's.
            coid = leg.client_order_id or (f"{self.client_order_id}-{n + 1}"
                                           if self.client_order_id else None)
            if coid is not None:
                if coid in seen:
                    if leg.client_order_id is None:
                        other = seen[coid]
                        raise field_error(
                            f"orders.{other}.client_order_id", f"is {coid}, the id derived for "
                            f"orders[{n}] from the group's client_order_id",
                            f"rename orders[{other}].client_order_id (e.g. {coid}x), or leave "
                            "it out.")
                    raise field_error(f"orders.{n}.client_order_id", "is used twice in the group",
                                      f"leave orders[{n}].client_order_id out (it is derived "
                                      "from the group's client_order_id).")
                seen[coid] = n
        return self


def derive_group_client_order_id(execution_id: object, step: object, action: str,
                                 params: Mapping[str, Any]) -> str:
    """The group key a NoETL step derives (as `derive_client_order_id`), covering every argument
    of the group (children's prices, the OCA orders), so a changed group gets a new key."""
    extra = {k: v for k, v in params.items()
             if k not in ORDER_PARAMETERS and k not in ("confirm", "decline", "client_order_id")}
    material = json.dumps([str(step), action, extra], sort_keys=True, default=str)
    return derive_client_order_id(execution_id, material, params)


def _leg_dict(result: LegResult, parent: str | None, symbol: str | None) -> dict[str, Any]:
    """One leg for the output and the errors: what IBKR holds, in this package's names."""
    record = result.record or {}
    ticket = result.leg.ticket
    limit, stop = _ticket_prices(ticket) if result.record is None else (None, None)
    return {
        "role": result.leg.role,
        "outcome": result.outcome,
        "client_order_id": result.leg.coid,
        "parent_client_order_id": parent if result.leg.role in ("take_profit", "stop_loss")
        else None,
        "order_id": record.get("order_id") or None,
        "status": record.get("status"),
        "conid": record.get("conid") or ticket["conid"],
        "symbol": record.get("symbol") or symbol,
        "side": record.get("side") or ticket["side"],
        "quantity": record.get("quantity") if result.record else ticket["quantity"],
        "order_type": record.get("order_type") or ticket["orderType"],
        "limit_price": record.get("limit_price", limit),
        "stop_price": record.get("stop_price", stop),
        "tif": record.get("tif") or ticket["tif"],
        "filled_quantity": record.get("filled_quantity"),
        "avg_price": record.get("avg_price"),
        "reason": result.reason,
        "reconciled": result.reconciled,
    }


def _report(kind: Literal["bracket", "oca"], key: str, account: str, results: list[LegResult],
            confirmed: list[str], *, symbols: list[str | None]) -> OrderGroupOutput:
    """The output when IBKR holds every leg working; else the typed error naming each leg."""
    parent = key if kind == "bracket" else None
    legs = [_leg_dict(r, parent, s) for r, s in zip(results, symbols, strict=True)]
    by = {o: [leg for leg in legs if leg["outcome"] == o]
          for o in ("placed", "inactive", "refused", "unknown")}

    def named(outcome: str) -> str:
        return ", ".join(f"{leg['role']} {leg['client_order_id']}"
                         + (f" (order {leg['order_id']}, {leg['status']})" if leg["order_id"]
                            else "") for leg in by[outcome])

    story = "; ".join(f"{word} {named(o)}" for o, word in (
        ("placed", "placed"), ("inactive", "held Inactive"), ("refused", "refused"),
        ("unknown", "unknown")) if by[o])
    if by["unknown"]:
        why = str(by["unknown"][0]["reason"] or "no usable answer")[:200]
        raise OrderGroupUnconfirmed(
            f"{kind} {key}: IBKR may hold the unknown legs ({why}): {story}; look each unknown "
            "leg up by its client_order_id", client_order_id=key, legs=legs)
    held = by["placed"] + by["inactive"]
    if not held:
        reasons = "; ".join(sorted({str(leg["reason"]) for leg in legs if leg["reason"]}))
        raise OrderRejected(f"IBKR holds no leg of {kind} {key}: {reasons}")
    if by["refused"] or by["inactive"]:
        ids = ", ".join(f"order_id={leg['order_id']}" for leg in by["placed"])
        raise OrderGroupIncomplete(
            f"{kind} {key} is held only in part: {story}", client_order_id=key, legs=legs,
            fix=(f"IBKR holds {ids}: cancel them with cancel_order if they must not stand "
                 "alone, or place the missing leg as its own order; do not resend the group "
                 "(its held legs would be refused as duplicates).") if ids else
            "no leg is working; fix what IBKR's reasons name and place the group again with a "
            "new client_order_id.")
    return load_output(OrderGroupOutput, {
        "group_type": kind, "client_order_id": key, "account_id": account, "legs": legs,
        "confirmed_message_ids": confirmed}, f"place_{kind}")


def _once(client: IBClient, key: str | None, inp: BaseModel,
          run: Callable[[], OrderGroupOutput]) -> OrderGroupOutput:
    """Threads of one client placing the same group key at once send it once (order_flights)."""
    if key is None:
        return run()
    request = json.dumps([type(inp).__name__, inp.model_dump(mode="json")], sort_keys=True)
    return client.order_flights.run(key, request, run)


def place_bracket(client: IBClient, inp: PlaceBracketInput,
                  settings: OrderSettings | None = None) -> OrderGroupOutput:
    """Place a bracket exactly once: the entry order, then a take-profit LMT and/or a stop-loss
    STP on the other side for the same quantity, in one `POST /iserver/account/{acct}/orders`.

    Leg cOIDs: `client_order_id` (the parent's; generated when absent) and `<it>-tp`, `<it>-sl`
    (IBKR's `parentId`). The children are held `PreSubmitted` until the parent fills, then the
    first to fill cancels the other. Returns OrderGroupOutput (`legs`: one per leg, in the order
    sent) when IBKR holds every leg working. Raises InputError before any request (prices on
    the wrong side of the entry), OrderRejected (nothing held), OrderGroupIncomplete (some legs
    held, others refused or Inactive: exit 4, `legs` says which) and OrderGroupUnconfirmed
    (a leg may be held: exit 6; look it up by its client_order_id).
    """
    settings = settings or DEFAULT_SETTINGS
    return _once(client, inp.client_order_id, inp,
                 lambda: _place_bracket(client, inp, settings))


def _place_bracket(client: IBClient, inp: PlaceBracketInput,
                   settings: OrderSettings) -> OrderGroupOutput:
    """`place_bracket`'s work for one caller."""
    account = client.ensure_trading_allowed(inp.account_id)
    contract = order_contract(client, inp)
    key = inp.client_order_id or settings.coid_factory()
    exit_side = "SELL" if inp.side == "BUY" else "BUY"
    tif = inp.exit_tif or inp.tif
    legs = [Leg("parent", build_ticket(inp, account, contract, key))]
    for role, suffix, kind, price_field, price in (
            ("take_profit", "tp", "LMT", "limit_price", inp.take_profit_price),
            ("stop_loss", "sl", "STP", "stop_price", inp.stop_loss_price)):
        if price is None:
            continue
        child = inp.model_copy(update={
            "side": exit_side, "order_type": kind, "limit_price": None, "stop_price": None,
            "trailing_amount": None, "trailing_type": None, "limit_offset": None,
            price_field: price, "tif": tif})
        ticket = build_ticket(child, account, contract, f"{key}-{suffix}")
        ticket["parentId"] = key
        legs.append(Leg(role, ticket))
    policy = ConfirmPolicy.build(inp.confirm, inp.decline)
    results, confirmed = place_group(client, account, legs, policy, settings)
    return _report("bracket", key, account, results, confirmed,
                   symbols=[contract.symbol] * len(legs))


def place_oca(client: IBClient, inp: PlaceOcaInput,
              settings: OrderSettings | None = None) -> OrderGroupOutput:
    """Place a one-cancels-all group exactly once: every order carries IBKR's
    `isSingleGroup: true` in one `POST /iserver/account/{acct}/orders`; the first to fill
    cancels the others (a partial fill reduces them).

    Leg cOIDs: each order's `client_order_id`, else `<client_order_id>-1`, `-2`, ... Returns
    and raises as `place_bracket` (`legs` have role `oca`).
    """
    settings = settings or DEFAULT_SETTINGS
    return _once(client, inp.client_order_id, inp, lambda: _place_oca(client, inp, settings))


def _place_oca(client: IBClient, inp: PlaceOcaInput, settings: OrderSettings) -> OrderGroupOutput:
    """`place_oca`'s work for one caller."""
    account = client.ensure_trading_allowed(inp.account_id)
    key = inp.client_order_id or settings.coid_factory()
    legs: list[Leg] = []
    symbols: list[str | None] = []
    for n, order in enumerate(inp.orders, 1):
        contract = order_contract(client, order)
        ticket = build_ticket(order, account, contract, order.client_order_id or f"{key}-{n}")
        ticket["isSingleGroup"] = True
        legs.append(Leg("oca", ticket))
        symbols.append(contract.symbol)
    policy = ConfirmPolicy.build(inp.confirm, inp.decline)
    results, confirmed = place_group(client, account, legs, policy, settings)
    return _report("oca", key, account, results, confirmed, symbols=symbols)
