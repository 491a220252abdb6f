"""Options by underlying + month/expiry + strike + right, futures by symbol + month: exactly the
contract asked for, or a typed input error before any order or quote request.

IBKR's search answers the *underlying* (its `sections` name the derivative types and months);
an option's own conid comes from `GET /iserver/secdef/strikes` then `GET /iserver/secdef/info`,
a future's from `GET /trsrv/futures` (ibkr-web-api.md s.5, s.13). Every candidate IBKR answers
is compared field by field with what was asked (`differences`): a contract that differs in type,
right, strike, month, expiry, multiplier, symbol, exchange or currency is never taken, and an
expired one is refused, whichever way the contract was named (symbol, conid, both).
`GET /iserver/contract/{conid}/info` then confirms the chosen conid's type and symbol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from ..client import IBClient
from ..common.quote_fields import as_float, as_int
from ..errors import AmbiguousContract, ContractMismatch, ContractNotFound, InputError
from .contract_match import Asked, check_info
from .contracts import Contract, contract_info, search
from .derivative_parts import MONTHS, Parts, month_of
from .secdef import futures, secdef_info, section_months, strikes

__all__ = ["BY_PARTS", "contract_fields", "describe", "differences", "resolve_derivative",
           "utc_today"]

#: The derivative types this module resolves by their parts.
BY_PARTS = frozenset({"OPT", "FUT"})
#: Strikes and multipliers are equal within this (IBKR prints them as 200 or 200.0).
_TOLERANCE = 1e-6


def utc_today() -> date:
    """Today's date in UTC (a contract whose last trading date is before it has expired)."""
    return datetime.now(UTC).date()


def contract_fields(contract: Contract) -> dict[str, Any]:
    """The resolved contract's type and parts as action outputs show them."""
    return {"sec_type": contract.sec_type, "month": contract.month, "expiry": contract.expiry,
            "strike": contract.strike, "right": contract.right,
            "multiplier": contract.multiplier}


def _same(a: float | None, b: float | None) -> bool:
    """Two prices or multipliers are the same number."""
    return a is not None and b is not None and abs(a - b) <= _TOLERANCE * max(1.0, abs(a))


def describe(symbol: str | None, sec_type: str, parts: Parts) -> str:
    """`AAPL OPT JAN30 200 C` (what was asked, in IBKR's words)."""
    words = [symbol or "?", sec_type, parts.expiry or parts.contract_month or "",
             f"{parts.strike:g}" if parts.strike is not None else "", parts.right or ""]
    return " ".join(w for w in words if w)


def _candidate(item: dict[str, Any], sec_type: str) -> dict[str, Any]:
    """One secdef/info or trsrv/futures item in this module's names (IBKR's spellings vary)."""
    expiry = str(item.get("maturityDate") or item.get("maturity_date")
                 or item.get("expirationDate") or "").strip() or None
    right = str(item.get("right") or item.get("putOrCall") or "").strip().upper()[:1] or None
    return {
        "conid": as_int(item.get("conid")),
        "symbol": str(item.get("symbol") or "").strip().upper() or None,
        "sec_type": str(item.get("secType") or item.get("sec_type") or sec_type).upper(),
        "expiry": expiry,
        "month": month_of(expiry) if expiry and len(expiry) == 8 and expiry.isdigit() else None,
        "strike": as_float(item.get("strike")),
        "right": right,
        "multiplier": as_float(item.get("multiplier")),
        "exchange": str(item.get("exchange") or "").strip().upper() or None,
        "currency": str(item.get("currency") or "").strip().upper() or None,
        "trading_class": str(item.get("tradingClass") or item.get("trading_class") or "")
        or None,
        "underlying_conid": as_int(item.get("underlyingConid") or item.get("underlying_con_id")),
    }


def differences(have: dict[str, Any], asked: Asked, parts: Parts) -> list[tuple[str, Any, Any]]:
    """`(field, asked, IBKR's)` for every asked field the candidate does not have.

    The guard of this module: a candidate with any difference is never traded or quoted.
    """
    out: list[tuple[str, Any, Any]] = []
    if have["sec_type"] != asked.sec_type:
        out.append(("sec_type", asked.sec_type, have["sec_type"]))
    if asked.symbol is not None and have["symbol"] != asked.symbol:
        out.append(("symbol", asked.symbol, have["symbol"]))
    if parts.right is not None and have["right"] != parts.right:
        out.append(("right", parts.right, have["right"]))
    if parts.strike is not None and not _same(have["strike"], parts.strike):
        out.append(("strike", parts.strike, have["strike"]))
    if parts.contract_month is not None and have["month"] != parts.contract_month:
        out.append(("month", parts.contract_month, have["month"]))
    if parts.expiry is not None and have["expiry"] != parts.expiry:
        out.append(("expiry", parts.expiry, have["expiry"]))
    if parts.multiplier is not None and not _same(have["multiplier"], parts.multiplier):
        out.append(("multiplier", parts.multiplier, have["multiplier"]))
    if asked.exchange is not None and have["exchange"] not in (None, asked.exchange):
        out.append(("exchange", asked.exchange, have["exchange"]))
    if asked.currency is not None and have["currency"] not in (None, asked.currency):
        out.append(("currency", asked.currency, have["currency"]))
    return out


