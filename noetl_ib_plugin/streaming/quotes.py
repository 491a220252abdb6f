"""The merged market data of one conid, kept parsed: each `smd` message parses only the fields it
carries (IBKR sends only changed fields after the first message, ibkr-web-api.md s.12).

`QuoteState.apply` gives the same QuoteEvent as `quote_from_fields` over every field received so
far (tests/streaming/test_quote_state.py holds them to that), at a cost that does not grow with
the number of fields already known. Events are built without a second validation (`new_quote`):
every value was typed by the snapshot parser here.
"""

from __future__ import annotations

from typing import Any

from ..common.quote_fields import (
    AVAILABILITY,
    NAME_BY_ID,
    NUMERIC_FIELDS,
    PLAIN_NUMBER,
    as_int,
    is_delayed,
    parse_snapshot_field,
)
from .events import QuoteEvent

__all__ = ["QuoteState", "new_quote", "with_merged"]

_PRIOR = "31"
#: Field id -> (snapshot name, numeric?) for every id with a name or a numeric type: one lookup
#: per key (ids outside it keep their id as name and go through the general parser).
_KNOWN: dict[str, tuple[str, bool]] = {
    fid: (NAME_BY_ID.get(fid, fid), fid in NUMERIC_FIELDS)
    for fid in (*NAME_BY_ID, *NUMERIC_FIELDS)}
#: Every field of a QuoteEvent is given on construction, so all count as set (as model_construct
#: with every field would say).
_FIELDS_SET = frozenset(QuoteEvent.model_fields)
_new = object.__new__
_plain = PLAIN_NUMBER.match
_setattr = object.__setattr__


def new_quote(values: dict[str, Any]) -> QuoteEvent:
    """A QuoteEvent from already-typed values (every field named): what pydantic's
    `model_construct` does for this frozen model without its per-call field walk."""
    event: QuoteEvent = _new(QuoteEvent)
    _setattr(event, "__dict__", values)
    _setattr(event, "__pydantic_fields_set__", set(_FIELDS_SET))
    _setattr(event, "__pydantic_extra__", None)
    _setattr(event, "__pydantic_private__", None)
    return event


def with_merged(event: QuoteEvent, merged: int) -> QuoteEvent:
    """A copy of `event` whose `merged` counter says `merged` (conflation in the buffer)."""
    values = dict(event.__dict__)
    values["merged"] = merged
    return new_quote(values)


class QuoteState:
    """One conid's fields as parsed so far (by snapshot name), with the flags they carried."""

    __slots__ = ("availability", "conid", "delayed", "fields", "halted", "prior", "updated")

    def __init__(self, conid: int) -> None:
        self.conid = conid
        self.fields: dict[str, Any] = {}
        #: Field ids whose current value carried IBKR's `H` (halted) prefix.
        self.halted: set[str] = set()
        self.prior = False
        self.availability: Any = None
        #: is_delayed(availability), kept as availability changes (not per message).
        self.delayed: bool | None = None
        #: `_updated` as an int (None: never sent or not a number), converted when it comes.
        self.updated: int | None = None

    def apply(self, msg: dict[str, Any], received_at: float) -> QuoteEvent:
        """Merge one `smd` message (field ids as keys) and return the merged quote."""
        changed: list[str] = []
        fields, halted = self.fields, self.halted
        for fid, value in msg.items():
            known = _KNOWN.get(fid)
            if known is None:
                if not fid.isdigit():  # topic, conid, _updated, server_id, ...
                    continue
                known = (fid, False)  # an id without a name stays by id
            name, numeric = known
            changed.append(name)
            if numeric and value.__class__ is str and _plain(value):
                # The common case first: what parse_snapshot_field gives a plain decimal,
                # without its four calls (never empty, never 6509).
                fields[name] = float(value) if "." in value else int(value)
                if halted:
                    halted.discard(fid)
                if fid == _PRIOR:
                    self.prior = False
                continue
            if fid == AVAILABILITY:
                self.availability = value
                self.delayed = is_delayed(value)
            if value is None or value == "":
                fields.pop(name, None)
                halted.discard(fid)
                if fid == _PRIOR:
                    self.prior = False
                continue
            parsed = parse_snapshot_field(fid, value)
            fields[name] = parsed.value
            if parsed.halted:
                halted.add(fid)
            else:
                halted.discard(fid)
            if fid == _PRIOR:
                self.prior = parsed.prior_close
        if "_updated" in msg:
            updated = msg["_updated"]
            self.updated = updated if updated.__class__ is int else as_int(updated)
        return new_quote({
            "topic": "quote", "received_at": received_at, "conid": self.conid,
            "fields": dict(fields), "changed": changed, "last_is_prior_close": self.prior,
            "halted": bool(halted), "delayed": self.delayed, "updated": self.updated,
            "merged": 0})
