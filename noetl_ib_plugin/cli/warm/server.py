"""The warm step server: imports the plugin once, forks one child per `noetl-ib` invocation.

The server never runs an action and holds no secret: it is started with only the variables
that shape an interpreter (`command.KEEP_ENV`), and each child replaces them with its client's.
A child is forked only for a client whose privileges, as the kernel shows them, equal the
server's (`identity`), and stands in for a fresh process: the client's stdin/stdout/stderr on
0/1/2, its cwd, environment, argv, and its umask and resource limits as /proc shows them;
logging, warnings and the std streams as a fresh interpreter has them; then the same
`noetl_ib_plugin.cli.main(argv)`. As the server never runs an action, every process-wide cache
(token memory cache, runner clients, file-cache handles) is as empty as in a fresh process;
only the plugin registry is built once (from installed distributions, which the code
fingerprint covers). A child dies with the server (PR_SET_PDEATHSIG) and is killed when its
client goes away (EOF on the client's socket: the step timed out).

Log lines (`<socket>.log`, mode 0600) name pids, uids, exit codes and reasons, never argv or
the environment, and are written inert (printable ASCII, `$` and backquote escaped).
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import signal
import socket
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .child import CwdUnusable, become_client, job_shape_ok, limits_fit
from .identity import Peer, peer_of, process_identity, process_limits, process_umask
from .paths import job_key
from .proof import offer, proven, take
from .wire import close_all, peer_uid, recv_message, send_message

__all__ = ["DEFAULT_IDLE_SECONDS", "PRELOAD", "Server"]

DEFAULT_IDLE_SECONDS = 600.0
#: Seconds a client has to send its job, and its `go` after the server's `ok`.
HANDSHAKE_TIMEOUT = 5.0
#: What a `noetl-ib` step imports; the server imports it once so its children start warm.
PRELOAD = (
    "requests",
    "pydantic",
    "noetl_ib_plugin.cli._run",
    "noetl_ib_plugin.cli._token",
    "noetl_ib_plugin.cli._actions",
    "noetl_ib_plugin.cli._credentials",
    "noetl_ib_plugin.runner",
    "noetl_ib_plugin.trading",
    "noetl_ib_plugin.credentials.stores",
    "noetl_ib_plugin.auth",
    "noetl_ib_plugin.client",
    "noetl_ib_plugin.auth.keychain_cache",
    "noetl_ib_plugin.common.validation",
    "noetl_ib_plugin.common.logs",
    "noetl_ib_plugin.cli._args",
    "noetl_ib_plugin.common.step_context",
    "pydantic.plugin._loader",
    "netrc",
    "difflib",
)
_PR_SET_PDEATHSIG = 1


def preload() -> None:
    """Import what a step imports (every action module too) and build the plugin registry."""
    import importlib
    import pkgutil

    for name in PRELOAD:
        importlib.import_module(name)
    actions = importlib.import_module("noetl_ib_plugin.actions")
    for info in pkgutil.walk_packages(actions.__path__, "noetl_ib_plugin.actions."):
        importlib.import_module(info.name)
    from ...runner import default_host

    default_host().registry  # noqa: B018  (loads the plugins before any fork)


def _pdeathsig() -> Callable[[], None]:
    """A function that makes the calling process die with its parent (Linux), loaded before forks."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return lambda: None
    return lambda: prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


#: Printable characters a shell would still act on, written as escapes in the server log.
_SHELL_ACTIVE = {ord("$"): "\\x24", ord("`"): "\\x60", ord("\\"): "\\\\"}


def _inert(text: str) -> str:
    """`text` as printable ASCII: other characters, `$`, backquote and backslash as escapes."""
    return "".join(c.translate(_SHELL_ACTIVE) if " " <= c <= "~" else ascii(c)[1:-1] for c in text)


def _cwd_error(cwd: str, exc: OSError) -> int:
    """The client's cwd became unusable after its own check: a typed error on its stderr, exit 2."""
    import json

    body = {"type": "ConfigurationError", "category": "input", "field": "cwd",
            "message": f"cannot enter the working directory {cwd!r}: {exc.strerror}",
            "fix": "run the step from a directory this user can search, e.g. `cd \"$HOME\"` first"}
    with contextlib.suppress(OSError):
        os.write(2, (json.dumps({"error": body}, separators=(",", ":")) + "\n").encode())
    return 2


