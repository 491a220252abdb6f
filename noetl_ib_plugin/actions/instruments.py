"""The one front for naming a contract: a stock (or any type by conid) through contracts.py, an
option or future by its parts through derivatives.py. Actions call `resolve_instrument`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from ..client import IBClient
from ..errors import InputError
from .contract_match import Asked
from .contracts import Contract, resolve_contract
from .derivative_parts import Parts
from .derivatives import BY_PARTS, resolve_derivative, utc_today

__all__ = ["resolve_instrument"]


def resolve_instrument(
    client: IBClient,
    *,
    symbol: str | None = None,
    conid: int | None = None,
    exchange: str | None = None,
    currency: str | None = None,
    sec_type: str = "STK",
    parts: Parts | None = None,
    conid_argument: str = "conid",
    today: Callable[[], date] = utc_today,
) -> Contract:
    """The single contract asked for (see `resolve_contract` and `resolve_derivative`).

    With any of `parts` (month/expiry, strike, right, multiplier) the contract is an option
    (sec_type=OPT) or a future (sec_type=FUT) resolved by them, with or without symbol/conid;
    `today` (UTC date by default) decides what has expired. Without parts, `resolve_contract`
    (which refuses a derivative type named by symbol alone). Errors as those two raise.
    """
    sec_type = sec_type.upper()
    if parts is None or not parts.given():
        return resolve_contract(client, symbol=symbol, conid=conid, exchange=exchange,
                                currency=currency, sec_type=sec_type,
                                conid_argument=conid_argument)
    if sec_type not in BY_PARTS:
        raise InputError(f"month/expiry/strike/right name an option or a future, not {sec_type}",
                         field="sec_type", fix="pass sec_type=OPT or sec_type=FUT with them, or "
                         "leave them out.")
    asked = Asked(symbol=symbol.upper() if symbol else None, conid=conid, sec_type=sec_type,
                  exchange=exchange.upper() if exchange else None,
                  currency=currency.upper() if currency else None)
    return resolve_derivative(client, asked, parts, conid_argument=conid_argument, today=today)
