"""Messages between `noetl-ib` and the warm server: a 4-byte length, then one JSON object.

The first message of a job also carries the client's stdin/stdout/stderr descriptors
(SCM_RIGHTS, `socket.send_fds`). Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import time
from typing import Any

__all__ = ["MAX_MESSAGE", "WireError", "close_all", "peer_uid", "recv_message", "send_message"]

#: argv may hold --args-json (at most 1,000,000 characters) plus an environment: far below this.
MAX_MESSAGE = 8 * 1024 * 1024
_HEADER = struct.Struct("!I")


class WireError(OSError):
    """The peer closed, sent garbage, or did not answer in time."""


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end (SO_PEERCRED, set by the kernel at connect time)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)


def send_message(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    """Send one message; `fds` ride with its first bytes."""
    body = json.dumps(message, separators=(",", ":")).encode("utf-8", "surrogateescape")
    data = _HEADER.pack(len(body)) + body
    if fds:
        sent = socket.send_fds(sock, [data], fds)
        data = data[sent:]
    if data:
        sock.sendall(data)


def _before(sock: socket.socket, deadline: float | None) -> None:
    """Bound the next read by what is left of `deadline` (monotonic): the bound is per message,
    not per read, so a peer dripping one byte at a time cannot hold us past it."""
    if deadline is None:
        return
    left = deadline - time.monotonic()
    if left <= 0:
        raise WireError(0, "the peer did not finish its message in time")
    sock.settimeout(left)


def _recv_exact(sock: socket.socket, size: int, first: bytes, deadline: float | None) -> bytes:
    chunks = [first]
    have = len(first)
    while have < size:
        _before(sock, deadline)
        chunk = sock.recv(min(size - have, 1 << 20))
        if not chunk:
            raise WireError(0, "connection closed mid-message")
        chunks.append(chunk)
        have += len(chunk)
    return b"".join(chunks)


def recv_message(sock: socket.socket, *, max_fds: int = 0,
                 deadline: float | None = None) -> tuple[dict[str, Any], list[int]]:
    """One message and the descriptors that came with it (EOF before a message: WireError).

    With `deadline` (time.monotonic()), the whole message must arrive before it.
    """
    fds: list[int] = []
    _before(sock, deadline)
    if max_fds:
        first, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, max_fds)
    else:
        first = sock.recv(1 << 16)
    try:
        if not first:
            raise WireError(0, "connection closed")
        head = _recv_exact(sock, _HEADER.size, first, deadline)
        (size,) = _HEADER.unpack(head[: _HEADER.size])
        if size > MAX_MESSAGE:
            raise WireError(0, f"message of {size} bytes is too large")
        data = _recv_exact(sock, _HEADER.size + size, head, deadline)
        if len(data) != _HEADER.size + size:
            raise WireError(0, "trailing bytes after a message")
        message = json.loads(data[_HEADER.size :].decode("utf-8", "surrogateescape"))
        if not isinstance(message, dict):
            raise WireError(0, "message is not a JSON object")
    except BaseException:
        close_all(fds)
        raise
    return message, fds


def close_all(fds: list[int]) -> None:
    """Close received descriptors nobody will use."""
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
