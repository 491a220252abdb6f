"""The server process `noetl-ib warm start` launches: fork once more, import, say ready, serve."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

__all__ = ["boot"]


def boot(args: dict[str, Any]) -> None:
    """Entry of ``python -c`` from `command._launch`; never returns (the first process exits at once)."""
    ready_w = int(args["ready"])
    if os.fork():  # the launcher exits; the server is re-parented and never a session leader
        os._exit(0)
    try:
        listener = socket.socket(fileno=int(args["listener"]))
        path = Path(args["path"])
        os.umask(0o077)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC
        log_fd = os.open(f"{path}.log", flags, 0o600)
        from .server import Server, preload

        try:
            preload()
            server = Server(listener, path, idle=float(args["idle"]), code=str(args["code"]),
                            log_fd=log_fd)
        except BaseException as exc:
            os.write(ready_w, f"failed: {type(exc).__name__}\n".encode())
            raise
        listener.listen(64)  # here, so the kernel names this process to every client
        os.write(ready_w, f"ready {os.getpid()}\n".encode())
        os.close(ready_w)
        server.serve()
    except BaseException:
        os._exit(1)
    os._exit(0)
