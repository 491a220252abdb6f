"""What a forked child does to stand in for the fresh `noetl-ib` process its client would be.

The job message's checks (`job_shape_ok`, `limits_fit`) run in the server before it forks;
`become_client` runs in the child: the client's cwd, environment, umask, every resource limit,
timer slack, personality, TZ, argv and std streams, and logging and warnings as a fresh
interpreter has them. The umask and limits come from the kernel (/proc/<client pid>), never from
the message; timer slack and personality (no privilege: any process may set its own) from it.
"""

from __future__ import annotations

import io
import os
import resource
import sys
import time
import warnings
from typing import Any

from .identity import RLIMIT_NAMES, rlimit_number

__all__ = ["CwdUnusable", "become_client", "job_shape_ok", "limits_fit"]

_PR_SET_TIMERSLACK = 29


class CwdUnusable(OSError):
    """The child cannot enter its client's working directory (it changed since the client checked)."""


def _rlim(value: int) -> int:
    return resource.RLIM_INFINITY if value < 0 else value


def _process_attributes(message: dict[str, Any]) -> None:
    """Timer slack and personality of the client (prctl(2), personality(2)), when it sent them."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    slack = message.get("timerslack")
    if isinstance(slack, int) and slack > 0:
        libc.prctl(_PR_SET_TIMERSLACK, ctypes.c_ulong(slack), 0, 0, 0)
    persona = message.get("personality")
    if isinstance(persona, int) and 0 <= persona < 0xFFFFFFFF:
        libc.personality(ctypes.c_ulong(persona))


def become_client(message: dict[str, Any], stdio_encoding: str, fresh_filters: list[Any]) -> None:
    """The client's cwd, environment, umask, limits, process attributes, argv, streams, logging
    and warnings. Raises CwdUnusable when the working directory cannot be entered."""
    import logging

    env: dict[str, str] = message["env"]
    try:
        os.chdir(message["cwd"])
    except OSError as exc:
        raise CwdUnusable(exc.errno, exc.strerror) from None
    os.environ.clear()
    os.environ.update(env)
    os.umask(int(message["umask"]))
    for name, (soft, hard) in message["rlimits"].items():
        resource.setrlimit(rlimit_number(name), (_rlim(soft), _rlim(hard)))
    _process_attributes(message)
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
            and all(isinstance(message.get(k, 0), int) and not isinstance(message.get(k), bool)
                    for k in ("timerslack", "personality")))


def _limit(value: int) -> float:
    return float("inf") if value == resource.RLIM_INFINITY or value < 0 else float(value)


def limits_fit(limits: dict[str, Any]) -> bool:
    """A child can take the client's limits only if none is above the server's hard limit
    (`limits` as `identity.process_limits` reads them: every RLIMIT_*, -1 for unlimited)."""
    if set(limits) != set(RLIMIT_NAMES.values()):
        return False
    for name, pair in limits.items():
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, int) for v in pair)):
            return False
        _, hard = resource.getrlimit(rlimit_number(name))
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

