"""The snapshot action: bounded polling through the pre-flight, then numbers and flags."""

from __future__ import annotations

from typing import Any

from ..client import IBClient
from ..errors import BrokerError
from .contracts import resolve_contract
from .models import FIELD_IDS, SnapshotInput
from .parse import as_int, parse_field

__all__ = ["MAX_CONIDS_PER_REQUEST", "snapshot"]

MAX_CONIDS_PER_REQUEST = 100
_NAME_BY_ID = {fid: name for name, fid in FIELD_IDS.items()}


def _present(value: Any) -> bool:
    """IBKR omits fields or sends "" until the stream has them."""
    return value is not None and value != ""


def _poll(client: IBClient, conids: list[int], ids: list[str]) -> list[dict[str, Any]]:
    """One round of snapshot requests (chunks of 100 conids)."""
    out: list[dict[str, Any]] = []
    for start in range(0, len(conids), MAX_CONIDS_PER_REQUEST):
        chunk = conids[start : start + MAX_CONIDS_PER_REQUEST]
        body = client.get(
            "/iserver/marketdata/snapshot",
            params={"conids": ",".join(str(c) for c in chunk), "fields": ",".join(ids)},
        )
        if isinstance(body, dict) and body.get("error"):
            raise BrokerError(f"market data snapshot failed: {body['error']}", field="conids")
        out.extend(item for item in body or [] if isinstance(item, dict))
    return out


def snapshot(client: IBClient, inp: SnapshotInput) -> dict[str, Any]:
    """Quotes for every requested conid; `missing` lists fields still absent at the bound."""
    symbols: dict[int, str | None] = {}
    for symbol in inp.symbols:
        contract = resolve_contract(
            client, symbol=symbol, exchange=inp.exchange, currency=inp.currency
        )
        symbols.setdefault(contract.conid, contract.symbol or symbol)
    for conid in inp.conids:
        symbols.setdefault(conid, None)
    conids = list(symbols)
    ids = [FIELD_IDS.get(name, name) for name in inp.fields]
    ids = list(dict.fromkeys(ids))
    seen: dict[int, dict[str, Any]] = {c: {} for c in conids}

    def missing(conid: int) -> list[str]:
        return [fid for fid in ids if not _present(seen[conid].get(fid))]

    deadline = client.clock() + inp.max_wait
    attempts = 0
    pending = conids
    while pending and attempts < inp.max_attempts:
        attempts += 1
        for item in _poll(client, pending, ids):
            got = as_int(item.get("conid"))
            if got is None or got not in seen:
                continue
            for key, value in item.items():
                if _present(value):
                    seen[got][key] = value
        pending = [c for c in conids if missing(c)]
        if not pending or client.clock() + inp.poll_interval > deadline:
            break
        client.sleep(inp.poll_interval)

    quotes = []
    for conid in conids:
        raw = seen[conid]
        quote: dict[str, Any] = {"conid": conid, "symbol": symbols[conid]}
        flags = {"last_is_prior_close": False, "halted": False}
        for fid in ids:
            name = _NAME_BY_ID.get(fid, fid)
            if not _present(raw.get(fid)):
                quote[name] = None
                continue
            parsed = parse_field(raw[fid])
            quote[name] = parsed.value
            if fid == "31":
                flags["last_is_prior_close"] = parsed.prior_close
                flags["halted"] = parsed.halted
            elif parsed.halted:
                flags["halted"] = True
        if quote["symbol"] is None and isinstance(raw.get("55"), str):
            quote["symbol"] = raw["55"]
        quote.update(flags)
        quote["updated"] = as_int(raw.get("_updated"))
        quote["missing"] = [_NAME_BY_ID.get(fid, fid) for fid in missing(conid)]
        quotes.append(quote)
    return {
        "snapshots": quotes,
        "complete": all(not q["missing"] for q in quotes),
        "attempts": attempts,
    }
