"""The console script's first try: hand the invocation to a warm server, or say it was not taken.

Standard library only (the console script has not decided yet whether it needs requests and
pydantic). The rule that keeps a step from running twice: `run_through_server` returns None
(run in process) only while the server has not accepted the job; once it answered ``ok`` the
result is the child's exit code, or EXIT_OUTCOME_UNKNOWN when the server is lost.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from collections.abc import Mapping

from .identity import process_identity
from .paths import RLIMITS, code_key, job_key, socket_path, untrusted_reason
from .wire import WireError, peer_uid, recv_message, send_message

__all__ = ["CONNECT_TIMEOUT", "HANDSHAKE_TIMEOUT", "run_through_server", "warm_disabled"]

#: Seconds to connect, and to hear ``ok`` or ``refuse``; past them the step runs in process.
CONNECT_TIMEOUT = 2.0
HANDSHAKE_TIMEOUT = 5.0
#: Same value as cli/_io.EXIT_OUTCOME_UNKNOWN (importing it would import the CLI's I/O stack).
EXIT_OUTCOME_UNKNOWN = 6
_OFF = {"0", "off", "no", "false"}


def warm_disabled(env: Mapping[str, str]) -> bool:
    """`NOETL_IB_WARM=off` (or 0/no/false) makes every invocation run in process."""
    return env.get("NOETL_IB_WARM", "").strip().lower() in _OFF


def _verbose(args: list[str]) -> bool:
    return any(a == "--verbose" or (a.startswith("-v") and set(a[1:]) == {"v"}) for a in args)


def _note(verbose: bool, text: str) -> None:
    """Why the warm server was not used: on stderr only with -v (stderr is part of the contract)."""
    if verbose:
        sys.stderr.write(f"noetl-ib: warm server not used: {text}\n")
        sys.stderr.flush()


def _option(args: list[str], name: str) -> str | None:
    """The value of `name VALUE` or `name=VALUE` in argv, as typed."""
    for index, word in enumerate(args):
        if word == name and index + 1 < len(args):
            return args[index + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    return None


def _lookup_command(args: list[str]) -> str:
    """`noetl-ib run get_open_orders` with the step's credential options, ready to copy."""
    import shlex

    words = ["noetl-ib", "run", "get_open_orders", "--credential",
             shlex.quote(_option(args, "--credential") or "NAME")]
    credentials_file = _option(args, "--credentials-file")
    if credentials_file is not None:
        words += ["--credentials-file", shlex.quote(credentials_file)]
    return " ".join(words)


def _command(args: list[str]) -> str | None:
    """`run ACTION` or the command word, as the in-process error log names it."""
    words = [w for w in args if not w.startswith("-")]
    if not words:
        return None
    after = args[args.index(words[0]) + 1 :]
    if words[0] == "run" and after and not after[0].startswith("-"):
        return f"run {after[0]}"
    return words[0]


def _lost(text: str, args: list[str]) -> int:
    """The job was accepted and its end is unknown: one JSON error line, exit 6, never a re-run.

    Same shape as every other failure (`{"error": {...}}` on stderr, appended to
    NOETL_IB_ERROR_LOG when set), since NoETL drops a failing step's stderr.
    """
    import json
    import time

    body = {
        "type": "WarmServerLost",
        "message": f"the warm step server accepted this step, then {text}; its outcome is unknown "
        f"and it was not re-run Fix: for place_order, run `{_lookup_command(args)}` and look "
        "the order up by its client_order_id before sending it again (with the same "
        "client_order_id, never a new one).",
        "category": "unknown",
    }
    sys.stderr.write(json.dumps({"error": body}, separators=(",", ":")) + "\n")
    sys.stderr.flush()
    log = os.environ.get("NOETL_IB_ERROR_LOG")
    if log:
        command = _command(args)
        entry = {"ts": round(time.time(), 3), "command": command, "exit_code": EXIT_OUTCOME_UNKNOWN,
                 "error": body}
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NONBLOCK, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry, separators=(",", ":")) + "\n")
        except OSError:
            pass  # the stderr line above stands
    return EXIT_OUTCOME_UNKNOWN


