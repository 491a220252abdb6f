"""What a token cache entry must look like before any provider reads it (the shape of
`Token.to_entry`): a corrupt or planted entry is a miss, never a crash or a wrong token."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ..common.jsonbounds import nests_within
from .bounds import MAX_EPOCH_SECONDS, MAX_TOKEN_LIFETIME, finite_number

__all__ = ["MAX_ENTRY_BYTES", "valid_entry"]

#: A token entry is a few KiB; anything past this is not ours.
MAX_ENTRY_BYTES = 1 << 20


def valid_entry(entry: Any) -> bool:
    """The checks an entry passes before any provider reads it (the shape of `Token.to_entry`).

    A printable-ASCII token value; finite numeric timestamps with 0 < obtained <= expires <=
    obtained + MAX_TOKEN_LIFETIME and expires < MAX_EPOCH_SECONDS; dict `extra`/`state`; every
    float in it finite; at most 16 levels deep; an OAuth 1.0a LST in strict base64.
    """
    if not isinstance(entry, dict):
        return False
    value, scheme = entry.get("value"), entry.get("scheme")
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ENTRY_BYTES // 4:
        return False
    if not (value.isascii() and value.isprintable() and " " not in value):
        return False
    if not isinstance(scheme, str) or not 0 < len(scheme) <= 32:
        return False
    stamps = [entry.get("obtained_at"), entry.get("expires_at")]
    if any(isinstance(v, str) for v in stamps):
        return False
    obtained, expires = (finite_number(v) for v in stamps)
    if obtained is None or expires is None:
        return False
    if not 0 < obtained <= expires <= min(obtained + MAX_TOKEN_LIFETIME, MAX_EPOCH_SECONDS):
        return False
    if any(entry.get(k) is not None and not isinstance(entry.get(k), dict) for k in ("extra", "state")):
        return False
    if not nests_within(entry, 16, finite_floats=True):
        return False
    if scheme == "oauth1a":
        try:
            base64.b64decode(value, validate=True)
        except (ValueError, binascii.Error):
            return False
    return True
