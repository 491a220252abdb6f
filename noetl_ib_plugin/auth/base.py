"""The provider seam: every auth scheme caches, refreshes and authorizes requests the same way."""

from __future__ import annotations

import abc
import hashlib
import logging
import threading
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .cache import MemoryTokenCache, TokenCache

__all__ = ["Clock", "Token", "TokenProvider", "fingerprint", "mask"]

log = logging.getLogger(__name__)

Clock = Callable[[], float]


def _now() -> float:
    """Wall clock looked up at call time, so freezegun can move it."""
    return time.time()


def fingerprint(*parts: str) -> str:
    """Stable, non-reversible key for cache entries: never the secret itself."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:32]


def mask(secret: str | None) -> str:
    """Identify a secret for humans without revealing it: length and a short hash."""
    if not secret:
        return "<none>"
    return f"<secret len={len(secret)} sha256:{hashlib.sha256(secret.encode()).hexdigest()[:8]}>"


@dataclass(frozen=True)
class Token:
    """A credential the trading API accepts, with its lifetime; the value never shows in repr."""

    value: str = field(repr=False)
    expires_at: float
    obtained_at: float
    scheme: str
    #: Scheme-specific material kept with the token (e.g. the OAuth 2.0 access token); secret.
    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    from_cache: bool = field(default=False, compare=False)

    def refresh_at(self, buffer_seconds: float, buffer_fraction: float) -> float:
        """When to stop trusting the token: a buffer that never exceeds a fraction of its life."""
        lifetime = max(0.0, self.expires_at - self.obtained_at)
        return self.expires_at - min(buffer_seconds, buffer_fraction * lifetime)

    def to_entry(self) -> dict[str, Any]:
        """Cache-file form."""
        return {
            "value": self.value,
            "expires_at": self.expires_at,
            "obtained_at": self.obtained_at,
            "scheme": self.scheme,
            "extra": self.extra,
        }

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> Token | None:
        """Rebuild from a cache file; None when the entry is from another version or damaged."""
        try:
            return cls(
                value=str(entry["value"]),
                expires_at=float(entry["expires_at"]),
                obtained_at=float(entry["obtained_at"]),
                scheme=str(entry["scheme"]),
                extra=dict(entry.get("extra") or {}),
                from_cache=True,
            )
        except (KeyError, TypeError, ValueError):
            return None


def _peer_fetched(cache: TokenCache, key: str, accept: Callable[[dict[str, Any]], bool]) -> Token | None:
    """A token another host fetched while we waited (caches shared across hosts; see keychain_cache)."""
    claim = getattr(cache, "claim_fetch", None)
    entry = claim(key, accept) if callable(claim) else None
    return Token.from_entry(entry) if isinstance(entry, dict) else None


class TokenProvider(abc.ABC):
    """Base of every scheme: a lock-free fast path, single-flight refresh, the cache it is given
    (`Host` hands every provider of a credential the shared one; none: a private memory cache).

    Subclasses implement `_fetch_new` (get a token from IBKR), `authorize` (put it on a request),
    `trading_base_url` and `_cache_identity` (public facts that identify the credential).
    """

    #: Short scheme name shown in token metadata ("oauth2", "oauth1a").
    scheme: ClassVar[str] = ""
    #: Default refresh buffer; the effective buffer is min(this, fraction x lifetime).
    DEFAULT_BUFFER_SECONDS: ClassVar[float] = 300.0
    DEFAULT_BUFFER_FRACTION: ClassVar[float] = 0.1

    def __init__(
        self,
        *,
        cache: TokenCache | None = None,
        clock: Clock | None = None,
        buffer_seconds: float | None = None,
        buffer_fraction: float | None = None,
    ) -> None:
        self._cache = cache if cache is not None else MemoryTokenCache()
        self._clock: Clock = clock or _now
        self.buffer_seconds = self.DEFAULT_BUFFER_SECONDS if buffer_seconds is None else float(buffer_seconds)
        self.buffer_fraction = (
            self.DEFAULT_BUFFER_FRACTION if buffer_fraction is None else float(buffer_fraction)
        )
        self._token: Token | None = None
        self._lock = threading.Lock()
        self._cache_key_value: str | None = None

    # -- what subclasses provide -------------------------------------------------------------

    @property
    @abc.abstractmethod
    def trading_base_url(self) -> str:
        """Root of the trading API, e.g. `https://api.ibkr.com/v1/api` (no trailing slash).

        Not the record's `api_base_url`, which is the host root (`https://api.ibkr.com`).
        """

    @abc.abstractmethod
    def _cache_identity(self) -> tuple[str, ...]:
        """Public facts (never secrets) that make two providers share a cache entry."""

    @abc.abstractmethod
    def _fetch_new(self) -> Token:
        """Obtain a fresh token from IBKR; called under the single-flight locks only."""

    @abc.abstractmethod
    def authorize(self, method: str, url: str, headers: MutableMapping[str, str]) -> str:
        """Add auth headers for one request and return the token value used (for `invalidate`)."""

    # -- the shared machinery ----------------------------------------------------------------

    @property
    def cache_key(self) -> str:
        """Fingerprint of the credential's public identity."""
        if self._cache_key_value is None:
            self._cache_key_value = fingerprint(type(self).__name__, *self._cache_identity())
        return self._cache_key_value

    def now(self) -> float:
        """The injected clock."""
        return self._clock()

    def _fresh(self, token: Token | None) -> bool:
        return token is not None and self.now() < token.refresh_at(self.buffer_seconds, self.buffer_fraction)

    def _fresh_entry(self, entry: dict[str, Any]) -> bool:
        token = Token.from_entry(entry)
        return token is not None and token.scheme == self.scheme and self._fresh(token)

    def current_token(self) -> Token:
        """A token valid for at least the buffer; at most one fetch across threads and processes."""
        token = self._token
        if self._fresh(token):
            assert token is not None
            return token
        with self._lock:
            token = self._token
            if self._fresh(token):
                assert token is not None
                return token
            with self._cache.lock(self.cache_key):
                entry = self._cache.load(self.cache_key)
                cached = Token.from_entry(entry) if entry else None
                if (cached is not None and cached.scheme == self.scheme and self._fresh(cached)
                        and cached.obtained_at <= self.now() + 300):  # not "obtained" in the future
                    log.debug("%s token loaded from cache (expires_at=%.0f)", self.scheme, cached.expires_at)
                    self._token = cached
                    return cached
                peer = _peer_fetched(self._cache, self.cache_key, self._fresh_entry)
                if peer is not None and peer.scheme == self.scheme and self._fresh(peer):
                    self._token = peer
                    return peer
                log.debug("%s token missing or inside its refresh buffer; fetching", self.scheme)
                token = self._fetch_new()
                self._cache.store(self.cache_key, token.to_entry())
                self._token = token
                return token

    def fetch_token(self, audience: str | None = None) -> str:
        """The value the trading API accepts (NoETL `TokenProvider` interface)."""
        del audience  # IBKR tokens have one audience; kept for interface compatibility.
        return self.current_token().value

    def is_token_valid(self) -> bool:
        """True when a cached token is outside its refresh buffer (no network)."""
        if self._fresh(self._token):
            return True
        entry = self._cache.load(self.cache_key)
        cached = Token.from_entry(entry) if entry else None
        return cached is not None and cached.scheme == self.scheme and self._fresh(cached)

    def invalidate(self, token: str) -> bool:
        """Drop the cached token only if it is `token`, so N concurrent 401s cost one refresh."""
        with self._lock:
            dropped = False
            if self._token is not None and self._token.value == token:
                self._token = None
                dropped = True
            with self._cache.lock(self.cache_key):
                entry = self._cache.load(self.cache_key)
                if entry is not None and entry.get("value") == token:
                    self._cache.delete(self.cache_key)
                    dropped = True
            if dropped:
                log.info("%s token invalidated after an authentication failure", self.scheme)
            return dropped

    def clear_cache(self) -> None:
        """Forget every token for this credential, in memory and on disk."""
        with self._lock:
            self._token = None
            with self._cache.lock(self.cache_key):
                self._cache.delete(self.cache_key)

    def invalidate_token(self) -> None:
        """NoETL's older `IBTokenProvider.invalidate_token()`: the same as `clear_cache`."""
        self.clear_cache()

    # -- per-token state (the brokerage session rides on the token) --------------------------

    def load_state(self, name: str) -> dict[str, Any] | None:
        """State saved with `save_state` for the current token; None once the token changed."""
        token = self._token
        if token is None:
            return None
        entry = self._cache.load(self.cache_key)
        if not entry or entry.get("value") != token.value:
            return None
        state = (entry.get("state") or {}).get(name)
        return dict(state) if isinstance(state, dict) else None

    def save_state(self, name: str, state: dict[str, Any]) -> None:
        """Keep small JSON state (e.g. the brokerage session) beside the token it belongs to."""
        token = self._token
        if token is None:
            return
        with self._cache.lock(self.cache_key):
            entry = self._cache.load(self.cache_key)
            if not entry or entry.get("value") != token.value:
                return
            entry.setdefault("state", {})[name] = state
            self._cache.store(self.cache_key, entry)

    def token_info(self) -> dict[str, Any]:
        """Metadata safe to print: scheme, lifetime, whether it came from the cache; never the value."""
        token = self.current_token()
        return {
            "scheme": self.scheme,
            "expires_at": token.expires_at,
            "obtained_at": token.obtained_at,
            "expires_in": round(token.expires_at - self.now(), 3),
            "from_cache": token.from_cache,
            "token": mask(token.value),
            "api_base_url": self.trading_base_url,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scheme={self.scheme!r}, cache_key={self.cache_key!r})"
