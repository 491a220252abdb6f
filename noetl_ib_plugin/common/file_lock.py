"""The one cross-process lock: a `flock`ed file in the token cache directory whose wait times out,
for state every process of one credential shares (token cache entries, the pacer's history, the
brokerage bootstrap). The lock file must be a regular file this user owns, opened without
following a symlink; `flock` does not exclude threads of one process, so a per-path thread lock
is taken first. A leaf: it imports only the errors."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import ConfigurationError, TransientError

__all__ = ["DEFAULT_LOCK_TIMEOUT", "KeyLocks", "file_lock", "lock_timeout_error", "open_private"]

#: Seconds a process waits for another one's lock before giving up with a TransientError.
DEFAULT_LOCK_TIMEOUT = 60.0

class KeyLocks:
    """Per-key thread locks, created on demand (kept forever: forgetting a held one would let a
    second thread in)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.RLock] = {}

    def get(self, key: str) -> threading.RLock:
        """The lock of `key`."""
        with self._guard:
            lock = self._locks.get(key)
            if lock is None:
                lock = self._locks[key] = threading.RLock()
            return lock


#: One thread lock per lock file path, for the whole process.
_THREAD_LOCKS = KeyLocks()


def lock_timeout_error(path: Path | str, timeout: float) -> TransientError:
    """The one error of a lock wait that ran out: which lock, and what to do."""
    name = Path(path).name
    return TransientError(
        f"the lock {name} was held by another process or thread for more than {timeout:g} s",
        field="NOETL_IB_CACHE_DIR",
        fix=f"retry; if it persists, find the stuck process with `fuser {path}` and stop it (if "
        f"none is running, delete {path}), or set NOETL_IB_TOKEN_CACHE=memory.",
    )


_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _unusable(path: Path, what: str) -> ConfigurationError:
    """A lock file this user cannot trust: another user could steer or block us through it."""
    return ConfigurationError(
        f"cannot use lock file {path.name} in {str(path.parent)!r}: {what}",
        field="NOETL_IB_CACHE_DIR",
        fix=f"remove {str(path)!r} if you did not create it, or point NOETL_IB_CACHE_DIR at a "
        "directory only you own (mode 700), or set NOETL_IB_TOKEN_CACHE=memory.",
    )


def open_private(path: Path, flags: int) -> int:
    """Open a file of the cache directory without following a symlink; it must be a regular file
    this user owns (checked with fstat on the open descriptor). Raises ConfigurationError."""
    try:
        fd = os.open(path, flags | _NO_FOLLOW, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno != errno.ENOENT and path.is_symlink()):
            raise _unusable(path, "it is a symbolic link") from None
        if exc.errno == errno.ENOENT:
            raise
        raise _unusable(path, exc.strerror or type(exc).__name__) from None
    st = os.fstat(fd)
    euid = os.geteuid() if hasattr(os, "geteuid") else None
    what = ("it is not a regular file" if not stat.S_ISREG(st.st_mode)
            else f"it is owned by uid {st.st_uid}, not by this user (uid {euid})"
            if euid is not None and st.st_uid != euid else None)
    if what is not None:
        os.close(fd)
        raise _unusable(path, what)
    return fd


@contextlib.contextmanager
def file_lock(
    path: Path,
    *,
    timeout: float = DEFAULT_LOCK_TIMEOUT,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    poll: float = 0.005,
) -> Iterator[None]:
    """Hold `path` exclusively (threads and processes); raise TransientError (`lock_timeout_error`)
    after `timeout` s.

    A lock path that is a symlink, not a regular file, or owned by another user is a
    ConfigurationError (field NOETL_IB_CACHE_DIR).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: threads of this process still serialise
        fcntl = None  # type: ignore[assignment]
    deadline = clock() + timeout
    local = _THREAD_LOCKS.get(str(path))
    if not local.acquire(timeout=max(timeout, 0.0)):
        raise lock_timeout_error(path, timeout)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = open_private(path, os.O_RDWR | os.O_CREAT)
        try:
            if fcntl is not None:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if clock() >= deadline:
                            raise lock_timeout_error(path, timeout) from None
                        sleep(poll)
                        poll = min(poll * 2, 0.05)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    finally:
        local.release()
