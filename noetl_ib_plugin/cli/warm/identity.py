"""What the kernel grants a process beyond its uid: a warm child must not hold more than its client.

A child forked from the warm server keeps the server's groups, capabilities, seccomp filters,
no_new_privs flag, namespaces, cgroup, root directory, security label, OOM score and scheduling.
Only the same uid is checked at connect time, so a client started with less (``setpriv
--clear-groups``, dropped capabilities, a sandbox, another cgroup or container, ``nice``) would
get the server's privileges and a different outcome than in its own process. Client and server
each digest their own identity; a job whose digest differs runs in process (the server stays
for others). Standard library only.
"""

from __future__ import annotations

import hashlib
import os

__all__ = ["process_identity"]

#: /proc/self/status fields that grant or withhold access (proc(5)).
_STATUS_FIELDS = ("Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:", "CapEff:", "CapBnd:",
                  "CapAmb:", "NoNewPrivs:", "Seccomp:", "Seccomp_filters:")
_NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts")


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return "-"


def _scheduling() -> str:
    """nice value, scheduling policy and CPU affinity (`nice`, `chrt`, `taskset` in the step)."""
    parts = []
    for name, call in (("nice", lambda: os.getpriority(os.PRIO_PROCESS, 0)),
                       ("policy", lambda: os.sched_getscheduler(0)),
                       ("cpus", lambda: sorted(os.sched_getaffinity(0)))):
        try:
            parts.append(f"{name}={call()}")
        except (OSError, AttributeError):
            parts.append(f"{name}=-")
    return ";".join(parts)


def process_identity() -> str:
    """Digest of this process's uids, gids, groups, capabilities, seccomp, namespaces, cgroup,
    root directory, OOM score adjustment and scheduling (nice, policy, CPU affinity).

    Read from /proc/self (Linux, proc(5)); elsewhere from the uid/gid calls only.
    """
    parts = [f"{os.getuid()},{os.geteuid()},{os.getgid()},{os.getegid()}",
             ",".join(str(g) for g in sorted(os.getgroups()))]
    status = _read("/proc/self/status")
    parts += [line for line in status.splitlines() if line.startswith(_STATUS_FIELDS)]
    for name in _NAMESPACES:
        try:
            parts.append(os.readlink(f"/proc/self/ns/{name}"))
        except OSError:
            parts.append("-")
    parts.append(_read("/proc/self/cgroup"))
    parts.append(_read("/proc/self/oom_score_adj"))
    parts.append(_scheduling())
    parts.append(_read("/proc/self/attr/current"))
    try:
        root = os.stat("/")
        parts.append(f"{root.st_dev}:{root.st_ino}")
    except OSError:
        parts.append("-")
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()
