"""The console script's first try: hand the invocation to a warm server, or say it was not taken.

Standard library only (the console script has not decided yet whether it needs requests and
pydantic). The rule that keeps a step from running twice: `run_through_server` returns None
(run in process) only while the server has not accepted the job; once it answered ``ok`` the
result is the child's exit code, or EXIT_OUTCOME_UNKNOWN (naming the order's client_order_id,
fixed before the hand-over by `coid.order_key`) when the server is lost.

Nothing is sent -- not the environment (it may hold secrets), not the stdio descriptors -- before
the kernel has said who serves the socket (SO_PEERCRED, pinned by a pidfd) and /proc has shown
that process to hold exactly this process's privileges (`identity.process_identity`): a
same-user process with fewer privileges that binds its own socket gets nothing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import sys
import time
from collections.abc import Mapping

from ...common.errorlog import append_error_log
from .coid import order_key
from .identity import Peer, peer_of, process_identity, securebits
from .paths import cache_dir_problem, code_key, job_key, socket_path, untrusted_reason
from .proof import exchange
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


def _lost(text: str, args: list[str], coid: str | None) -> int:
    """The job was accepted and its end is unknown: one JSON error line, exit 6, never a re-run.

    Same shape as every other failure (`{"error": {...}}` on stderr, appended to
    NOETL_IB_ERROR_LOG when set), since NoETL drops a failing step's stderr. For place_order it
    names the order's client_order_id (the one handed over), as every exit 6 does.
    """
    import json

    lookup = f"run `{_lookup_command(args)}` and look the order up by"
    if coid is not None:
        fix = (f"{lookup} client_order_id {coid} before sending it again (with that same "
               "client_order_id, never a new one).")
    else:
        fix = (f"for place_order, {lookup} its client_order_id before sending it again (with the "
               "same client_order_id, never a new one).")
    body: dict[str, object] = {
        "type": "WarmServerLost",
        "message": f"the warm step server accepted this step, then {text}; its outcome is unknown "
        f"and it was not re-run Fix: {fix}",
        "category": "unknown",
    }
    if coid is not None:
        body["client_order_id"] = coid
    sys.stderr.write(json.dumps({"error": body}, separators=(",", ":")) + "\n")
    sys.stderr.flush()
    log = os.environ.get("NOETL_IB_ERROR_LOG")
    if log:
        entry = {"ts": round(time.time(), 3), "command": _command(args),
                 "exit_code": EXIT_OUTCOME_UNKNOWN, "error": body}
        with contextlib.suppress(OSError):  # the stderr line above stands
            append_error_log(log, entry)
    return EXIT_OUTCOME_UNKNOWN


def _connect(path: str, verbose: bool) -> tuple[socket.socket, Peer] | None:
    """A connection to a server that holds exactly this process's privileges, or None.

    The kernel names the server (SO_PEERCRED: the process that called listen(), pinned by a
    pidfd); its uid, groups, capabilities, no_new_privs, seccomp, namespaces, ... as /proc shows
    them must equal ours. Else a weaker process of this user that bound its own socket would
    receive our environment and stdio.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        sock.connect(path)
        uid = peer_uid(sock)
        server = peer_of(sock)
    except OSError as exc:
        sock.close()
        _note(verbose, f"cannot connect ({exc.strerror or type(exc).__name__})")
        return None
    if uid != os.geteuid():
        sock.close()
        _note(verbose, f"the socket is served by uid {uid}, not by this user (uid {os.geteuid()})")
        return None
    same = (server is not None
            and process_identity(server.pid) == process_identity(os.getpid())
            and server.still_there())
    if server is None or not same:
        if server is not None:
            server.close()
        sock.close()
        _note(verbose, "groups, capabilities, no_new_privs, seccomp, namespaces, cgroup or "
              "scheduling of the process serving the socket differ from this process's")
        return None
    return sock, server


def _stdio_open() -> bool:
    """A child can stand in for this process only if fds 0, 1 and 2 are open."""
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)
    except OSError:
        return False
    return True


def _usable_cwd() -> str | None:
    """The cwd, if the child can enter it (chdir by path, as the child does), else None."""
    try:
        cwd = os.getcwd()
        os.chdir(cwd)  # an unsearchable cwd (or one above it) fails here as in the child
    except OSError:
        return None
    return cwd


def _own(name: str) -> int:
    """An attribute of this process from /proc/self (`timerslack_ns`, `personality`), or 0."""
    try:
        with open(f"/proc/self/{name}", encoding="ascii") as fh:
            return int(fh.read().strip(), 16 if name == "personality" else 10)
    except (OSError, ValueError):
        return 0


def run_through_server(args: list[str]) -> int | None:
    """The exit code of `args` run by the warm server, or None when it did not take the job.

    Before anything is sent: the socket's directory and the socket must be this user's (0700)
    and the peer the kernel names must hold exactly this process's privileges (see _connect).
    """
    env = os.environ
    if warm_disabled(env) or not hasattr(socket, "send_fds") or not hasattr(os, "geteuid"):
        return None
    verbose = _verbose(args)
    problem = cache_dir_problem(env)
    if problem is not None:
        _note(verbose, problem)
        return None
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
    cwd = _usable_cwd()
    if cwd is None:
        _note(verbose, "the working directory cannot be entered by path")
        return None
    if securebits() != 0:  # only this process can read them: a child would not have them
        _note(verbose, "this process has securebits set")
        return None
    connected = _connect(str(path), verbose)
    if connected is None:
        return None
    sock, server = connected
    with sock:
        deadline = time.monotonic() + HANDSHAKE_TIMEOUT
        try:
            sock.settimeout(HANDSHAKE_TIMEOUT)
            proof = exchange(sock, server.pidfd, deadline)
        except (OSError, ValueError) as exc:
            _note(verbose, f"no answer ({exc.strerror if isinstance(exc, OSError) else exc})")
            return None
        finally:
            server.close()
        if proof is None:  # e.g. a Landlock sandbox between us, which /proc does not show
            _note(verbose, "the process serving the socket and this one cannot ptrace each other")
            return None
        args, coid = order_key(args)
        hello = {"t": "job", "code": code_key(), "job": job_key(env), "argv": args,
                 "argv0": sys.argv[0] if sys.argv else "noetl-ib", "cwd": cwd, "env": dict(env),
                 "timerslack": _own("timerslack_ns"), "personality": _own("personality"),
                 "proof": proof}
        try:
            send_message(sock, hello, [0, 1, 2])
            answer, _ = recv_message(sock, deadline=deadline)
        except (OSError, ValueError) as exc:
            _note(verbose, f"no answer ({exc.strerror if isinstance(exc, OSError) else exc})")
            return None
        if answer.get("t") != "ok":
            _note(verbose, f"refused: {str(answer.get('reason', 'no reason'))[:200]}")
            return None
        # Accepted: from here on this step is never run in process.
        return _wait_for_exit(sock, args, coid)


def _wait_for_exit(sock: socket.socket, args: list[str], coid: str | None) -> int:
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
        return _lost(what, args, coid)
    code = done.get("code")
    if done.get("t") == "exit" and isinstance(code, int) and not isinstance(code, bool):
        return code
    signal_number = done.get("signal")
    if isinstance(signal_number, int):
        return _lost(f"its process was killed by signal {signal_number}", args, coid)
    return _lost("it answered something unexpected", args, coid)
