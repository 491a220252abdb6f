"""`noetl-ib warm start|stop|status`: the explicit life cycle of the warm step server.

Nothing starts a server implicitly: a playbook's first step (or the user's shell) runs
``noetl-ib warm start --idle 300``. Each command prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .identity import peer_of
from .paths import (
    MAX_SOCKET_PATH,
    cache_dir_problem,
    code_key,
    socket_path,
    unsafe_ancestor,
    untrusted_reason,
)
from .proof import exchange
from .wire import peer_uid, recv_message, send_message

__all__ = ["KEEP_ENV", "add_warm_parser", "cmd_warm"]

#: Variables the server is started with (none of them a secret; each child gets its client's).
KEEP_ENV = ("HOME", "PATH", "LANG", "LC_", "PYTHON", "PYDANTIC", "NOETL_IB_CACHE_DIR", "XDG_CACHE_HOME")
_BOOT = ("import json, sys; a = json.loads(sys.argv[1]); sys.path[:] = a['sys_path']; "
         "from noetl_ib_plugin.cli.warm.daemon import boot; boot(a)")

#: Longest wait for a new server to finish its imports (they take ~0.5 s on a loaded machine).
READY_TIMEOUT = 60.0
#: Longest wait for a stopped server to let go of its socket.
STOP_TIMEOUT = 10.0
POLL_SECONDS = 0.02
#: A week: longer idle times are a typo (the server is meant to live for a session of playbooks).
MAX_IDLE_SECONDS = 7 * 24 * 3600.0


def add_warm_parser(sub: Any, parser_class: type[argparse.ArgumentParser], verbose: Any) -> None:
    """The `warm` command and its three subcommands on the CLI's subparsers."""
    warm = sub.add_parser(
        "warm",
        help="start/stop/status of the warm step server (later steps start in milliseconds)",
        description="A per-user server that has already imported the plugin; every later "
        "`noetl-ib` invocation runs in a process forked from it (same code path, same output). "
        "Nothing starts it implicitly.",
    )
    warm_sub = warm.add_subparsers(dest="warm_command", metavar="SUBCOMMAND", parser_class=parser_class)
    start = warm_sub.add_parser("start", help="start the server in the background (no-op if running)")
    start.add_argument("--idle", type=float, default=600.0, metavar="SECONDS",
                       help="exit after SECONDS without a step (default 600)")
    verbose(start)
    for name, text in (("stop", "stop the server (running steps finish)"),
                       ("status", "is a server running, and since when")):
        verbose(warm_sub.add_parser(name, help=text))
    verbose(warm)


def cmd_warm(ns: argparse.Namespace) -> dict[str, Any]:
    """Dispatch `warm start|stop|status`; returns the JSON result."""
    from ...errors import UsageError

    command = getattr(ns, "warm_command", None)
    if command == "start":
        return start(float(ns.idle))
    if command == "stop":
        return stop()
    if command == "status":
        return status()
    raise UsageError("warm: choose a subcommand: start, stop or status")


def _ask(path: Path, message: dict[str, Any], timeout: float = 5.0) -> dict[str, Any] | None:
    """One request to the server at `path` if it is ours and answers; else None."""
    if untrusted_reason(path.parent, path) is not None:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with sock:
        try:
            sock.settimeout(timeout)
            sock.connect(str(path))
            if peer_uid(sock) != os.geteuid():
                return None
            if message.get("t") == "stop":  # the server stops only for a peer that may ptrace it
                server = peer_of(sock)
                if server is None:
                    return None
                try:
                    proof = exchange(sock, server.pidfd, time.monotonic() + timeout)
                finally:
                    server.close()
                message = {**message, "proof": proof or ""}
            send_message(sock, message)
            answer, _ = recv_message(sock)
        except (OSError, ValueError):
            return None
    return answer


def _public(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k not in ("t", "code")}


def status() -> dict[str, Any]:
    """`{"running": bool, "socket", ...}`: pid, version, uptime and job counts when running."""
    path = socket_path(os.environ)
    answer = _ask(path, {"t": "status"})
    if answer is None or answer.get("t") != "status":
        out: dict[str, Any] = {"running": False, "socket": str(path)}
        reason = untrusted_reason(path.parent, path) if os.path.lexists(path) else None
        if reason:
            out["not_used_because"] = reason
        return out
    return {"running": True, "current": answer.get("code") == code_key(), **_public(answer)}


def stop() -> dict[str, Any]:
    """Ask the server to stop; running steps finish first. Not running is not an error."""
    path = socket_path(os.environ)
    answer = _ask(path, {"t": "stop"})
    if answer is None:
        return {"running": False, "stopped": False, "socket": str(path)}
    if answer.get("t") == "refuse":  # a weaker process of this user (a sandboxed step)
        return {"running": True, "stopped": False, "socket": str(path),
                "not_stopped_because": str(answer.get("reason"))}
    _wait_gone(path)
    return {"running": False, "stopped": True, "pid": answer.get("pid"), "socket": str(path)}


