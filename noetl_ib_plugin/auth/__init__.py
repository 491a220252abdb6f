"""Auth schemes behind one provider seam (imports only the credentials layer below it)."""

from .base import Token, TokenProvider, fingerprint, mask
from .cache import FileTokenCache, MemoryTokenCache, TokenCache

__all__ = [
    "FileTokenCache",
    "MemoryTokenCache",
    "Token",
    "TokenCache",
    "TokenProvider",
    "fingerprint",
    "mask",
]
