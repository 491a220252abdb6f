"""Turn IBKR's stringly numbers ("C168.42", "1.2K", "1,300") into numbers and flags.

One parser for every way quotes arrive: the snapshot action (REST) and the market data stream
(`smd`, WebSocket) both name, parse and flag fields here (ibkr-web-api.md s.6 and s.12).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "AVAILABILITY",
    "FIELD_IDS",
    "NAME_BY_ID",
    "NUMERIC_FIELDS",
    "TEXT_FIELDS",
    "ParsedValue",
    "QuoteNumbers",
    "as_float",
    "as_int",
    "is_delayed",
    "parse_field",
    "parse_number",
    "parse_snapshot_field",
]

#: Snapshot field ids whose values are text even when they look like numbers (IBKR's field list:
#: 55 symbol, 6004 exchange, 6070 sec type, 6072 months, 6509 availability, 7051 company name,
#: 7094 conid+exchange, 7219/7220 contract description, 7221 listing exchange, 7280 industry,
#: 7281 category).
TEXT_FIELDS = frozenset(
    {"55", "6004", "6070", "6072", "6509", "7051", "7094", "7219", "7220", "7221", "7280", "7281"}
)
#: Snapshot field ids whose values are numbers (prices, sizes, volume, change, open/high/low).
NUMERIC_FIELDS = frozenset(
    {"31", "70", "71", "82", "83", "84", "85", "86", "87", "88", "7059", "7282", "7284", "7293",
     "7294", "7295", "7296", "7633", "7741", "7762"}
)

#: Snapshot field names -> IBKR field ids (doc s.6).
FIELD_IDS: dict[str, str] = {
    "last": "31",
    "symbol": "55",
    "high": "70",
    "low": "71",
    "change": "82",
    "change_pct": "83",
    "bid": "84",
    "ask_size": "85",
    "ask": "86",
    "volume": "87",
    "bid_size": "88",
    "availability": "6509",
    "last_size": "7059",
    "open": "7295",
    "close": "7296",
    "prior_close": "7741",
}
NAME_BY_ID = {fid: name for name, fid in FIELD_IDS.items()}
#: Field 6509, market data availability: R realtime, D delayed, Z frozen, N not subscribed
#: (IBKR's field list also has Y, frozen delayed).
AVAILABILITY = FIELD_IDS["availability"]
#: 6509's first letter -> delayed; any other value (absent, N, not text) leaves it unknown.
_DELAYED_BY_CODE = {"D": True, "Y": True, "R": False, "Z": False}

_SUFFIX = {"K": Decimal(1_000), "M": Decimal(1_000_000), "B": Decimal(1_000_000_000)}
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
#: Plain decimals (no sign, exponent, separator or suffix): int() / float() read them exactly as
#: the Decimal path does (both round correctly; 15 digits are always finite), at a fraction of
#: its cost.
#: A plain non-negative decimal ("168.42", "300"): the common case on the stream, read by float().
PLAIN_NUMBER = re.compile(r"[0-9]{1,15}(\.[0-9]{0,15})?\Z")


class ParsedValue:
    """A field value with the flags its prefix carried (`C` prior close, `H` halted)."""

    __slots__ = ("halted", "prior_close", "value")

    def __init__(self, value: Any, *, prior_close: bool = False, halted: bool = False) -> None:
        self.value = value
        self.prior_close = prior_close
        self.halted = halted


def _to_number(dec: Decimal, had_point: bool) -> int | float:
    """Whole numbers without a decimal point stay ints; everything else becomes a float."""
    if not had_point and dec == dec.to_integral_value():
        return int(dec)
    return float(dec)


def _finite(number: float) -> bool:
    """True when `number` is a finite float or an int that fits one (so float() never overflows)."""
    try:
        return math.isfinite(number)
    except OverflowError:
        return False


def parse_number(value: Any) -> int | float | None:
    """A number from a JSON number or IBKR text; None when it is not a number (or empty)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value if _finite(value) else None  # JSON NaN/Infinity are not numbers
    if not isinstance(value, str):
        return None
    if PLAIN_NUMBER.match(value):  # the common case on the stream: "168.42", "300"
        return float(value) if "." in value else int(value)
    text = value.strip().replace(",", "").replace("\u00a0", "").replace(" ", "")
    if text.endswith("%"):
        text = text[:-1]
    if not text:
        return None
    multiplier = Decimal(1)
    suffix = text[-1].upper()
    if suffix in _SUFFIX and len(text) > 1:
        multiplier = _SUFFIX[suffix]
        text = text[:-1]
    if not _NUMBER.match(text):
        return None
    try:
        dec = Decimal(text) * multiplier
    except InvalidOperation:
        return None
    had_point = ("." in text or "e" in text.lower()) and multiplier == 1
    number = _to_number(dec, had_point)
    return number if _finite(number) else None


