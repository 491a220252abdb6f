"""The parts that name an option or a future (IBKR's terms: `month`, `expiry`, `strike`, `right`,
`multiplier`), as input fields every contract-naming action shares, and their canonical forms.

IBKR writes a contract month `MMMYY` (`JAN30`: secdef/search `sections[].months`, the `month`
of secdef/strikes and secdef/info), a last trading date `YYYYMMDD` (`maturityDate`,
`expirationDate`), a right `C` or `P` and a strike as a number (ibkr-web-api.md s.13).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .field_errors import field_error

__all__ = [
    "MONTHS",
    "DerivativeFields",
    "Parts",
    "checked_month",
    "digits_as_text",
    "month_of",
    "parse_expiry",
    "parse_month",
    "parse_right",
]

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
#: Strike and multiplier bounds: far above any listed contract.
MAX_STRIKE = 10_000_000.0
MAX_MULTIPLIER = 1_000_000.0
_MMMYY = re.compile(r"^([A-Z]{3})(\d{2}|\d{4})$")
_YYYYMM = re.compile(r"^(\d{4})-?(\d{2})$")
_YYYYMMDD = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")
_NUMBER = re.compile(r"\s*[+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*")
_RIGHTS = {"C": "C", "CALL": "C", "P": "P", "PUT": "P"}


def month_of(expiry: str) -> str:
    """IBKR's contract month (`JAN30`) of a `YYYYMMDD` date."""
    return f"{MONTHS[int(expiry[4:6]) - 1]}{expiry[2:4]}"


def digits_as_text(value: Any) -> Any:
    """`month=203001` / `expiry=20300118` on the command line arrive as JSON numbers."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def checked_month(value: str | None) -> str | None:
    """A model's `month` as IBKR's MMMYY, or the validation error naming it."""
    if value is None:
        return None
    month = parse_month(value)
    if month is None:
        raise PydanticCustomError(
            "month", "'{value}' is not a contract month; use IBKR's MMMYY, e.g. JAN30",
            {"value": value[:16]})
    return month


def parse_month(text: str) -> str | None:
    """`JAN30`, `jan2030`, `2030-01` or `203001` as IBKR's `JAN30`; None when it is none of them."""
    value = text.strip().upper()
    named = _MMMYY.match(value)
    if named and named.group(1) in MONTHS:
        return f"{named.group(1)}{named.group(2)[-2:]}"
    numeric = _YYYYMM.match(value)
    if numeric and 1 <= int(numeric.group(2)) <= 12:
        return f"{MONTHS[int(numeric.group(2)) - 1]}{numeric.group(1)[-2:]}"
    return None


def parse_expiry(text: str) -> str | None:
    """`20300118` or `2030-01-18` as `YYYYMMDD` when it is a calendar date; None otherwise."""
    found = _YYYYMMDD.match(text.strip())
    if not found:
        return None
    try:
        day = date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError:
        return None
    return day.strftime("%Y%m%d")


def parse_right(text: str) -> str | None:
    """`C`/`CALL` -> `C`, `P`/`PUT` -> `P` (any case); None otherwise."""
    return _RIGHTS.get(text.strip().upper())


@dataclass(frozen=True)
class Parts:
    """What names one option or future besides its underlying; None: not asked."""

    month: str | None = None
    expiry: str | None = None
    strike: float | None = None
    right: str | None = None
    multiplier: float | None = None

    def given(self) -> bool:
        """Whether any part was asked for."""
        return any(v is not None for v in vars(self).values())

    def to_dict(self) -> dict[str, Any]:
        """The asked parts (the error's `requested` shows them)."""
        return {k: v for k, v in vars(self).items() if v is not None}

    @property
    def contract_month(self) -> str | None:
        """The month asked, or the month of the expiry asked."""
        return self.month or (month_of(self.expiry) if self.expiry else None)