def _requested(asked: Asked, parts: Parts) -> dict[str, Any]:
    """The error's `requested` field: every asked field."""
    return {**asked.to_dict(), **parts.to_dict()}


def _missing(asked: Asked, parts: Parts) -> None:
    """The parts an option or future needs, checked before any request."""
    if parts.contract_month is None:
        example = "JAN30" if asked.sec_type == "OPT" else "MAR30"
        raise InputError(
            f"{asked.sec_type} needs its contract month to be named; nothing was sent",
            field="month",
            fix=f"pass month={example} (IBKR's MMMYY) or expiry=YYYYMMDD; the search_contracts "
            "action lists the months.",
        )
    if asked.sec_type == "OPT":
        for name, example in (("strike", "200"), ("right", "C")):
            if getattr(parts, name) is None:
                raise InputError(
                    f"an option needs its {name}; nothing was sent", field=name,
                    fix=f"pass {name}={example}" + (" (the search_contracts action with month= "
                                                    "lists the strikes)." if name == "strike"
                                                    else " for a call or right=P for a put."),
                )


def _nearest(values: list[float], target: float, count: int = 5) -> list[float]:
    """The `count` listed values closest to `target`, in order."""
    return sorted(sorted(values, key=lambda v: (abs(v - target), v))[:count])


def _underlying(client: IBClient, asked: Asked, conid_argument: str,
                ) -> tuple[int | None, str, list[str] | None]:
    """(underlying conid, symbol, months IBKR's search lists) of the derivative asked for."""
    if asked.symbol is None:
        if asked.conid is None:
            raise InputError("give symbol or conid", field="symbol")
        info = contract_info(client, asked.conid)
        check_info(asked.conid, info, Asked(symbol=None, conid=asked.conid,
                                            sec_type=asked.sec_type, exchange=None,
                                            currency=None))
        symbol = str(info.get("symbol") or "").strip().upper()
        return as_int(info.get("underlying_con_id")), symbol, None
    found = search(client, asked.symbol, asked.sec_type)
    named = [i for i in found if str(i.get("symbol") or "").upper() == asked.symbol
             and any(isinstance(s, dict) and str(s.get("secType", "")).upper() == asked.sec_type
                     for s in i.get("sections") or [])]
    if not named:
        raise ContractNotFound(
            f"IBKR lists no {asked.sec_type} contracts for symbol {asked.symbol}; nothing was sent",
            field="symbol", fix="check the symbol (the search_contracts action shows the types "
            "it has).")
    if len(named) > 1:
        candidates = [{"conid": as_int(i.get("conid")), "symbol": asked.symbol,
                       "exchange": str(i.get("description") or "") or None} for i in named[:10]]
        raise AmbiguousContract(
            f"symbol {asked.symbol} names {len(named)} underlyings with {asked.sec_type} "
            "contracts; nothing was sent",
            candidates=candidates, conid_argument=conid_argument,
            fix=f"pass {conid_argument}= with the {asked.sec_type} contract's own conid "
            "(the search_contracts action lists them).")
    item = named[0]
    return as_int(item.get("conid")), asked.symbol, section_months(item, asked.sec_type)


def _option_candidates(client: IBClient, under: int | None, symbol: str, asked: Asked,
                       parts: Parts, *, months: list[str] | None) -> list[dict[str, Any]]:
    """secdef/strikes then secdef/info for the asked option; InputError naming the field when
    the month or strike is not listed."""
    month = parts.contract_month or ""
    if under is None:
        raise ContractMismatch(
            f"IBKR's contract info of conid {asked.conid} names no underlying, so its month, "
            "strike and right cannot be checked; nothing was sent",
            field="conid", fix=f"pass symbol={symbol or 'SYMBOL'} with the option's parts "
            "instead of the conid.", requested=_requested(asked, parts), resolved={})
    if months is not None and month not in months:
        raise InputError(
            f"{symbol} has no options in {month} (IBKR lists: {', '.join(months)}); nothing "
            "was sent", field="month", fix=f"pass month={months[0]} or another listed month.")
    listed = strikes(client, under, month, asked.exchange)
    by_right = listed.get(parts.right or "C", [])
    if not by_right:
        raise InputError(
            f"IBKR lists no {symbol} {'calls' if parts.right == 'C' else 'puts'} in {month}; "
            "nothing was sent", field="month",
            fix="pass another month (the search_contracts action lists them).")
    strike = parts.strike or 0.0
    if not any(_same(s, strike) for s in by_right):
        near = _nearest(by_right, strike)
        closest = min(near, key=lambda s: (abs(s - strike), s))
        raise InputError(
            f"{symbol} {month} has no {strike:g} {parts.right} (nearest listed strikes: "
            f"{', '.join(f'{s:g}' for s in near)}); nothing was sent",
            field="strike", fix=f"pass strike={closest:g} or another listed strike.")
    items = secdef_info(client, under, "OPT", month, strike=strike, right=parts.right,
                        exchange=asked.exchange)
    return [_candidate(i, "OPT") for i in items]


