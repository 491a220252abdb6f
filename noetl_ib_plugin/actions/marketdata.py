"""The snapshot action: bounded polling through the pre-flight, then numbers and flags."""

from __future__ import annotations

from typing import Any

from ..client import IBClient
from ..common.quote_fields import (
    AVAILABILITY,
    FIELD_IDS,
    NAME_BY_ID,
    as_int,
    is_delayed,
    parse_snapshot_field,
)
from ..errors import (
    AmbiguousContract,
    BrokerError,
    ContractMismatch,
    ContractNotFound,
    IBPluginError,
    InputError,
    TransientError,
)
from .contracts import contract_info
from .instruments import resolve_instrument
from .models import SnapshotInput
from .outputs.base import load_output
from .outputs.marketdata import SnapshotOutput

__all__ = ["MAX_CONIDS_PER_REQUEST", "SNAPSHOT_ENDPOINT", "snapshot"]

MAX_CONIDS_PER_REQUEST = 100
SNAPSHOT_ENDPOINT = "/iserver/marketdata/snapshot"
#: Keys every answer carries, even the pre-flight one and IBKR's answer for an unknown conid.
_BARE_KEYS = frozenset({"conid", "conidEx"})
def _present(value: Any) -> bool:
    """IBKR omits fields or sends "" until the stream has them."""
    return value is not None and value != ""


def _wrong_shape(what: str) -> TransientError:
    """A 200 whose body is not the documented list of objects: never read as "no quotes"."""
    return TransientError(
        f"GET {SNAPSHOT_ENDPOINT} answered HTTP 200 with {what} instead of a list of quote objects",
        status=200,
        fix="retry later (IBKR may be in maintenance); if it persists, check the api_base_url "
        "in the credential record points at IBKR's Web API.",
    )


def _poll(client: IBClient, conids: list[int], ids: list[str]) -> list[dict[str, Any]]:
    """One round of snapshot requests (chunks of 100 conids); the shape is checked."""
    out: list[dict[str, Any]] = []
    for start in range(0, len(conids), MAX_CONIDS_PER_REQUEST):
        chunk = conids[start : start + MAX_CONIDS_PER_REQUEST]
        body = client.get(
            SNAPSHOT_ENDPOINT,
            params={"conids": ",".join(str(c) for c in chunk), "fields": ",".join(ids)},
        )
        if isinstance(body, dict) and body.get("error"):
            raise BrokerError(
                f"GET {SNAPSHOT_ENDPOINT} failed: {str(body['error'])[:200]}", field="conids"
            )
        if not isinstance(body, list):
            raise _wrong_shape("an object" if isinstance(body, dict) else
                               "no body" if body is None else f"a {type(body).__name__}")
        if not all(isinstance(item, dict) for item in body):
            raise _wrong_shape("a list holding non-objects")
        out.extend(body)
    return out


def _failure(error: IBPluginError, **key: Any) -> dict[str, Any]:
    """One per-symbol / per-conid failure as it appears under `errors`."""
    return {**key, **error.to_dict()}


