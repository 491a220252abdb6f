"""Token caches: one in memory per process and one on disk shared by every process of a user.

What an entry must look like is in `cache_entry.py`; the lock files they take are `file_lock.py`'s.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from ..common.ancestors import unsafe_ancestor
from ..common.file_lock import KeyLocks, file_lock, lock_timeout_error
from ..errors import ConfigurationError
from .cache_entry import MAX_ENTRY_BYTES, valid_entry

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "FileTokenCache",
    "MemoryTokenCache",
    "TokenCache",
    "valid_entry",
]

log = logging.getLogger(__name__)

#: Longest wait for another process's token fetch (its HTTP calls have their own deadlines).
DEFAULT_LOCK_TIMEOUT = 120.0
LOCK_POLL_SECONDS = 0.05
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
#: The user the cache must belong to (None where the OS has no uids).
_EUID: int | None = os.geteuid() if hasattr(os, "geteuid") else None


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


class MemoryTokenCache:
    """Process-local cache: providers for the same credential in one process share tokens."""

    def __init__(self, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self._entries: dict[str, dict[str, Any]] = {}
        self._locks = KeyLocks()
        self.lock_timeout = lock_timeout

    def load(self, key: str) -> dict[str, Any] | None:
        entry = self._entries.get(key)
        return dict(entry) if entry is not None else None

    def store(self, key: str, entry: dict[str, Any]) -> None:
        self._entries[key] = dict(entry)

    def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        lock = self._locks.get(key)
        if not lock.acquire(timeout=max(0.0, self.lock_timeout)):
            raise lock_timeout_error(f"<memory>/{key}.lock", self.lock_timeout)
        try:
            yield
        finally:
            lock.release()

    def __repr__(self) -> str:
        return f"MemoryTokenCache(entries={len(self._entries)})"


class FileTokenCache:
    """JSON files under a 0700 directory you own, 0600 files, atomic replace, `flock` across processes.

    Refused with a ConfigurationError (which suggests `NOETL_IB_TOKEN_CACHE=memory`): a directory
    or file that is a symlink, not owned by this user, or not a directory/regular file; a lock
    file that cannot be opened. A directory open to others is made private (it is ours). An entry
    that cannot be read or fails `valid_entry` is a miss, and the next fetch replaces it. Lock
    waits end after `lock_timeout` seconds with a TransientError.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = Path(directory)
        self.lock_timeout = lock_timeout
        self._sleep = sleep
        self._monotonic = monotonic
        self._ready = False

    def _unusable(self, what: str) -> ConfigurationError:
        return ConfigurationError(
            f"cannot use token cache directory {str(self.directory)!r}: {what}",
            field="NOETL_IB_CACHE_DIR",
            fix="point NOETL_IB_CACHE_DIR at a directory only you own and can write (mode 700), "
            "or set NOETL_IB_TOKEN_CACHE=memory to keep tokens in memory only.",
        )

    def _ensure_dir(self) -> None:
        if self._ready:
            return
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = os.lstat(self.directory)
        except OSError as exc:
            raise self._unusable(exc.strerror or type(exc).__name__) from None
        if stat.S_ISLNK(st.st_mode):
            raise self._unusable("it is a symbolic link; give the real directory")
        if not stat.S_ISDIR(st.st_mode):
            raise self._unusable("it is not a directory")
        if _EUID is not None and st.st_uid != _EUID:
            raise self._unusable(
                f"it is owned by uid {st.st_uid}, not by this user (uid {_EUID}); another user "
                "could plant tokens there"
            )
        self._check_ancestors()
        if stat.S_IMODE(st.st_mode) & 0o077:
            try:
                os.chmod(self.directory, 0o700)
            except OSError as exc:
                raise self._unusable(f"cannot make it private, mode 700 ({exc.strerror})") from None
        self._ready = True

    def _check_ancestors(self) -> None:
        """Every directory above the cache must be one only this user or root can change entries
        in (a sticky /tmp is fine): else its owner could swap the cache directory for a symlink
        after this check and have tokens and lock files written wherever it points."""
        unsafe = unsafe_ancestor(self.directory)
        if unsafe is not None:
            parent, problem = unsafe
            raise self._unusable(f"its parent {str(parent)!r} is {problem}, who could replace "
                                 "the cache directory")

    def _path(self, key: str, suffix: str) -> Path:
        if not key or len(key) > 128 or not all(c.isascii() and (c.isalnum() or c in "-_") for c in key):
            raise ValueError("cache keys are fingerprints: letters, digits, '-' and '_' only")
        return self.directory / f"{key}{suffix}"

    def _check_file(self, fd: int, path: Path) -> None:
        """An open cache file must be a regular file this user owns (fstat: no race with the name)."""
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise self._unusable(f"{path.name} is not a regular file")
        if _EUID is not None and st.st_uid != _EUID:
            raise self._unusable(
                f"{path.name} is owned by uid {st.st_uid}, not by this user (uid {_EUID})"
            )

    def _open(self, path: Path, flags: int) -> int:
        """os.open that never follows a symlink: a symlink is a ConfigurationError."""
        try:
            return os.open(path, flags | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP or (exc.errno != errno.ENOENT and path.is_symlink()):
                raise self._unusable(f"{path.name} is a symbolic link") from None
            raise

    def load(self, key: str) -> dict[str, Any] | None:
        self._ensure_dir()
        path = self._path(key, ".json")
        try:
            fd = self._open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("ignoring unreadable token cache entry %s (%s)", path.name, exc.strerror)
            return None
        try:
            self._check_file(fd, path)
            raw = _read_at_most(fd, MAX_ENTRY_BYTES + 1)
        except OSError as exc:
            log.warning("ignoring unreadable token cache entry %s (%s)", path.name, exc.strerror)
            return None
        finally:
            os.close(fd)
        if len(raw) > MAX_ENTRY_BYTES:
            log.warning("ignoring oversized token cache entry %s", path.name)
            return None
        try:
            data = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):
            log.warning("ignoring unreadable token cache entry %s", path.name)
            return None
        if not valid_entry(data):
            log.warning("ignoring malformed token cache entry %s", path.name)
            return None
        return dict(data)

    def store(self, key: str, entry: dict[str, Any]) -> None:
        self._ensure_dir()
        path = self._path(key, ".json")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.directory)
        except OSError as exc:
            raise self._unusable(f"cannot write an entry ({exc.strerror})") from None
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entry, fh, separators=(",", ":"))
            os.replace(tmp, path)  # rename replaces a planted symlink itself, never its target
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(exc, OSError):
                raise self._unusable(f"cannot write an entry ({exc.strerror})") from None
            raise

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(key, ".json"))

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Exclusive per-key lock (`file_lock` on `<key>.lock`: a thread lock, then `flock`);
        bounded wait."""
        self._ensure_dir()
        with file_lock(self._path(key, ".lock"), timeout=self.lock_timeout,
                       clock=self._monotonic, sleep=self._sleep, poll=LOCK_POLL_SECONDS):
            yield

    def __repr__(self) -> str:
        return f"FileTokenCache({str(self.directory)!r})"


def _read_at_most(fd: int, limit: int) -> bytes:
    """Read up to `limit` bytes: a planted huge file costs no more memory than that."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, min(65536, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
