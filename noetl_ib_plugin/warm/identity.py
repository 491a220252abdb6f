"""What the kernel grants a process beyond its uid: a warm child must not hold more than its client.

A child forked from the warm server keeps the server's groups, capabilities, seccomp filters,
no_new_privs flag, namespaces, cgroup, root directory and security label. Only the same uid is
checked at connect time, so a client started with less (``setpriv --clear-groups``, dropped
capabilities, a sandbox, another cgroup or container) would get the server's privileges and a
different outcome than in its own process. Client and server each digest their own identity;
a job whose digest differs runs in process (the server stays for others). Standard library only.
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


def process_identity() -> str:
    """Digest of this process's uids, gids, groups, capabilities, seccomp, namespaces, cgroup and root.

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
    parts.append(_read("/proc/self/attr/current"))
    try:
        root = os.stat("/")
        parts.append(f"{root.st_dev}:{root.st_ino}")
    except OSError:
        parts.append("-")
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()
