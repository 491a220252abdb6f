"""An exclusive lock across processes (a `flock`ed file in the token cache directory) whose wait
times out, for state every process of one credential shares: the pacer and the bootstrap."""

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

__all__ = ["DEFAULT_LOCK_TIMEOUT", "file_lock", "open_private"]

#: Seconds a process waits for another one's lock before giving up with a TransientError.
DEFAULT_LOCK_TIMEOUT = 60.0

_THREAD_LOCKS: dict[str, threading.Lock] = {}
_GUARD = threading.Lock()


def _thread_lock(path: Path) -> threading.Lock:
    """One threading lock per lock file: flock does not exclude threads of one process."""
    with _GUARD:
        lock = _THREAD_LOCKS.get(str(path))
        if lock is None:
            lock = _THREAD_LOCKS[str(path)] = threading.Lock()
        return lock


def _timed_out(path: Path, timeout: float) -> TransientError:
    """The error for a lock wait that ran out."""
    return TransientError(
        f"waited {timeout:.0f} s for the lock {path.name} held by another process of this "
        "credential",
        fix=f"retry; if no other noetl-ib process is running, delete {path} and retry.",
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
    """Hold `path` exclusively (threads and processes); raise TransientError after `timeout` s.

    A lock path that is a symlink, not a regular file, or owned by another user is a
    ConfigurationError (field NOETL_IB_CACHE_DIR).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: threads of this process still serialise
        fcntl = None  # type: ignore[assignment]
    deadline = clock() + timeout
    local = _thread_lock(path)
    if not local.acquire(timeout=max(timeout, 0.0)):
        raise _timed_out(path, timeout)
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
                            raise _timed_out(path, timeout) from None
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
