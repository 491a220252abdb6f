"""The one reading of a yes/no word (environment variables, Jinja-rendered step arguments).

A leaf (stdlib only, imports nothing), so the warm client, the credential stores and the
settings all read "off", "0", "no", "false", "disabled" the same way.
"""

from __future__ import annotations

__all__ = ["FALSE_WORDS", "TRUE_WORDS", "parse_flag"]

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", "disabled"})


def parse_flag(raw: str | None) -> bool | None:
    """True or False for a yes/no word (any case, surrounding blanks ignored); None for anything
    else, the empty string included (each caller decides what unset means)."""
    word = (raw or "").strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None
