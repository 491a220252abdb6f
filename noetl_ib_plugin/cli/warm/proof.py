"""Each end proves to the other that it may ptrace it, before anything but an fd number is sent.

/proc shows most of what a process may do (`identity`), not everything: a Landlock domain is
invisible there, yet the kernel keeps a sandboxed process from ptracing one outside its domain.
So each end puts a fresh nonce in a pipe and names the pipe's fd; the other end takes that fd
out of it with pidfd_getfd(2), which the kernel allows only to a process that may ptrace it
(PTRACE_MODE_ATTACH_REALCREDS: same uid, capabilities at least the target's, the same or an
outer Landlock domain, Yama permitting) and echoes the nonce. A peer that cannot is weaker, or
sandboxed apart, and gets nothing. Standard library only.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import socket
import stat
from typing import Any

from .wire import recv_message, send_message

__all__ = ["NONCE_BYTES", "exchange", "offer", "proven", "take", "valid_fd"]

#: pidfd_getfd(2): one number on every Linux architecture (the unified syscall table, 5.6+).
_SYS_PIDFD_GETFD = 438
NONCE_BYTES = 16


def offer() -> tuple[int, str]:
    """(read end of a pipe holding a fresh nonce, the nonce): the peer must take it to prove itself."""
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    nonce = os.urandom(NONCE_BYTES).hex()
    try:
        os.write(write_fd, nonce.encode("ascii"))
    finally:
        os.close(write_fd)
    return read_fd, nonce


def valid_fd(value: object) -> bool:
    """An fd number as a message may carry one."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 30


def take(pidfd: int, fd: object) -> str | None:
    """The nonce in the peer's pipe `fd` (pidfd_getfd(2) on the peer's pidfd), or None when the
    kernel refuses (we may not ptrace the peer) or `fd` is not a pipe holding one."""
    if not valid_fd(fd):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        got = int(libc.syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0))
    except (OSError, AttributeError):
        return None
    if got < 0:
        return None
    try:
        if not stat.S_ISFIFO(os.fstat(got).st_mode):
            return None
        os.set_blocking(got, False)  # never wait on what the peer named
        data = os.read(got, 2 * NONCE_BYTES + 1)
    except OSError:
        return None
    finally:
        with contextlib.suppress(OSError):
            os.close(got)
    if len(data) != 2 * NONCE_BYTES or not data.isascii():
        return None
    return data.decode("ascii")


def exchange(sock: socket.socket, pidfd: int, deadline: float) -> str | None:
    """Client side, before the job: the server echoes our nonce (it may ptrace us), then we take
    its nonce (we may ptrace it) for the next message's `proof`; None if either fails."""
    fd, nonce = offer()
    try:
        send_message(sock, {"t": "hello", "fd": fd})
        answer, _ = recv_message(sock, deadline=deadline)
    finally:
        os.close(fd)
    echoed = str(answer.get("nonce", "")).encode("utf-8", "surrogateescape")
    if answer.get("t") != "proven" or not hmac.compare_digest(echoed, nonce.encode("ascii")):
        return None
    return take(pidfd, answer.get("fd"))


def proven(message: dict[str, Any], expected: str | None) -> bool:
    """Server side: the message carries the nonce we offered (the client may ptrace us)."""
    got = str(message.get("proof", "")).encode("utf-8", "surrogateescape")
    return expected is not None and hmac.compare_digest(got, expected.encode("ascii"))
