"""Auth schemes behind one provider seam (imports only the credentials layer below it)."""

from .base import Token, TokenProvider, fingerprint, mask
from .cache import FileTokenCache, MemoryTokenCache, TokenCache, default_cache, default_cache_dir

__all__ = [
    "FileTokenCache",
    "MemoryTokenCache",
    "Token",
    "TokenCache",
    "TokenProvider",
    "default_cache",
    "default_cache_dir",
    "fingerprint",
    "mask",
]
