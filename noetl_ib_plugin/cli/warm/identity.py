"""What the kernel says about the process at the other end of the socket (server and client alike).

A child forked from the warm server keeps the server's uids, groups, capabilities, seccomp
filters, no_new_privs flag, namespaces, cgroup, root directory, security label, OOM score,
scheduling and I/O priority. Neither side believes the other: each asks the kernel who the peer
is (SO_PEERCRED, and a pidfd -- SO_PEERPIDFD, else pidfd_open -- so the pid cannot be recycled
while /proc/<pid> is read) and digests what /proc says about that process. The server serves a
client only when the client's digest equals its own; the client sends nothing (not its
environment, not its stdio) to a server whose digest differs from its own. What the kernel
does not show (Landlock domains, securebits of another process, keyrings) is covered in
docs/warm-server.md. Standard library only.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import socket
import struct
from dataclasses import dataclass

__all__ = [
    "RLIMIT_NAMES",
    "Peer",
    "ioprio",
    "peer_of",
    "process_identity",
    "process_limits",
    "process_umask",
    "rlimit_number",
    "securebits",
]

#: /proc/<pid>/status fields that grant or withhold access or shape the process (proc(5)).
_STATUS_FIELDS = ("Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:", "CapEff:", "CapBnd:",
                  "CapAmb:", "NoNewPrivs:", "Seccomp:", "Seccomp_filters:", "THP_enabled:",
                  "Speculation_Store_Bypass:", "SpeculationIndirectBranch:", "Mems_allowed_list:")
_NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts")
#: `/proc/<pid>/limits` row titles (fs/proc/base.c `lnames`) -> resource module names.
RLIMIT_NAMES = {
    "Max cpu time": "RLIMIT_CPU", "Max file size": "RLIMIT_FSIZE", "Max data size": "RLIMIT_DATA",
    "Max stack size": "RLIMIT_STACK", "Max core file size": "RLIMIT_CORE",
    "Max resident set": "RLIMIT_RSS", "Max processes": "RLIMIT_NPROC",
    "Max open files": "RLIMIT_NOFILE", "Max locked memory": "RLIMIT_MEMLOCK",
    "Max address space": "RLIMIT_AS", "Max file locks": "RLIMIT_LOCKS",
    "Max pending signals": "RLIMIT_SIGPENDING", "Max msgqueue size": "RLIMIT_MSGQUEUE",
    "Max nice priority": "RLIMIT_NICE", "Max realtime priority": "RLIMIT_RTPRIO",
    "Max realtime timeout": "RLIMIT_RTTIME",
}


def rlimit_number(name: str) -> int:
    """The resource number of an RLIMIT_* name: the resource module's, else Linux's generic one
    (the row order of /proc/<pid>/limits; Python lacks RLIMIT_LOCKS)."""
    import resource

    number = getattr(resource, name, None)
    return int(number) if number is not None else list(RLIMIT_NAMES.values()).index(name)


#: Linux's SO_PEERPIDFD (6.5+; Python 3.11 lacks the constant) and ioprio_get syscall numbers.
_SO_PEERPIDFD = 77
_SYS_IOPRIO_GET = {"x86_64": 252, "aarch64": 31, "i686": 290, "armv7l": 315, "ppc64le": 274,
                   "s390x": 283, "riscv64": 31}
_PR_GET_SECUREBITS = 27


@dataclass
class Peer:
    """The process at the other end: its pid in our pid namespace and a pidfd that pins it."""

    pid: int
    uid: int
    pidfd: int

    def still_there(self) -> bool:
        """True while the pidfd's process is the live `pid` (not exited, so not recycled)."""
        poller = select.poll()  # not select(): the server may hold descriptors past FD_SETSIZE
        try:
            poller.register(self.pidfd, select.POLLIN)
            exited = bool(poller.poll(0))
        except (OSError, ValueError):
            return False
        return not exited and _pidfd_pid(self.pidfd) == self.pid

    def close(self) -> None:
        """Release the pidfd."""
        with contextlib.suppress(OSError):
            os.close(self.pidfd)