def _future_candidates(client: IBClient, symbol: str) -> list[dict[str, Any]]:
    """/trsrv/futures for `symbol`."""
    return [_candidate(i, "FUT") for i in futures(client, symbol)]


def _expired(have: dict[str, Any], today: date) -> bool:
    """The candidate's last trading date is before today (a stale list can still hold it)."""
    expiry = have["expiry"]
    if not expiry or len(expiry) != 8 or not expiry.isdigit():
        return True  # no date IBKR gave can be checked: never traded as "not expired"
    return date(int(expiry[:4]), int(expiry[4:6]), int(expiry[6:])) < today


def _number(value: float | None) -> str:
    """A strike or multiplier as IBKR prints it (100, 202.5); `?` when absent."""
    return "?" if value is None else f"{value:g}"


def _month_key(month: str) -> tuple[str, int]:
    """MMMYY in calendar order."""
    return month[3:], MONTHS.index(month[:3]) if month[:3] in MONTHS else 0


def _not_listed(near: list[dict[str, Any]], asked: Asked, parts: Parts, what: str,
                today: date) -> InputError:
    """No listed contract has the month/expiry/multiplier asked: name the first such field and
    list the values of the contracts that have the fields before it."""
    pool, field = near, "month"
    for field in ("month", "expiry", "multiplier"):
        fits = [c for c in pool if field not in {f for f, _, _ in differences(c, asked, parts)}]
        if not fits:
            break
        pool = fits
    live = [c for c in pool if not _expired(c, today)]
    values = sorted({str(c[field]) if field != "multiplier" else _number(c[field])
                     for c in live if c[field] is not None},
                    key=lambda v: _month_key(v) if field == "month" else (v, 0))
    fix = f"pass {field}={values[0]} or another listed value." if values else \
        "check the symbol and month (the search_contracts action lists them)."
    return InputError(f"IBKR lists no {what} (listed {field}s: {', '.join(values) or 'none'}); "
                      "nothing was sent", field=field, fix=fix)


def _pick(candidates: list[dict[str, Any]], asked: Asked, parts: Parts, *, symbol: str,
          today: date, conid_argument: str) -> dict[str, Any]:
    """The one candidate that has every asked field and has not expired; typed errors else."""
    what = describe(symbol, asked.sec_type, parts)
    matching = [c for c in candidates if not differences(c, asked, parts)]
    if not matching:
        # Fields the caller narrows a listing by; any other difference means IBKR answered a
        # contract other than the one queried (a put for a call, another strike or symbol).
        narrowing = {"expiry", "multiplier"} | ({"month"} if asked.sec_type == "FUT" else set())
        near = [c for c in candidates
                if not {f for f, _, _ in differences(c, asked, parts)} - narrowing]
        if near or not candidates:
            raise _not_listed(near, asked, parts, what, today)
        field, want, have = next(d for d in differences(candidates[0], asked, parts)
                                 if d[0] not in narrowing)
        raise ContractMismatch(
            f"IBKR answered {field}={have} for {what} (asked {field}={want}); nothing was "
            "sent", field=field, fix=f"pass {field}={have} if you mean that contract, or check "
            "the parts with the search_contracts action.",
            requested=_requested(asked, parts), resolved=candidates[0])
    live = [c for c in matching if not _expired(c, today)]
    if not live:
        gone = matching[0]
        raise ContractMismatch(
            f"{what} (conid {gone['conid']}) expired on {gone['expiry']}; nothing was sent",
            field="expiry" if parts.expiry else "month",
            fix="pass a month that has not expired (the search_contracts action lists them).",
            requested=_requested(asked, parts), resolved=gone)
    if len(live) > 1:
        expiries = sorted({c["expiry"] for c in live})
        field = "expiry" if len(expiries) > 1 else "multiplier"
        # The fix's two ways name one contract: the conid of the expiry it suggests.
        first = min(live, key=lambda c: str(c["expiry"])) if field == "expiry" else live[0]
        example = first["expiry"] if field == "expiry" else _number(first["multiplier"])
        shown = "; ".join(f"conid {c['conid']} expiry {c['expiry']} multiplier "
                          f"{_number(c['multiplier'])}" for c in live[:10])
        raise AmbiguousContract(
            f"{what} matches {len(live)} contracts ({shown}); nothing was sent",
            candidates=[{k: v for k, v in c.items() if v is not None} for c in live[:10]],
            conid_argument=conid_argument, field=field,
            fix=f"narrow with {field}={example} (or pass {conid_argument}={first['conid']}).")
    return live[0]