def parse_field(value: Any) -> ParsedValue:
    """Parse one snapshot value: strip `C`/`H` prefixes into flags, numbers into numbers."""
    if isinstance(value, str):
        text = value.strip()
        prior = halted = False
        if text[:1] in ("C", "H") and len(text) > 1 and (text[1].isdigit() or text[1] in ".-"):
            prior, halted = text[0] == "C", text[0] == "H"
            text = text[1:]
        number = parse_number(text)
        if number is not None:
            return ParsedValue(number, prior_close=prior, halted=halted)
        return ParsedValue(value)
    number = parse_number(value)
    return ParsedValue(number if number is not None else value)


def as_float(value: Any) -> float | None:
    """A float, or None for empty/missing/non-numeric values."""
    number = parse_number(value)
    return None if number is None else float(number)


def as_int(value: Any) -> int | None:
    """An int for ids (conid, order id) given as numbers or numeric strings."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = value.strip() if isinstance(value, str) else ""
    # At most 19 digits (an int64, IBKR's widest id): int() of a broker's 5000-digit string
    # raises ValueError (Python's digit limit), which would end the stream's reader thread.
    if 0 < len(text) <= 19 and text.isascii() and text.isdigit():
        return int(text)
    return None


def parse_snapshot_field(field_id: str, value: Any) -> ParsedValue:
    """Parse one snapshot value by what its field holds, not by how the value looks.

    Numeric fields (`NUMERIC_FIELDS`) lose `C`/`H` prefixes (as flags), thousands separators and
    `K`/`M`/`B` suffixes; text fields (`TEXT_FIELDS`) and ids this package does not know come
    back exactly as IBKR sent them, so a symbol such as HKEX's "1" stays the string "1".
    Source: IBKR Web API, `GET /iserver/marketdata/snapshot` field list.
    """
    if field_id in NUMERIC_FIELDS:
        return parse_field(value)
    return ParsedValue(value)


def is_delayed(availability: Any) -> bool | None:
    """Whether 6509 says the quote is delayed; None when it does not say (never "live")."""
    if not isinstance(availability, str) or not availability:
        return None
    return _DELAYED_BY_CODE.get(availability[0])


class QuoteNumbers:
    """Typed quote fields for bots, shared by the snapshot's `Quote` and the stream's
    `QuoteEvent`: prices, sizes and volume as floats (sizes and volume unscaled: "1.2K" is
    1200.0), None when the field is absent (not requested, not sent yet) or IBKR's value is not
    a number. Prices are in the contract's currency. A subclass says where fields live by name
    (`_quote_field`); field ids without a name here stay in that raw mapping."""

    __slots__ = ()

    def _quote_field(self, name: str) -> Any:
        """The parsed value of a field by snapshot name (`FIELD_IDS`), None when absent."""
        raise NotImplementedError

    def _number(self, name: str) -> float | None:
        """A numeric field as a float; None when absent or not a number."""
        value = self._quote_field(name)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
            and _finite(value) else None

    @property
    def last(self) -> float | None:
        """Last price (field 31; see `last_is_prior_close` and `halted` for its prefix)."""
        return self._number("last")

    @property
    def bid(self) -> float | None:
        """Bid price (field 84)."""
        return self._number("bid")

    @property
    def ask(self) -> float | None:
        """Ask price (field 86)."""
        return self._number("ask")

    @property
    def bid_size(self) -> float | None:
        """Bid size (field 88), shares."""
        return self._number("bid_size")

    @property
    def ask_size(self) -> float | None:
        """Ask size (field 85), shares."""
        return self._number("ask_size")

    @property
    def last_size(self) -> float | None:
        """Last trade size (field 7059), shares."""
        return self._number("last_size")

    @property
    def volume(self) -> float | None:
        """Day volume (field 87), shares, K/M suffixes applied."""
        return self._number("volume")

    @property
    def open(self) -> float | None:
        """Today's opening price (field 7295)."""
        return self._number("open")

    @property
    def high(self) -> float | None:
        """Today's high (field 70)."""
        return self._number("high")

    @property
    def low(self) -> float | None:
        """Today's low (field 71)."""
        return self._number("low")

    @property
    def close(self) -> float | None:
        """Close price (field 7296)."""
        return self._number("close")

    @property
    def prior_close(self) -> float | None:
        """Previous day's close (field 7741)."""
        return self._number("prior_close")

    @property
    def change(self) -> float | None:
        """Change since the prior close (field 82), in price units."""
        return self._number("change")

    @property
    def change_pct(self) -> float | None:
        """Change since the prior close (field 83), percent (1.5 means 1.5 %)."""
        return self._number("change_pct")

    @property
    def availability(self) -> str | None:
        """IBKR's market data availability code (field 6509, e.g. "RpB"); see `delayed`."""
        value = self._quote_field("availability")
        return value if isinstance(value, str) and value else None