def _pidfd_pid(pidfd: int) -> int:
    """The pid a pidfd refers to (-1 once the process is gone), from /proc/self/fdinfo."""
    try:
        with open(f"/proc/self/fdinfo/{pidfd}", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Pid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return -1


def _proc_is_ours() -> bool:
    """/proc shows our pid namespace (else /proc/<pid> would name another process)."""
    try:
        return os.readlink("/proc/self") == str(os.getpid())
    except OSError:
        return False


def peer_of(sock: socket.socket) -> Peer | None:
    """The connected peer as the kernel recorded it (at connect, or at the server's listen).

    None when the kernel cannot pin it (no pidfd support, /proc of another pid namespace, the
    peer already gone): the caller then treats the peer as unknown and does not trust it.
    """
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", raw)
    if pid <= 0 or not _proc_is_ours():
        return None
    pidfd = -1
    with contextlib.suppress(OSError):
        pidfd = sock.getsockopt(socket.SOL_SOCKET, _SO_PEERPIDFD)
    if pidfd < 0:
        try:
            pidfd = os.pidfd_open(pid)
        except (OSError, AttributeError):
            return None
    peer = Peer(pid=pid, uid=uid, pidfd=pidfd)
    if not peer.still_there():
        peer.close()
        return None
    return peer


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return "-"


def ioprio(pid: int) -> str:
    """The I/O scheduling class and level (`ionice`) of `pid` (ioprio_get(2)), or "-"."""
    number = _SYS_IOPRIO_GET.get(os.uname().machine)
    if number is None:
        return "-"
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        value = int(libc.syscall(number, 1, pid))  # IOPRIO_WHO_PROCESS
    except (OSError, AttributeError):
        return "-"
    return str(value) if value >= 0 else "-"


def securebits() -> int:
    """This process's securebits (prctl PR_GET_SECUREBITS); -1 when they cannot be read.

    Only the process itself can read them, so a client with any bit set runs in process.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_GET_SECUREBITS, 0, 0, 0, 0))
    except (OSError, AttributeError):
        return -1


def _scheduling(pid: int) -> str:
    """nice, policy, real-time priority, CPU affinity and I/O priority of `pid`."""
    parts = []
    for name, call in (("nice", lambda: os.getpriority(os.PRIO_PROCESS, pid)),
                       ("policy", lambda: os.sched_getscheduler(pid)),
                       ("rtprio", lambda: os.sched_getparam(pid).sched_priority),
                       ("cpus", lambda: sorted(os.sched_getaffinity(pid)))):
        try:
            parts.append(f"{name}={call()}")
        except (OSError, AttributeError):
            parts.append(f"{name}=-")
    parts.append(f"io={ioprio(pid)}")
    return ";".join(parts)


def process_identity(pid: int) -> str:
    """Digest of what the kernel says `pid` may do: uids, gids, groups, capabilities,
    no_new_privs, seccomp, namespaces, cgroup, root directory, LSM label, audit login,
    OOM score adjustment, scheduling and I/O priority, THP and speculation controls, memory nodes.

    Read from /proc/<pid> (proc(5)); a file the reader may not read counts as "-", so a peer
    hidden from us never looks like us. Call `Peer.still_there` after it for another process.
    """
    proc = f"/proc/{pid}"
    status = _read(f"{proc}/status")
    parts = [line for line in status.splitlines() if line.startswith(_STATUS_FIELDS)]
    for name in _NAMESPACES:
        try:
            parts.append(os.readlink(f"{proc}/ns/{name}"))
        except OSError:
            parts.append("-")
    for name in ("cgroup", "oom_score_adj", "attr/current", "loginuid", "sessionid"):
        parts.append(_read(f"{proc}/{name}"))
    parts.append(_scheduling(pid))
    try:
        root = os.stat(f"{proc}/root")
        parts.append(f"{root.st_dev}:{root.st_ino}")
    except OSError:
        parts.append("-")
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _limit(text: str) -> int:
    return -1 if text == "unlimited" else int(text)


def process_limits(pid: int) -> dict[str, list[int]] | None:
    """Every resource limit of `pid` as the kernel reports it (`/proc/<pid>/limits`), -1 for
    unlimited; None when the file cannot be read or a row is not understood."""
    text = _read(f"/proc/{pid}/limits")
    out: dict[str, list[int]] = {}
    for line in text.splitlines()[1:]:
        title = line[:26].strip()
        name = RLIMIT_NAMES.get(title)
        if name is None:
            return None
        try:
            soft, hard = line[26:].split()[:2]
            out[name] = [_limit(soft), _limit(hard)]
        except ValueError:
            return None
    return out if len(out) == len(RLIMIT_NAMES) else None


def process_umask(pid: int) -> int | None:
    """The umask of `pid` (the `Umask:` line of /proc/<pid>/status), or None."""
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith("Umask:"):
            with contextlib.suppress(ValueError, IndexError):
                return int(line.split()[1], 8)
    return None
