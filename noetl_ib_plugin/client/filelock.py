"""An exclusive lock across processes (a `flock`ed file in the token cache directory) whose wait
times out, for state every process of one credential shares: the pacer and the bootstrap."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import TransientError

__all__ = ["DEFAULT_LOCK_TIMEOUT", "file_lock"]

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


@contextlib.contextmanager
def file_lock(
    path: Path,
    *,
    timeout: float = DEFAULT_LOCK_TIMEOUT,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    poll: float = 0.005,
) -> Iterator[None]:
    """Hold `path` exclusively (threads and processes); raise TransientError after `timeout` s."""
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
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
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
