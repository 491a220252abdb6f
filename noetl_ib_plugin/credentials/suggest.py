"""Did-you-mean: the closest valid name to a misspelt one (difflib), for error fixes."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["closest"]

#: Abbreviations users type for which difflib's ratio is too low (e.g. "qty" vs "quantity").
_ABBREVIATIONS = {"qty": "quantity", "px": "price", "acct": "account_id", "sym": "symbol"}


def closest(name: str, options: Iterable[str], *, cutoff: float = 0.5) -> str | None:
    """The option nearest to `name` (case-insensitive), or None when none is near enough."""
    choices = list(options)
    lowered = {o.lower(): o for o in choices}
    key = name.lower()
    if key in lowered:
        return lowered[key]
    wanted = _ABBREVIATIONS.get(key)
    if wanted in choices:
        return wanted
    hits = difflib.get_close_matches(key, list(lowered), n=1, cutoff=cutoff)
    if hits:
        return lowered[hits[0]]
    prefixed = [o for o in choices if o.lower().startswith(key) or key.startswith(o.lower())]
    return prefixed[0] if len(prefixed) == 1 else None
