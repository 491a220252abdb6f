"""Pydantic input models: the public contract of each action, strict and with helpful errors."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ..common.quote_fields import FIELD_IDS
from ..credentials.accounts import ACCOUNT_ID_PATTERN
from .derivative_parts import DerivativeFields
from .field_errors import field_error
from .order_states import (
    CASH_QUANTITY_TYPES,
    LIMIT_PRICED,
    ORDER_TYPES,
    STOP_PRICED,
    TRAILING,
    OrderType,
    fold_order_type,
)

__all__ = [
    "ORDER_TYPE_ALIASES",
    "AccountSummaryInput",
    "CancelOrderInput",
    "GetOpenOrdersInput",
    "GetPositionsInput",
    "PlaceOrderInput",
    "SnapshotInput",
]

#: The one order-type table (order_states.ORDER_TYPES), under the name this module exported.
ORDER_TYPE_ALIASES = ORDER_TYPES

# defer_build: a CLI step validates one action's input, so only that model builds its schema.
_BASE = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

#: IBKR contract ids are 32-bit ints (TWS API `int conId`).
MAX_CONID = 2**31 - 1
#: Account ids are interpolated into URL paths, so only letters and digits (no `/`, `..`, `?`).
ACCOUNT_PATTERN = ACCOUNT_ID_PATTERN  # the one account-id rule (credentials/accounts.py)
_CONTROL = {chr(c) for c in range(32)} | {"\x7f"}

#: Order size bounds: IBKR's smallest fractional increment, and far above any real order.
MIN_QUANTITY = 0.0001
MAX_QUANTITY = 10_000_000.0
#: Price bounds in the contract's currency: a millionth, and far above any listed share.
MIN_PRICE = 0.000001
MAX_PRICE = 10_000_000.0
#: Tickers as IBKR lists them (BRK B, BF.B, EUR.USD): ASCII letters, digits and `space . _ & + -`.
SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._&+-]*$"
#: Exchange codes (SMART, NYSE, ISLAND, SEHK...) and ISO 4217 currency codes.
EXCHANGE_PATTERN = r"^[A-Za-z0-9._-]+$"
CURRENCY_PATTERN = r"^[A-Za-z]{3}$"
#: IBKR security types (STK, OPT, FUT, CASH, CRYPTO...).
SEC_TYPE_PATTERN = r"^[A-Za-z]+$"
#: Order ids are ASCII digits (no Unicode digits: they would reach the URL path).
ORDER_ID_PATTERN = r"^[0-9]+$"
#: Reply message ids (o163, o10153) and order status filters (Submitted, pending_submit).
MESSAGE_ID_PATTERN = r"^[A-Za-z0-9_]+$"
STATUS_FILTER_PATTERN = r"^[A-Za-z_]+$"
MAX_LIST_ITEMS = 100

Conid = Annotated[int, Field(gt=0, le=MAX_CONID)]
Symbol = Annotated[str, Field(min_length=1, max_length=32, pattern=SYMBOL_PATTERN)]
MessageId = Annotated[str, Field(min_length=1, max_length=32, pattern=MESSAGE_ID_PATTERN)]
StatusFilter = Annotated[str, Field(min_length=1, max_length=32, pattern=STATUS_FILTER_PATTERN)]
Exchange = Annotated[str, Field(min_length=1, max_length=16, pattern=EXCHANGE_PATTERN)]
Currency = Annotated[str, Field(min_length=3, max_length=3, pattern=CURRENCY_PATTERN)]
#: A security type asked of a contract (STK, OPT, FUT, ...), upper-cased once valid.
SecType = Annotated[str, Field(min_length=1, max_length=8, pattern=SEC_TYPE_PATTERN),
                    AfterValidator(str.upper)]


_DECIMAL_TEXT = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*")
_WHOLE_TEXT = re.compile(r"\s*[0-9]+\s*")


def _not_bool(value: Any, *, whole: bool = False) -> Any:
    """`True` is not a quantity, price or conid (pydantic would read it as 1); number text is
    plain ASCII decimal (`"2.5"`, `"1e3"`; digits only for whole numbers), never `"1_0"` or `"٣"`."""
    items = value if isinstance(value, list) else [value]
    if any(isinstance(v, bool) for v in items):
        raise PydanticCustomError("bool_not_number", "must be a number, not a boolean")
    pattern = _WHOLE_TEXT if whole else _DECIMAL_TEXT
    if any(isinstance(v, str) and not pattern.fullmatch(v) for v in items):
        raise PydanticCustomError(
            "number_text", "must be a whole number" if whole else "must be a decimal number"
        )
    return value


def _printable(value: Any) -> Any:
    """Symbols end up in URLs, messages and logs: control characters are refused."""
    items = value if isinstance(value, list) else [value]
    if any(isinstance(v, str) and _CONTROL.intersection(v) for v in items):
        raise PydanticCustomError("control_character", "must not contain control characters")
    return value


def _id_list(value: Any) -> Any:
    """Accept "o163,o354" as well as ["o163", "o354"]."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