def snapshot(client: IBClient, inp: SnapshotInput) -> SnapshotOutput:
    """Quotes for every requested symbol and conid (`GET /iserver/marketdata/snapshot`).

    Returns SnapshotOutput `{"snapshots": [quote...], "complete": bool, "attempts": int, "partial": bool,
    "errors": [{"symbol"|"conid", "type", "message", ...}]}`. Each quote holds the requested
    fields by name (numbers as numbers, text as text), `last_is_prior_close`, `halted`,
    `delayed` (IBKR's field 6509 starts with "D" or "Y": the account has no real-time
    subscription and the prices are delayed; "R"/"Z": false; null when 6509 did not say, e.g.
    absent or "N"; 6509 is always asked for), `updated` (epoch ms) and `missing`
    (fields still absent when the polling bound was reached).
    An unknown, ambiguous or mismatched symbol (IBKR answers another symbol or type:
    ContractMismatch), or a conid IBKR does not know, is listed under `errors` and
    the rest are quoted (`partial: true`); with `all_or_nothing=true`, or when nothing could be
    quoted, the first such error is raised instead (`ContractNotFound`, `AmbiguousContract`).
    A 200 answer that is not a list of objects raises `TransientError` naming the endpoint.
    """
    symbols: dict[int, str | None] = {}
    errors: list[tuple[IBPluginError, dict[str, Any]]] = []
    named: list[tuple[str | None, int | None]] = [(s, None) for s in inp.symbols]
    if inp.sec_type is not None:
        # A type (and parts) asked: every conid must be that contract too (issue 22).
        named += [(None, c) for c in dict.fromkeys(inp.conids)]
    for symbol, given in named:
        try:
            contract = resolve_instrument(
                client, symbol=symbol, conid=given, exchange=inp.exchange,
                currency=inp.currency, sec_type=inp.sec_type or "STK", parts=inp.parts(),
                conid_argument="conids",
            )
        except (AmbiguousContract, ContractMismatch, ContractNotFound, InputError) as exc:
            if inp.all_or_nothing:
                raise
            errors.append((exc, {"symbol": symbol} if symbol is not None else {"conid": given}))
            continue
        symbols.setdefault(contract.conid, contract.symbol or symbol)
    refused = {key.get("conid") for _, key in errors}
    unverified = [c for c in dict.fromkeys(inp.conids) if c not in symbols and c not in refused]
    for conid in inp.conids:
        if conid not in refused:
            symbols.setdefault(conid, None)
    conids = list(symbols)
    ids = [FIELD_IDS.get(name, name) for name in inp.fields]
    ids = list(dict.fromkeys(ids))
    asked = list(dict.fromkeys([*ids, AVAILABILITY]))
    seen: dict[int, dict[str, Any]] = {c: {} for c in conids}
    answered: set[int] = set()

    def missing(conid: int) -> list[str]:
        return [fid for fid in ids if not _present(seen[conid].get(fid))]

    deadline = client.clock() + inp.max_wait
    attempts = 0
    pending = conids
    while pending and attempts < inp.max_attempts:
        attempts += 1
        for item in _poll(client, pending, asked):
            got = as_int(item.get("conid"))
            if got is None or got not in seen:
                continue
            if set(item) - _BARE_KEYS:
                answered.add(got)
            for key, value in item.items():
                if _present(value):
                    seen[got][key] = value
        if attempts >= 2:
            # Past the pre-flight IBKR answers a known conid with at least its stream keys; an
            # unknown one stays bare forever, so ask the contract endpoint once instead of
            # polling it until max_wait.
            for conid in [c for c in unverified if c not in answered]:
                unverified.remove(conid)
                try:
                    contract_info(client, conid)
                except ContractNotFound:
                    unknown = ContractNotFound(
                        f"no contract with conid {conid}: IBKR does not know it",
                        field="conids",
                        fix="check the conid, or pass symbols= with the ticker instead.",
                    )
                    if inp.all_or_nothing:
                        raise unknown from None
                    errors.append((unknown, {"conid": conid}))
                    conids.remove(conid)
        pending = [c for c in conids if missing(c)]
        if not pending or client.clock() + inp.poll_interval > deadline:
            break
        client.sleep(inp.poll_interval)

    if errors and not conids:
        raise errors[0][0]

    quotes = []
    for conid in conids:
        raw = seen[conid]
        quote: dict[str, Any] = {"conid": conid, "symbol": symbols[conid]}
        flags = {"last_is_prior_close": False, "halted": False}
        for fid in ids:
            name = NAME_BY_ID.get(fid, fid)
            if not _present(raw.get(fid)):
                quote[name] = None
                continue
            parsed = parse_snapshot_field(fid, raw[fid])
            quote[name] = parsed.value
            if fid == "31":
                flags["last_is_prior_close"] = parsed.prior_close
                flags["halted"] = parsed.halted
            elif parsed.halted:
                flags["halted"] = True
        if quote["symbol"] is None and isinstance(raw.get("55"), str):
            quote["symbol"] = raw["55"]
        quote.update(flags)
        quote["delayed"] = is_delayed(raw.get(AVAILABILITY))
        quote["updated"] = as_int(raw.get("_updated"))
        quote["missing"] = [NAME_BY_ID.get(fid, fid) for fid in missing(conid)]
        quotes.append(quote)
    return load_output(SnapshotOutput, {
        "snapshots": quotes,
        "complete": all(not q["missing"] for q in quotes) and not errors,
        "attempts": attempts,
        "partial": bool(errors),
        "errors": [_failure(exc, **key) for exc, key in errors],
    }, "snapshot")
