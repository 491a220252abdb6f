"""What a forked child does to stand in for the fresh `noetl-ib` process its client would be.

The job message's checks (`job_shape_ok`, `limits_fit`) run in the server before it forks;
`become_client` runs in the child: the client's cwd, environment, umask, resource limits, TZ,
argv and std streams, and logging and warnings as a fresh interpreter has them.
"""

from __future__ import annotations

import io
import os
import resource
import sys
import time
import warnings
from typing import Any

from .paths import RLIMITS

__all__ = ["become_client", "job_shape_ok", "limits_fit"]


def become_client(message: dict[str, Any], stdio_encoding: str, fresh_filters: list[Any]) -> None:
    """The client's cwd, environment, umask, argv, streams, logging and warnings."""
    import logging

    env: dict[str, str] = message["env"]
    os.chdir(message["cwd"])
    os.environ.clear()
    os.environ.update(env)
    os.umask(int(message["umask"]))
    for name, (soft, hard) in message["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (soft, hard))
    time.tzset()  # TZ of the client, as a fresh process reads it
    sys.argv = [str(message["argv0"]), *message["argv"]]
    sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
    encoding, _, errors = (env.get("PYTHONIOENCODING") or "").partition(":")
    unbuffered = bool(env.get("PYTHONUNBUFFERED"))
    enc = encoding or stdio_encoding
    sys.stdin = _stream(0, False, enc, errors or "strict", False)
    sys.stdout = _stream(1, True, enc, errors or "strict", unbuffered)
    sys.stderr = _stream(2, True, enc, "backslashreplace", True)
    for name in ("stdin", "stdout", "stderr"):  # what a fresh interpreter also has
        setattr(sys, f"__{name}__", getattr(sys, name))
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    logging.captureWarnings(False)
    logging.disable(logging.NOTSET)
    warnings.filters[:] = fresh_filters  # type: ignore[index]
    warnings._filters_mutated()  # type: ignore[attr-defined]


def job_shape_ok(message: dict[str, Any]) -> bool:
    argv, env = message.get("argv"), message.get("env")
    return (isinstance(argv, list) and all(isinstance(a, str) for a in argv)
            and isinstance(env, dict) and all(isinstance(k, str) and isinstance(v, str)
                                              for k, v in env.items())
            and isinstance(message.get("cwd"), str) and isinstance(message.get("argv0"), str)
            and isinstance(message.get("umask"), int) and isinstance(message.get("rlimits"), dict))


def _limit(value: int) -> float:
    return float("inf") if value == resource.RLIM_INFINITY or value < 0 else float(value)


def limits_fit(limits: dict[str, Any]) -> bool:
    """A child can take the client's limits only if none is above the server's hard limit."""
    for name, pair in limits.items():
        if name not in RLIMITS or not hasattr(resource, name):
            return False
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, int) for v in pair)):
            return False
        _, hard = resource.getrlimit(getattr(resource, name))
        if _limit(pair[1]) > _limit(hard) or _limit(pair[0]) > _limit(pair[1]):
            return False
    return True


def _stream(fd: int, write: bool, encoding: str, errors: str, line_buffering: bool) -> io.TextIOWrapper:
    """A std stream as the interpreter builds one at start-up (closefd=False, tty: line-buffered)."""
    raw = io.FileIO(fd, "wb" if write else "rb", closefd=False)
    tty = raw.isatty()
    buffered: io.BufferedWriter | io.BufferedReader = (
        io.BufferedWriter(raw) if write else io.BufferedReader(raw))
    return io.TextIOWrapper(buffered, encoding=encoding, errors=errors,
                            line_buffering=line_buffering or (write and tty))