TrailingType = Literal["amt", "%"]
#: A cash quantity's bound in the contract's currency (far above any real order).
MAX_CASH_QUANTITY = 100_000_000.0
_TRAILING_WORDS = {"amt": "amt", "amount": "amt", "%": "%", "pct": "%", "percent": "%"}


def _trailing_word(value: Any) -> Any:
    """'AMT', 'amount' -> 'amt'; 'percent', 'pct' -> '%' (IBKR's trailingType values)."""
    if isinstance(value, str):
        return _TRAILING_WORDS.get(value.strip().lower(), value)
    return value


class PlaceOrderInput(DerivativeFields):
    """One order; `symbol` or `conid` picks the contract (an option or future also by its parts:
    DerivativeFields), prices only where the type needs them."""

    model_config = _BASE

    symbol: str | None = Field(
        default=None, min_length=1, max_length=32, pattern=SYMBOL_PATTERN, description="ticker"
    )
    conid: int | None = Field(default=None, gt=0, le=MAX_CONID, description="IBKR contract id")
    side: Literal["BUY", "SELL"] = Field(description="BUY or SELL (case-insensitive)")
    quantity: float | None = Field(
        default=None, ge=MIN_QUANTITY, le=MAX_QUANTITY, allow_inf_nan=False,
        description=f"number of shares, {MIN_QUANTITY} to {MAX_QUANTITY:.0f}; required unless "
        "cash_quantity is given",
    )
    # Required on purpose: an omitted type must not silently become a market order.
    order_type: OrderType = Field(
        description="MKT, LMT, STP, STOP_LIMIT, TRAIL or TRAILLMT ('STP LMT' accepted); required"
    )
    limit_price: float | None = Field(
        default=None, ge=MIN_PRICE, le=MAX_PRICE, allow_inf_nan=False,
        description="limit price (LMT and STOP_LIMIT only)",
    )
    stop_price: float | None = Field(
        default=None, ge=MIN_PRICE, le=MAX_PRICE, allow_inf_nan=False,
        description="stop trigger price (STP and STOP_LIMIT only)",
    )
    tif: Literal["DAY", "GTC", "IOC", "OPG", "FOK"] = Field(default="DAY", description="time in force")
    exchange: Exchange | None = Field(default=None, description="listing exchange filter, e.g. NYSE")
    currency: Currency | None = Field(default=None, description="currency filter, e.g. USD")
    sec_type: str = Field(
        default="STK", min_length=1, max_length=8, pattern=SEC_TYPE_PATTERN,
        description="security type the contract must have (default STK, also for a conid); "
        "OPT by month/expiry, strike and right, FUT by month, or any type by its own conid",
    )
    client_order_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:\-]+$",
        description="cOID; generated when absent; resending the same id never duplicates",
    )
    confirm: list[MessageId] = Field(
        default_factory=list, max_length=MAX_LIST_ITEMS,
        description="question message ids to confirm, e.g. ['o163']",
    )
    decline: list[MessageId] = Field(
        default_factory=list, max_length=MAX_LIST_ITEMS,
        description="message ids to decline even if confirmed by default",
    )
    outside_rth: bool = Field(default=False, description="allow execution outside regular hours")
    account_id: str | None = Field(
        default=None, max_length=32, pattern=ACCOUNT_PATTERN,
        description="override the credential's account",
    )
    # -- trailing stops and cash quantity (issue 22 item 3) --
    trailing_amount: float | None = Field(
        default=None, gt=0, le=MAX_PRICE, allow_inf_nan=False,
        description="TRAIL/TRAILLMT only: how far the stop trails the price (IBKR trailingAmt), "
        "in currency or percent per trailing_type",
    )
    trailing_type: TrailingType | None = Field(
        default=None, description="TRAIL/TRAILLMT only: 'amt' (currency) or '%' (percent)")
    limit_offset: float | None = Field(
        default=None, ge=0, le=MAX_PRICE, allow_inf_nan=False,
        description="TRAILLMT only: the limit trails the stop by this much (sent as auxPrice)",
    )
    cash_quantity: float | None = Field(
        default=None, gt=0, le=MAX_CASH_QUANTITY, allow_inf_nan=False,
        description="instead of quantity: the order's value in the contract's currency (IBKR "
        "cashQty; MKT or LMT stock orders only; the shares follow from the price)",
    )

    @field_validator("quantity", "limit_price", "stop_price", "trailing_amount", "limit_offset",
                     "cash_quantity", mode="before")
    @classmethod
    def _numbers(cls, value: Any) -> Any:
        return _not_bool(value)

    @field_validator("trailing_type", mode="before")
    @classmethod
    def _trailing_type(cls, value: Any) -> Any:
        return _trailing_word(value)

    @field_validator("conid", mode="before")
    @classmethod
    def _whole(cls, value: Any) -> Any:
        return _not_bool(value, whole=True)

    @field_validator("symbol", mode="before")
    @classmethod
    def _symbol_text(cls, value: Any) -> Any:
        return _printable(value)

    @field_validator("side", mode="before")
    @classmethod
    def _side(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("tif", mode="before")
    @classmethod
    def _tif(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("order_type", mode="before")
    @classmethod
    def _order_type(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        canonical = ORDER_TYPES.get(fold_order_type(value))
        if canonical is None:
            raise PydanticCustomError(
                "order_type",
                "unknown order type '{value}'; use MKT, LMT, STP, STOP_LIMIT, TRAIL or TRAILLMT",
                {"value": value[:20]},
            )
        return canonical

    @field_validator("symbol", "exchange", "currency", "sec_type", mode="after")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else value

    @field_validator("confirm", "decline", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        return _id_list(value)

    @model_validator(mode="after")
    def _consistent(self) -> PlaceOrderInput:
        if self.symbol is None and self.conid is None:
            raise field_error("symbol", "give symbol (e.g. AAPL) or conid")
        needs_limit = self.order_type in LIMIT_PRICED
        needs_stop = self.order_type in STOP_PRICED
        if needs_limit and self.limit_price is None:
            raise field_error("limit_price", f"is required for {self.order_type} orders")
        if not needs_limit and self.limit_price is not None:
            raise field_error("limit_price", f"is not allowed for {self.order_type} orders")
        if needs_stop and self.stop_price is None:
            raise field_error("stop_price", f"is required for {self.order_type} orders")
        if not needs_stop and self.stop_price is not None:
            raise field_error("stop_price", f"is not allowed for {self.order_type} orders")
        check_size(self.order_type, self.sec_type, self.quantity, self.cash_quantity)
        check_trailing(self.order_type, self.trailing_amount, self.trailing_type,
                       self.limit_offset)
        return self


def check_size(order_type: str, sec_type: str, quantity: float | None,
               cash_quantity: float | None) -> None:
    """Exactly one of quantity and cash_quantity; a cash quantity only where IBKR takes one."""
    if quantity is not None and cash_quantity is not None:
        raise field_error("cash_quantity", "cannot be given with quantity",
                          "pass quantity=N (shares) or cash_quantity=AMOUNT, not both.")
    if quantity is None and cash_quantity is None:
        raise field_error("quantity", "is required", "pass quantity=N (shares), or "
                          "cash_quantity=AMOUNT for a MKT or LMT stock order.")
    if cash_quantity is not None and (order_type not in CASH_QUANTITY_TYPES or sec_type != "STK"):
        raise field_error("cash_quantity", f"is not accepted for {order_type} {sec_type} orders "
                          "(IBKR takes a cash quantity on MKT and LMT stock orders)",
                          f"pass quantity=N (shares) for this {order_type} order.")


def check_trailing(order_type: str, amount: float | None, kind: str | None,
                   offset: float | None) -> None:
    """Trailing fields exactly on TRAIL/TRAILLMT: amount and type, plus TRAILLMT's offset."""
    if order_type not in TRAILING:
        for name, value in (("trailing_amount", amount), ("trailing_type", kind),
                            ("limit_offset", offset)):
            if value is not None:
                raise field_error(name, f"is not allowed for {order_type} orders",
                                  f"remove {name}, or use order_type=TRAIL (TRAILLMT with "
                                  "limit_offset) for a trailing stop.")
        return
    if amount is None:
        raise field_error("trailing_amount", f"is required for {order_type} orders",
                          "pass trailing_amount=2 trailing_type=amt (2.00 behind the price) or "
                          "trailing_amount=1 trailing_type=% (1 percent).")
    if kind is None:
        raise field_error("trailing_type", f"is required for {order_type} orders",
                          f"pass trailing_type=amt (trailing_amount={amount:g} in currency) or "
                          f"trailing_type=% (trailing_amount={amount:g} percent).")
    if kind == "%" and amount >= 100:
        raise field_error("trailing_amount", "must be below 100 for trailing_type=%",
                          "pass a percentage such as trailing_amount=1.5 trailing_type=%.")
    if order_type == "TRAILLMT" and offset is None:
        raise field_error("limit_offset", "is required for TRAILLMT orders",
                          "pass limit_offset=0.1 (the limit trails the stop by 0.10), or use "
                          "order_type=TRAIL for a trailing stop that executes at market.")
    if order_type == "TRAIL" and offset is not None:
        raise field_error("limit_offset", "is not allowed for TRAIL orders",
                          "remove limit_offset, or use order_type=TRAILLMT.")


class CancelOrderInput(BaseModel):
    """Cancel one working order by IBKR order id."""

    model_config = _BASE

    order_id: str = Field(
        min_length=1, max_length=19, pattern=ORDER_ID_PATTERN, description="IBKR order id (digits)"
    )
    account_id: str | None = Field(
        default=None, max_length=32, pattern=ACCOUNT_PATTERN,
        description="override the credential's account",
    )

    @field_validator("order_id", mode="before")
    @classmethod
    def _str(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class GetOpenOrdersInput(BaseModel):
    """Orders of the day, optionally filtered by IBKR status names."""

    model_config = _BASE

    filters: list[StatusFilter] = Field(
        default_factory=list, max_length=20,
        description="status filters, e.g. ['Submitted', 'Filled']",
    )
    include_inactive: bool = Field(
        default=True, description="include filled/cancelled orders of the day"
    )

    @field_validator("filters", mode="before")
    @classmethod
    def _filters(cls, value: Any) -> Any:
        return _id_list(value)


class GetPositionsInput(BaseModel):
    """All positions of the account, every page."""

    model_config = _BASE

    account_id: str | None = Field(
        default=None, max_length=32, pattern=ACCOUNT_PATTERN,
        description="override the credential's account",
    )


class AccountSummaryInput(BaseModel):
    """Funds and margin figures of the account."""

    model_config = _BASE

    account_id: str | None = Field(
        default=None, max_length=32, pattern=ACCOUNT_PATTERN,
        description="override the credential's account",
    )


class SnapshotInput(DerivativeFields):
    """Quotes for symbols and/or conids, polled until the requested fields arrive (bounded);
    with `sec_type` (and an option's or future's parts) every one must be that contract."""

    model_config = _BASE

    sec_type: SecType | None = Field(
        default=None,
        description="security type every symbol and conid must have (symbols: STK when "
        "absent; conids: unchecked when absent); OPT/FUT with month, strike, right",
    )

    symbols: list[Symbol] = Field(
        default_factory=list, max_length=MAX_LIST_ITEMS, description="tickers, e.g. ['AAPL']"
    )
    conids: list[Conid] = Field(
        default_factory=list, max_length=MAX_LIST_ITEMS, description="contract ids"
    )
    fields: list[Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_]+$")]] = Field(
        default_factory=lambda: ["last", "bid", "ask", "bid_size", "ask_size", "volume",
                                 "availability"],
        description=f"field names ({', '.join(FIELD_IDS)}) or raw IBKR field ids",
    )
    exchange: Exchange | None = Field(default=None, description="listing exchange filter for symbols")
    currency: Currency | None = Field(default=None, description="currency filter for symbols")
    max_wait: float = Field(default=5.0, ge=0, le=60, description="seconds to wait for fields")
    max_attempts: int = Field(default=20, ge=1, le=200, description="polls at most")
    poll_interval: float = Field(default=0.2, ge=0, le=5, description="seconds between polls")
    all_or_nothing: bool = Field(
        default=False,
        description="fail the whole snapshot when one symbol/conid is unknown or ambiguous "
        "(default: quote the rest and list the failures under `errors`)",
    )

    @field_validator("symbols", "fields", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _id_list(value)

    @field_validator("conids", mode="before")
    @classmethod
    def _conids(cls, value: Any) -> Any:
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            value = _id_list(str(value))
        return _not_bool(value, whole=True)

    @field_validator("max_wait", "poll_interval", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> Any:
        return _not_bool(value)

    @field_validator("max_attempts", mode="before")
    @classmethod
    def _attempts(cls, value: Any) -> Any:
        return _not_bool(value, whole=True)

    @field_validator("symbols", mode="after")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        return [v.upper() for v in value]

    @field_validator("fields", mode="after")
    @classmethod
    def _known_fields(cls, value: list[str]) -> list[str]:
        out = []
        for name in value:
            key = name.strip().lower()
            if key in FIELD_IDS or (key.isascii() and key.isdigit()):
                out.append(key)
            else:
                raise PydanticCustomError(
                    "unknown_field",
                    "unknown field '{name}'; use one of: {known}, or a numeric IBKR field id",
                    {"name": name[:20], "known": ", ".join(FIELD_IDS)},
                )
        if not out:
            raise PydanticCustomError("empty_fields", "give at least one field")
        if len(out) > 50:
            raise PydanticCustomError("too_many_fields", "at most 50 fields per snapshot")
        return out

    @model_validator(mode="after")
    def _some(self) -> SnapshotInput:
        if not self.symbols and not self.conids:
            raise field_error("symbols", "give symbols and/or conids")
        return self