def _connect(path: str, verbose: bool) -> socket.socket | None:
    """A connection to a server run by this user, or None."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        sock.connect(path)
        uid = peer_uid(sock)
    except OSError as exc:
        sock.close()
        _note(verbose, f"cannot connect ({exc.strerror or type(exc).__name__})")
        return None
    if uid != os.geteuid():
        sock.close()
        _note(verbose, f"the socket is served by uid {uid}, not by this user (uid {os.geteuid()})")
        return None
    return sock


def _stdio_open() -> bool:
    """A child can stand in for this process only if fds 0, 1 and 2 are open."""
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)
    except OSError:
        return False
    return True


def _rlimits() -> dict[str, list[int]]:
    """This process's resource limits, for the child to take over."""
    import resource

    return {name: list(resource.getrlimit(getattr(resource, name)))
            for name in RLIMITS if hasattr(resource, name)}


def run_through_server(args: list[str]) -> int | None:
    """The exit code of `args` run by the warm server, or None when it did not take the job.

    Before anything is sent: the socket's directory and the socket must be this user's (0700)
    and the peer's SO_PEERCRED uid this process's euid (the environment may hold secrets).
    """
    env = os.environ
    if warm_disabled(env) or not hasattr(socket, "send_fds") or not hasattr(os, "geteuid"):
        return None
    verbose = _verbose(args)
    path = socket_path(env)
    try:
        os.lstat(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            _note(verbose, f"cannot stat the socket ({exc.strerror})")
        return None  # no server: the usual case
    reason = untrusted_reason(path.parent, path)
    if reason is not None:
        _note(verbose, reason)
        return None
    if not _stdio_open():
        return None
    try:
        cwd = os.getcwd()
    except OSError:
        return None
    sock = _connect(str(path), verbose)
    if sock is None:
        return None
    with sock:
        umask = os.umask(0o022)
        os.umask(umask)
        hello = {"t": "job", "code": code_key(), "job": job_key(env), "who": process_identity(), "argv": args,
                 "argv0": sys.argv[0] if sys.argv else "noetl-ib", "cwd": cwd,
                 "env": dict(env), "umask": umask, "rlimits": _rlimits()}
        try:
            sock.settimeout(HANDSHAKE_TIMEOUT)
            send_message(sock, hello, [0, 1, 2])
            answer, _ = recv_message(sock)
        except (OSError, ValueError) as exc:
            _note(verbose, f"no answer ({exc.strerror if isinstance(exc, OSError) else exc})")
            return None
        if answer.get("t") != "ok":
            _note(verbose, f"refused: {str(answer.get('reason', 'no reason'))[:200]}")
            return None
        # Accepted: from here on this step is never run in process.
        return _wait_for_exit(sock, args)


def _wait_for_exit(sock: socket.socket, args: list[str]) -> int:
    """Say go, then wait for the child's exit; a lost server is an unknown outcome."""
    try:
        send_message(sock, {"t": "go"})
        sock.settimeout(None)  # the step's own deadlines bound the child; a dead server is EOF
        done, _ = recv_message(sock)
    except KeyboardInterrupt:
        sys.stderr.write('{"error":{"type":"Interrupted","message":"interrupted"}}\n')
        return 130  # closing the socket makes the server kill the child
    except (OSError, ValueError) as exc:
        what = "the connection was lost" if isinstance(exc, WireError) else (
            f"the connection failed ({exc.strerror if isinstance(exc, OSError) else exc})")
        return _lost(what, args)
    code = done.get("code")
    if done.get("t") == "exit" and isinstance(code, int) and not isinstance(code, bool):
        return code
    signal_number = done.get("signal")
    if isinstance(signal_number, int):
        return _lost(f"its process was killed by signal {signal_number}", args)
    return _lost("it answered something unexpected", args)
