"""The locks token caches take: per-key thread locks, `flock` across processes, and the typed
error of a wait that ran out (every lock wait has a timeout)."""

from __future__ import annotations

import threading

from ..errors import TransientError

__all__ = ["KeyLocks", "lock_timeout_error", "try_flock", "unflock"]


class KeyLocks:
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


def lock_timeout_error(where: str, key: str, seconds: float) -> TransientError:
    """The error of a lock wait that ran out: who to blame and what to do."""
    return TransientError(
        f"the token cache lock {key}.lock was held by another process or thread for more "
        f"than {seconds:g} s",
        field="NOETL_IB_CACHE_DIR",
        fix=f"retry; if it persists, find the stuck process with `fuser {where}/{key}.lock` and "
        "stop it, or set NOETL_IB_TOKEN_CACHE=memory.",
    )


def try_flock(fd: int) -> bool:
    """Take an exclusive `flock` without blocking; True when taken (always, without fcntl)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: threads still serialise
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def unflock(fd: int) -> None:
    """Release the `flock` taken by `try_flock`."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return
    fcntl.flock(fd, fcntl.LOCK_UN)