def resolve_derivative(client: IBClient, asked: Asked, parts: Parts, *, conid_argument: str,
                       today: Callable[[], date] = utc_today) -> Contract:
    """The one OPT/FUT contract `asked` + `parts` name (see the module docstring).

    Raises InputError (a part missing or not listed: names the field and the listed values),
    AmbiguousContract (several contracts: names the field that narrows), ContractMismatch
    (IBKR's contract differs from the asked one, has expired, or a conid given names another
    contract) and ContractNotFound (no such underlying). Nothing is sent in any of these cases.
    """
    _missing(asked, parts)
    under, symbol, months = _underlying(client, asked, conid_argument)
    named = Asked(symbol=symbol or None, conid=asked.conid, sec_type=asked.sec_type,
                  exchange=asked.exchange, currency=asked.currency)
    if asked.sec_type == "OPT":
        candidates = _option_candidates(client, under, symbol, named, parts, months=months)
    else:
        candidates = _future_candidates(client, symbol)
    # /trsrv/futures names no multiplier: a future's is checked against contract info below.
    listed_parts = replace(parts, multiplier=None) if asked.sec_type == "FUT" else parts
    chosen = _pick(candidates, named, listed_parts, symbol=symbol, today=today(),
                   conid_argument=conid_argument)
    conid = chosen["conid"]
    if conid is None:
        raise ContractMismatch(
            f"IBKR named {describe(symbol, asked.sec_type, parts)} without a conid; nothing "
            "was sent", field="symbol", fix="retry later, or pass the contract's own conid.",
            requested=_requested(asked, parts), resolved=chosen)
    if asked.conid is not None and asked.conid != conid:
        raise ContractMismatch(
            f"conid {asked.conid} is not {describe(symbol, asked.sec_type, parts)} (that is conid "
            f"{conid}); nothing was sent", field="conid",
            fix=f"pass {conid_argument}={conid}, or only the parts without a conid.",
            requested=_requested(asked, parts), resolved=chosen)
    info = contract_info(client, conid)
    # A second source: contract info must agree on type and symbol, and on the date and the
    # multiplier when it names them (a stale or crossed answer is refused, not traded).
    check_info(conid, info, Asked(symbol=symbol or None, conid=conid, sec_type=asked.sec_type,
                                  exchange=None, currency=asked.currency))
    confirmed = _candidate({**info, "secType": asked.sec_type, "conid": conid}, asked.sec_type)
    for name in ("expiry", "multiplier"):
        if confirmed[name] is not None and chosen[name] is not None and \
                confirmed[name] != chosen[name] and not (
                    name == "multiplier" and _same(confirmed[name], chosen[name])):
            raise ContractMismatch(
                f"IBKR's answers disagree on conid {conid}: {name} {chosen[name]} (secdef) vs "
                f"{confirmed[name]} (contract info); nothing was sent", field=name,
                fix="retry later; if it persists, pass the contract's conid after checking it "
                "in IBKR's portal.", requested=_requested(asked, parts), resolved=chosen)
    final = {**chosen, **{k: v for k, v in confirmed.items()
                          if chosen.get(k) is None and v is not None}}
    wrong = differences(final, named, parts)
    if wrong:
        field, want, have = wrong[0]
        what = describe(symbol, asked.sec_type, parts)
        if field == "multiplier":
            raise InputError(
                f"{what} has multiplier {_number(have)}, not {_number(want)}; nothing was sent",
                field="multiplier", fix=f"pass multiplier={_number(have)} or leave it out.")
        raise ContractMismatch(
            f"conid {conid} has {field}={have} in IBKR's contract info, not {want}; nothing was "
            "sent", field=field, fix="retry later; if it persists, check the contract in "
            "IBKR's portal.", requested=_requested(asked, parts), resolved=final)
    multiplier = final["multiplier"]
    currency = final["currency"]
    return Contract(
        conid=conid, symbol=symbol or None,
        exchange=final["exchange"],
        currency=currency, company=str(info.get("company_name") or "") or None,
        sec_type=asked.sec_type, month=chosen["month"], expiry=chosen["expiry"],
        strike=chosen["strike"], right=chosen["right"], multiplier=multiplier,
        trading_class=final["trading_class"],
        underlying_conid=under if under is not None else chosen["underlying_conid"],
    )