@dataclass
class _Job:
    conn: socket.socket
    pidfd: int
    pid: int
    started: float
    killed: bool = False


class Server:
    """Accept loop over the listening socket, the clients of running jobs and their pidfds."""

    def __init__(self, listener: socket.socket, path: Path, *, idle: float, code: str,
                 log_fd: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.listener = listener
        self.path = path
        self.idle = idle
        self.code = code
        self.job = job_key(os.environ)
        self.log_fd = log_fd
        self.clock = clock
        self.started_wall = time.time()
        self.started = clock()
        self.last_activity = clock()
        self.stopping = False
        self.accept_paused = False
        self.jobs: dict[int, _Job] = {}
        self.done = 0
        self.refused = 0
        self.selector = selectors.DefaultSelector()
        self.inode = os.stat(path).st_ino
        self.die_with_parent = _pdeathsig()
        self.fresh_filters = list(warnings.filters)
        self.stdio_encoding = sys.stdout.encoding if sys.stdout is not None else "utf-8"

    # -- log ------------------------------------------------------------------------------

    #: Bytes the log may reach before it starts over (a long-lived server logs 2 lines a job).
    log_max = 1 << 20

    def log(self, text: str) -> None:
        """One line, no argv, no environment; the file starts over past `log_max` bytes.

        Written inert (`_inert`): a line can never carry a newline, a terminal escape or text a
        shell would expand, whatever a client managed to put into it.
        """
        text = _inert(text)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with contextlib.suppress(OSError):
            if os.lseek(self.log_fd, 0, os.SEEK_END) >= self.log_max:
                os.ftruncate(self.log_fd, 0)
                os.lseek(self.log_fd, 0, os.SEEK_SET)
                os.write(self.log_fd, f"{stamp} pid={os.getpid()} log restarted\n".encode())
            os.write(self.log_fd, f"{stamp} pid={os.getpid()} {text}\n".encode())

    # -- loop -----------------------------------------------------------------------------

    def serve(self) -> None:
        """Run until idle for `idle` seconds with no job, or stopped and every job has ended."""
        self.selector.register(self.listener, selectors.EVENT_READ, ("accept", None))
        self.log(f"serving {self.path.name} idle={self.idle:g}s")
        while True:
            if self.stopping and not self.jobs:
                break
            timeout: float | None = None
            if not self.jobs:
                timeout = self.idle - (self.clock() - self.last_activity)
                if timeout <= 0:
                    self.log("idle: exiting")
                    break
            for key, _ in self.selector.select(timeout):
                kind, job = key.data
                if kind == "accept":
                    self._accept()
                elif kind == "exit":
                    self._reap(job)
                else:
                    self._client_event(job)
        self._close_listener()
        self.log(f"stopped after {self.done} job(s)")

    def _close_listener(self) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(self.listener)
        self.listener.close()
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self.inode:  # a newer server may own the path now
                os.unlink(self.path)

    def _status(self) -> dict[str, Any]:
        from ..._version import __version__

        return {"t": "status", "pid": os.getpid(), "version": __version__,
                "python": sys.executable, "socket": str(self.path), "code": self.code,
                "idle_seconds": self.idle, "uptime_seconds": round(self.clock() - self.started, 3),
                "started_at": round(self.started_wall, 3), "jobs_running": len(self.jobs),
                "jobs_done": self.done, "jobs_refused": self.refused, "stopping": self.stopping}

    def _accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE) and self.jobs:
                # The pending client would wake the loop again at once: stop listening until a
                # job ends (waiting clients run in process after their handshake timeout).
                with contextlib.suppress(KeyError, ValueError):
                    self.selector.unregister(self.listener)
                self.accept_paused = True
                self.log("out of file descriptors: not accepting until a job ends")
            return
        # One bound for the whole handshake (job, then go): a client dripping its bytes holds
        # this single-threaded loop for at most HANDSHAKE_TIMEOUT, however it spaces them.
        deadline = time.monotonic() + HANDSHAKE_TIMEOUT
        fds: list[int] = []
        peer: Peer | None = None
        try:
            conn.settimeout(HANDSHAKE_TIMEOUT)
            uid = peer_uid(conn)
            if uid != os.geteuid():
                self.refused += 1
                self.log(f"refused a client of uid {uid}")
                conn.close()
                return
            peer = peer_of(conn)
            message, fds = recv_message(conn, max_fds=3, deadline=deadline)
            expected: str | None = None
            if message.get("t") == "hello":
                close_all(fds)
                fds = []
                expected, mine = self._hello(conn, peer, message)
                try:
                    message, fds = recv_message(conn, max_fds=3, deadline=deadline)
                finally:
                    os.close(mine)
            strong = proven(message, expected)
            kind = message.get("t")
            if kind == "status":
                send_message(conn, self._status())
            elif kind == "stop" and not (strong and self._same_privileges(peer)):
                self._refuse(conn, "only a process with the server's privileges may stop it")
                return
            elif kind == "stop":
                self.stopping = True
                self.log("stop requested")
                send_message(conn, {"t": "stopping", "pid": os.getpid(), "jobs_running": len(self.jobs)})
                self._close_listener()
            elif kind == "job":
                self._job(conn, message, fds, peer, deadline, strong=strong)
                fds = []
                return
            conn.close()
        except Exception as exc:  # one bad connection (even an ImportError at EMFILE) never ends the server
            self.log(f"dropped a connection: {type(exc).__name__}")
            conn.close()
        finally:
            close_all(fds)
            if peer is not None:
                peer.close()

    @staticmethod
    def _hello(conn: socket.socket, peer: Peer | None, message: dict[str, Any]) -> tuple[str, int]:
        """Echo the client's nonce (taken from it: we may ptrace it) and offer ours.

        Returns (our nonce, the fd holding it): the fd stays open until the client's next
        message, which must carry the nonce (`proof.proven`).
        """
        theirs = take(peer.pidfd, message.get("fd")) if peer is not None else None
        fd, nonce = offer()
        try:
            send_message(conn, {"t": "proven", "nonce": theirs or "", "fd": fd})
        except BaseException:
            os.close(fd)
            raise
        return nonce, fd

    def _refuse(self, conn: socket.socket, reason: str) -> None:
        self.refused += 1
        self.log(f"refused a job: {reason}")
        with contextlib.suppress(OSError):
            send_message(conn, {"t": "refuse", "reason": reason})
        conn.close()

    @staticmethod
    def _same_privileges(peer: Peer | None) -> bool:
        """The connected process holds exactly the server's privileges (read from /proc)."""
        return (peer is not None and process_identity(peer.pid) == process_identity(os.getpid())
                and peer.still_there())

    def _client_process(self, peer: Peer | None) -> tuple[str, dict[str, list[int]], int] | str:
        """The client's limits and umask as the kernel reports them, or why it is not served.

        Nothing the client says about itself counts: its identity, limits and umask are read
        from /proc/<pid> of the process the kernel says connected, pinned by a pidfd.
        """
        if peer is None:
            return "the kernel does not say which process connected"
        if not self._same_privileges(peer):
            return ("groups, capabilities, seccomp, namespaces, cgroup, scheduling or I/O "
                    "priority differ from the server's")
        limits = process_limits(peer.pid)
        umask = process_umask(peer.pid)
        if not peer.still_there():  # everything above may describe a recycled pid
            return "the connecting process is gone"
        if limits is None or umask is None:
            return "the kernel does not show the client's resource limits or umask"
        return "ok", limits, umask

    def _job(self, conn: socket.socket, message: dict[str, Any], fds: list[int],
             peer: Peer | None, deadline: float, *, strong: bool) -> None:
        """Check the job, say ok, wait for go, fork; the received fds are closed here in the server.

        Who the client is comes first: a weaker process must not stop the server by sending
        another code fingerprint either.
        """
        pid, spare = 0, -1
        try:
            if self.stopping:
                return self._refuse(conn, "the server is stopping")
            if not strong:
                return self._refuse(conn, "the client did not show it may ptrace the server "
                                    "(a Landlock sandbox, or fewer capabilities)")
            client = self._client_process(peer)
            if isinstance(client, str):
                return self._refuse(conn, client)
            _, limits, umask = client
            if message.get("code") != self.code:
                self.stopping = True  # stale code: this server must not serve anyone again
                self._close_listener()
                return self._refuse(conn, "the installed code changed since the server started")
            if message.get("job") != self.job:
                return self._refuse(conn, "sys.path or PYTHON*/PYDANTIC* variables differ from the server's")
            if len(fds) != 3 or not job_shape_ok(message):
                return self._refuse(conn, "malformed job")
            if not limits_fit(limits):
                return self._refuse(conn, "the step's resource limits exceed the server's")
            try:  # the pidfd's slot, taken before the ok: after the fork it must not fail
                spare = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return self._refuse(conn, "the server is out of file descriptors")
            send_message(conn, {"t": "ok"})
            go, _ = recv_message(conn, deadline=deadline)
            if go.get("t") != "go":
                conn.close()
                return None
            pid = os.fork()
            if pid == 0:
                os.close(spare)
                self._child(conn, {**message, "umask": umask, "rlimits": limits}, fds)  # never returns
            os.close(spare)
            spare = -1
            pidfd = os.pidfd_open(pid)
        except Exception as exc:
            self.log(f"dropped a job: {type(exc).__name__}")
            conn.close()
            if pid > 0:  # forked but unsupervised: end it (its client reports exit 6)
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
            return None
        finally:
            close_all(fds)
            if spare >= 0:
                os.close(spare)
        job = _Job(conn=conn, pidfd=pidfd, pid=pid, started=self.clock())
        self.jobs[pid] = job
        self.selector.register(pidfd, selectors.EVENT_READ, ("exit", job))
        self.selector.register(conn, selectors.EVENT_READ, ("client", job))
        self.log(f"job {pid} started")
        return None

    def _client_event(self, job: _Job) -> None:
        """Anything from a client after `go` (normally EOF: it died or timed out): kill its child."""
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(job.conn)
        if not job.killed:
            job.killed = True
            with contextlib.suppress(ProcessLookupError):
                os.kill(job.pid, signal.SIGKILL)
            self.log(f"job {job.pid} killed: its client went away")

    def _reap(self, job: _Job) -> None:
        _, status = os.waitpid(job.pid, 0)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(job.pidfd)
        os.close(job.pidfd)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(job.conn)
        self.jobs.pop(job.pid, None)
        self.done += 1
        if self.accept_paused and not self.stopping:
            self.accept_paused = False
            self.selector.register(self.listener, selectors.EVENT_READ, ("accept", None))
        self.last_activity = self.clock()
        if os.WIFSIGNALED(status):
            answer: dict[str, Any] = {"t": "exit", "signal": os.WTERMSIG(status)}
        else:
            answer = {"t": "exit", "code": os.waitstatus_to_exitcode(status)}
        with contextlib.suppress(OSError):
            send_message(job.conn, answer)
        job.conn.close()
        self.log(f"job {job.pid} ended {answer.get('code', answer.get('signal'))} "
                 f"in {self.clock() - job.started:.3f}s")

    # -- the child ------------------------------------------------------------------------

    def _child(self, conn: socket.socket, message: dict[str, Any], fds: list[int]) -> None:
        """Become the fresh `noetl-ib` process the client would have been, run main, exit."""
        code = 1
        try:
            server_pid = os.getppid()
            self.die_with_parent()
            if os.getppid() != server_pid:  # the server died before the line above
                os._exit(1)
            conn.close()
            self._drop_server_state()
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
            close_all(fds)
            become_client(message, self.stdio_encoding, self.fresh_filters)
            from .. import main

            code = main(list(message["argv"]))
        except CwdUnusable as exc:
            code = _cwd_error(message["cwd"], exc)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            code = 1
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    if stream is not None:
                        stream.flush()
            os._exit(code)

    def _drop_server_state(self) -> None:
        """Close every descriptor the server owns (by their objects, so none is closed twice)."""
        self.selector.close()
        self.listener.close()
        for job in self.jobs.values():
            job.conn.close()
            with contextlib.suppress(OSError):
                os.close(job.pidfd)
        with contextlib.suppress(OSError):
            os.close(self.log_fd)
