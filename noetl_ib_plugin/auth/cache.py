"""Token caches: one in memory per process and one on disk shared by every process of a user."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from ..errors import ConfigurationError

__all__ = ["FileTokenCache", "MemoryTokenCache", "TokenCache", "default_cache", "default_cache_dir"]

log = logging.getLogger(__name__)


class TokenCache(Protocol):
    """Storage for cache entries keyed by a credential fingerprint, with a lock that spans writers."""

    def load(self, key: str) -> dict[str, Any] | None:
        """Return the stored entry or None; a corrupt entry is a miss, not an error."""
        ...

    def store(self, key: str, entry: dict[str, Any]) -> None:
        """Replace the entry atomically."""
        ...

    def delete(self, key: str) -> None:
        """Drop the entry if present."""
        ...

    def lock(self, key: str) -> contextlib.AbstractContextManager[None]:
        """Exclusive lock for read-modify-write of one key across every user of this cache."""
        ...


class _KeyLocks:
    """Per-key threading locks, created on demand."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.RLock] = {}

    def get(self, key: str) -> threading.RLock:
        with self._guard:
            lock = self._locks.get(key)
            if lock is None:
                lock = self._locks[key] = threading.RLock()
            return lock


class MemoryTokenCache:
    """Process-local cache: providers for the same credential in one process share tokens."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Any]] = {}
        self._locks = _KeyLocks()

    def load(self, key: str) -> dict[str, Any] | None:
        entry = self._entries.get(key)
        return dict(entry) if entry is not None else None

    def store(self, key: str, entry: dict[str, Any]) -> None:
        self._entries[key] = dict(entry)

    def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        with self._locks.get(key):
            yield

    def __repr__(self) -> str:
        return f"MemoryTokenCache(entries={len(self._entries)})"


class FileTokenCache:
    """JSON files under a 0700 directory, 0600 files, atomic replace, `flock` across processes."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._locks = _KeyLocks()
        self._ready = False

    def _ensure_dir(self) -> None:
        if self._ready:
            return
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.directory, 0o700)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot use token cache directory {str(self.directory)!r}: {exc.strerror}",
                field="NOETL_IB_CACHE_DIR",
                fix="point NOETL_IB_CACHE_DIR at a writable directory, or set "
                "NOETL_IB_TOKEN_CACHE=memory to keep tokens in memory only.",
            ) from None
        self._ready = True

    def _path(self, key: str, suffix: str) -> Path:
        if not key or not all(c.isalnum() or c in "-_" for c in key):
            raise ValueError("cache keys are fingerprints: letters, digits, '-' and '_' only")
        return self.directory / f"{key}{suffix}"

    def load(self, key: str) -> dict[str, Any] | None:
        path = self._path(key, ".json")
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            log.warning("ignoring unreadable token cache entry %s", path.name)
            return None
        return data if isinstance(data, dict) else None

    def store(self, key: str, entry: dict[str, Any]) -> None:
        self._ensure_dir()
        path = self._path(key, ".json")
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entry, fh, separators=(",", ":"))
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(key, ".json"))

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        self._ensure_dir()
        with self._locks.get(key):
            fd = os.open(self._path(key, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                _flock(fd, exclusive=True)
                try:
                    yield
                finally:
                    _flock(fd, exclusive=False)
            finally:
                os.close(fd)

    def __repr__(self) -> str:
        return f"FileTokenCache({str(self.directory)!r})"


def _flock(fd: int, *, exclusive: bool) -> None:
    """Lock or unlock a whole file; a no-op where `fcntl` is missing (threads still serialise)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return
    fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_UN)


def default_cache_dir() -> Path:
    """`NOETL_IB_CACHE_DIR`, else `$XDG_CACHE_HOME/noetl-ib`, else `~/.cache/noetl-ib`."""
    explicit = os.environ.get("NOETL_IB_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "noetl-ib"


_PROCESS_MEMORY_CACHE = MemoryTokenCache()
_FILE_CACHES: dict[Path, FileTokenCache] = {}
_FILE_CACHES_LOCK = threading.Lock()


def default_cache() -> TokenCache:
    """The cache chosen by the environment: shared files unless `NOETL_IB_TOKEN_CACHE=memory`.

    Unset inside a NoETL step that knows its server and catalog id, or `keychain`, layers the
    NoETL keychain API over the files (`keychain_cache.py`); `file` keeps this host's files only.
    """
    mode = os.environ.get("NOETL_IB_TOKEN_CACHE", "").strip().lower()
    if mode == "memory":
        return _PROCESS_MEMORY_CACHE
    if mode not in ("file", "", "keychain"):
        raise ConfigurationError(
            f"unknown token cache mode {mode!r}",
            field="NOETL_IB_TOKEN_CACHE",
            fix="use 'file' (this host only), 'keychain' (shared through NoETL) or 'memory'; "
            "unset, a NoETL step shares through the keychain when it can.",
        )
    directory = default_cache_dir()
    with _FILE_CACHES_LOCK:
        cache = _FILE_CACHES.get(directory)
        if cache is None:
            cache = _FILE_CACHES[directory] = FileTokenCache(directory)
    if mode != "file":
        from .keychain_cache import shared_cache_over

        layered = shared_cache_over(cache, required=mode == "keychain")
        if layered is not None:
            return layered
    return cache