def _wait_gone(path: Path) -> None:
    """Poll until the socket is released (or the deadline passes)."""
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and os.path.lexists(path):
        time.sleep(POLL_SECONDS)


def _config_error(what: str, field: str = "NOETL_IB_CACHE_DIR") -> Exception:
    from ...errors import ConfigurationError

    return ConfigurationError(
        f"cannot start the warm step server: {what}",
        field=field,
        fix=f"point {field} at a short absolute directory only you own (mode 700), e.g. "
        "`NOETL_IB_CACHE_DIR=$HOME/.cache/noetl-ib noetl-ib warm start`; steps run without "
        "the server meanwhile.",
    )


def _prepare_dir(directory: Path) -> None:
    """Create `<cache>/warm` 0700; a directory of ours open to others is made private."""
    try:
        directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise _config_error(f"{directory.parent}: {exc.strerror}") from None
    unsafe = unsafe_ancestor(directory.parent)  # before anything is created inside it
    if unsafe is not None:
        raise _config_error(unsafe)
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(directory)
    except OSError as exc:
        raise _config_error(f"{directory}: {exc.strerror}") from None
    if (stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()
            and stat.S_IMODE(st.st_mode) & 0o077):
        with contextlib.suppress(OSError):
            os.chmod(directory, 0o700)
    reason = untrusted_reason(directory, None)
    if reason is not None:
        raise _config_error(reason)


def start(idle: float) -> dict[str, Any]:
    """Start a server for this interpreter and package unless a current one answers.

    Daemonises (a new session, a second fork, stdio on /dev/null, no inherited descriptor but
    the socket) and returns once the server has finished its imports.
    """
    if not 0 < idle <= MAX_IDLE_SECONDS:  # also refuses nan and inf
        from ...errors import UsageError

        raise UsageError(f"--idle must be between 0 and {MAX_IDLE_SECONDS:g} seconds", field="idle")
    problem = cache_dir_problem(os.environ)
    if problem is not None:  # the server runs in /, each step in its own cwd: never relative
        raise _config_error(problem, field=problem.split("=", 1)[0])
    path = socket_path(os.environ)
    if len(os.fsencode(str(path))) > MAX_SOCKET_PATH:
        raise _config_error(f"the socket path {str(path)!r} is longer than {MAX_SOCKET_PATH} bytes")
    _prepare_dir(path.parent)
    current = code_key()
    answer = _ask(path, {"t": "status"})
    if answer is not None and answer.get("t") == "status":
        if answer.get("code") == current and not answer.get("stopping"):
            return {"running": True, "started": False, **_public(answer)}
        _ask(path, {"t": "stop"})  # serves older code: replace it
        _wait_gone(path)
    if os.path.lexists(path):
        reason = untrusted_reason(path.parent, path)
        if reason is not None:
            raise _config_error(reason)
        os.unlink(path)  # ours, and nobody answers on it
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(str(path))
        bound = os.lstat(path)
    except OSError as exc:
        listener.close()
        raise _config_error(f"cannot bind {path.name}: {exc.strerror}") from None
    finally:
        os.umask(old)
    # The server itself calls listen(): the kernel records the listening process as every
    # client's SO_PEERCRED peer, and clients check that process before they send a byte.
    ready_r, ready_w = os.pipe()
    try:
        launcher = _launch(listener, ready_w, path, idle, current)
    finally:
        os.close(ready_w)
        listener.close()
    line = _read_ready(ready_r)
    with contextlib.suppress(subprocess.TimeoutExpired):
        launcher.wait(timeout=STOP_TIMEOUT)
    if not line.startswith("ready "):
        with contextlib.suppress(OSError):  # no dead socket left behind for clients to try
            if os.lstat(path).st_ino == bound.st_ino:
                os.unlink(path)
        raise _config_error(f"the server did not come up ({line or 'no answer'}); see {path}.log")
    return {"running": True, "started": True, "pid": int(line.split()[1]), "socket": str(path),
            "idle_seconds": idle}


def _launch(listener: socket.socket, ready_w: int, path: Path, idle: float,
            code: str) -> subprocess.Popen[bytes]:
    """The daemon's first process: a new session, cwd /, stdio on /dev/null, only two descriptors
    inherited, and an environment without anything that could be a secret (so not even
    /proc/PID/environ of the server holds one). It forks the server and exits."""
    env = {k: v for k, v in os.environ.items() if k.startswith(KEEP_ENV)}
    args = {"listener": listener.fileno(), "ready": ready_w, "path": str(path), "idle": idle,
            "code": code, "sys_path": sys.path}
    return subprocess.Popen(
        [sys.executable, "-c", _BOOT, json.dumps(args)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        pass_fds=(listener.fileno(), ready_w), start_new_session=True, cwd="/", env=env,
    )


def _read_ready(fd: int) -> str:
    """The daemon's one line on the ready pipe, or what it said before closing it."""
    deadline = time.monotonic() + READY_TIMEOUT
    data = b""
    try:
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            readable, _, _ = select.select([fd], [], [], left)
            if not readable:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    return data.decode("utf-8", "replace").strip()