def _number_text(value: Any) -> Any:
    """A strike or multiplier: a number or plain decimal text, never a boolean."""
    if isinstance(value, bool):
        raise PydanticCustomError("bool_not_number", "must be a number, not a boolean")
    if isinstance(value, str) and not _NUMBER.fullmatch(value):
        raise PydanticCustomError("number_text", "must be a decimal number, e.g. 200 or 202.5")
    return value


class DerivativeFields(BaseModel):
    """`month`, `expiry`, `strike`, `right`, `multiplier`: an option (sec_type=OPT) or a future
    (sec_type=FUT) by its parts. Only for those types; validated into IBKR's forms. Its
    validators are named `_part_*` so a subclass's own validators never replace them."""

    model_config = ConfigDict(defer_build=True)

    month: str | None = Field(
        default=None, min_length=1, max_length=16,
        description="contract month, IBKR's MMMYY (JAN30); 2030-01 accepted (OPT, FUT)",
    )
    expiry: str | None = Field(
        default=None, min_length=1, max_length=16,
        description="last trading date YYYYMMDD (20300118; 2030-01-18 accepted): picks one "
        "expiry when a month has several (OPT, FUT)",
    )
    strike: float | None = Field(
        default=None, gt=0, le=MAX_STRIKE, allow_inf_nan=False,
        description="option strike price (OPT)",
    )
    right: str | None = Field(
        default=None, min_length=1, max_length=4, description="C or P (CALL/PUT accepted) (OPT)"
    )
    multiplier: float | None = Field(
        default=None, gt=0, le=MAX_MULTIPLIER, allow_inf_nan=False,
        description="contract multiplier the contract must have, e.g. 100 (OPT, FUT)",
    )

    @field_validator("strike", "multiplier", mode="before")
    @classmethod
    def _part_numbers(cls, value: Any) -> Any:
        return _number_text(value)

    @field_validator("month", "expiry", mode="before")
    @classmethod
    def _part_digits(cls, value: Any) -> Any:
        return digits_as_text(value)

    @field_validator("month", mode="after")
    @classmethod
    def _part_month(cls, value: str | None) -> str | None:
        return checked_month(value)

    @field_validator("expiry", mode="after")
    @classmethod
    def _part_expiry(cls, value: str | None) -> str | None:
        if value is None:
            return None
        expiry = parse_expiry(value)
        if expiry is None:
            raise PydanticCustomError(
                "expiry", "'{value}' is not a date; use YYYYMMDD, e.g. 20300118",
                {"value": value[:16]})
        return expiry

    @field_validator("right", mode="after")
    @classmethod
    def _part_right(cls, value: str | None) -> str | None:
        if value is None:
            return None
        right = parse_right(value)
        if right is None:
            raise PydanticCustomError("right", "'{value}' is not an option right; use C or P",
                                      {"value": value[:4]})
        return right

    @model_validator(mode="after")
    def _parts_fit_the_type(self) -> DerivativeFields:
        sec_type = str(getattr(self, "sec_type", None) or "").upper()
        if self.month and self.expiry and month_of(self.expiry) != self.month:
            raise field_error("expiry", f"{self.expiry} is not in month {self.month}; pass "
                              f"month={month_of(self.expiry)} or leave month out")
        option_only = [n for n in ("strike", "right") if getattr(self, n) is not None]
        if option_only and sec_type != "OPT":
            raise field_error("sec_type", f"{option_only[0]} names an option: pass sec_type=OPT")
        dated = [n for n in ("month", "expiry", "multiplier") if getattr(self, n) is not None]
        if dated and sec_type not in ("OPT", "FUT"):
            raise field_error("sec_type", f"{dated[0]} names an option or a future: pass "
                              "sec_type=OPT or sec_type=FUT")
        return self

    def parts(self) -> Parts:
        """The asked parts, in IBKR's forms."""
        return Parts(month=self.month, expiry=self.expiry, strike=self.strike, right=self.right,
                     multiplier=self.multiplier)
